import { malformed, type WebhookProvider } from './errors';

/** Anything above this (AUD 100 billion) is a bug or an attack, not a small business's sale. */
export const MAX_MINOR_UNITS = 10n ** 13n;

/** ISO 4217 minor-unit exponents that are not 2; everything else has cents. */
const EXPONENT: Record<string, number> = {
  BIF: 0, CLP: 0, DJF: 0, GNF: 0, ISK: 0, JPY: 0, KMF: 0, KRW: 0, PYG: 0, RWF: 0,
  UGX: 0, UYI: 0, VND: 0, VUV: 0, XAF: 0, XOF: 0, XPF: 0,
  BHD: 3, IQD: 3, JOD: 3, KWD: 3, LYD: 3, OMR: 3, TND: 3,
};

export function currencyExponent(currency: string): number {
  return EXPONENT[currency] ?? 2;
}

/** "aud" → "AUD"; anything that is not three letters is refused rather than guessed at. */
export function normalizeCurrency(provider: WebhookProvider, value: unknown, field: string): string {
  if (typeof value !== 'string' || !/^[A-Za-z]{3}$/.test(value)) {
    throw malformed(provider, `${field} must be a three-letter ISO currency code`);
  }
  return value.toUpperCase();
}

function checkRange(provider: WebhookProvider, n: bigint, field: string): bigint {
  if (n < 0n) throw malformed(provider, `${field} must not be negative`);
  if (n > MAX_MINOR_UNITS) throw malformed(provider, `${field} is implausibly large`);
  return n;
}

/**
 * An integer amount already in minor units (Stripe, Square). JSON numbers above 2^53 have already
 * lost precision in JSON.parse, but the 10^13 ceiling sits far below that, so anything accepted is exact.
 * Zero is returned as 0n: callers decide whether a zero event is worth acting on.
 */
export function parseMinorUnits(provider: WebhookProvider, value: unknown, field: string): bigint {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw malformed(provider, `${field} must be a whole number of minor units`);
    if (!Number.isSafeInteger(value)) {
      throw malformed(provider, value < 0 ? `${field} must not be negative` : `${field} is implausibly large`);
    }
    return checkRange(provider, BigInt(value), field);
  }
  if (typeof value === 'string' && /^-?\d+$/.test(value)) {
    if (value.length > 20) throw malformed(provider, `${field} is implausibly large`);
    return checkRange(provider, BigInt(value), field);
  }
  throw malformed(provider, `${field} must be a whole number of minor units`);
}

/**
 * A decimal major-unit string (PayPal's "12.34") → minor units, exactly: no floats, no rounding.
 * More fraction digits than the currency has ("1.005" AUD) is refused, fewer are padded ("12.5" → 1250).
 */
export function decimalToMinorUnits(provider: WebhookProvider, value: unknown, currency: string, field: string): bigint {
  if (typeof value !== 'string') throw malformed(provider, `${field} must be a decimal string`);
  if (/^-/.test(value)) throw malformed(provider, `${field} must not be negative`);
  const [, whole, frac = ''] = /^(0|[1-9]\d*)(?:\.(\d+))?$/.exec(value) ?? [];
  if (whole === undefined) throw malformed(provider, `${field} must be a plain decimal like "12.34"`);
  const exponent = currencyExponent(currency);
  // Trailing zeros beyond the exponent ("10.000" AUD) are still exact; any other digit is a fractional minor unit.
  const significant = frac.replace(/0+$/, '');
  if (significant.length > exponent) throw malformed(provider, `${field} has fractions of a minor unit`);
  if (whole.length > 20) throw malformed(provider, `${field} is implausibly large`);
  const minor = BigInt(whole) * 10n ** BigInt(exponent) + BigInt(significant.padEnd(exponent, '0') || '0');
  return checkRange(provider, minor, field);
}

/** The dates a payment event can carry; JavaScript reads year 0000, which PostgreSQL refuses (a 500 on insert). */
const EARLIEST = Date.UTC(1970, 0, 1);
const LATEST = Date.UTC(10000, 0, 1);

/** Parses an ISO-8601 timestamp or epoch seconds into a Date, refusing anything unparseable or outside 1970–9999. */
export function parseTimestamp(provider: WebhookProvider, value: unknown, field: string): Date {
  let date: Date | undefined;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) date = new Date(value * 1000);
  if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(value)) date = new Date(value);
  const ms = date?.getTime() ?? Number.NaN;
  if (!date || Number.isNaN(ms)) throw malformed(provider, `${field} must be a timestamp`);
  if (ms < EARLIEST || ms >= LATEST) throw malformed(provider, `${field} must be between 1970 and 9999`);
  return date;
}
