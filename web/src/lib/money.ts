/**
 * Money on screen, exactly: the API sends AUD cents, satoshis and prices as strings; everything
 * here is string and bigint arithmetic, never a float.
 */

const INTEGER = /^-?\d+$/;
const DECIMAL = /^-?\d+(\.\d+)?$/;
const SATS_PER_BTC = 100_000_000n;

const group = (digits: string): string => digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');

function toBigInt(value: string | bigint, what: string): bigint {
  if (typeof value === 'bigint') return value;
  if (!INTEGER.test(value)) throw new Error(`${what} is not an integer string: ${value}`);
  return BigInt(value);
}

/** "123456" cents → "$1,234.56"; negative → "−$12.34" (a true minus sign). */
export function formatAud(cents: string | bigint, opts: { signed?: boolean } = {}): string {
  const c = toBigInt(cents, 'AUD cents');
  const neg = c < 0n;
  const abs = neg ? -c : c;
  const dollars = group((abs / 100n).toString());
  const rest = (abs % 100n).toString().padStart(2, '0');
  const sign = neg ? '−' : opts.signed && c > 0n ? '+' : '';
  return `${sign}$${dollars}.${rest}`;
}

/**
 * An amount in a currency's minor units as the processor reported it ("123456", "USD" → "USD 1,234.56";
 * "1500", "JPY" → "JPY 1,500"): the currency's own decimal places (ISO 4217, from Intl), never converted.
 */
export function formatMinorUnits(amount: string | bigint, currency: string): string {
  if (currency.toUpperCase() === 'AUD') return formatAud(amount);
  const v = toBigInt(amount, `${currency} minor units`);
  let places = 2;
  try {
    places = new Intl.NumberFormat('en-AU', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
  } catch {
    // Not an ISO 4217 code Intl knows: two places, as most currencies have.
  }
  const neg = v < 0n;
  const abs = neg ? -v : v;
  const unit = 10n ** BigInt(places);
  const whole = group((abs / unit).toString());
  const frac = places > 0 ? `.${(abs % unit).toString().padStart(places, '0')}` : '';
  return `${neg ? '−' : ''}${currency.toUpperCase()} ${whole}${frac}`;
}

/** "1234567" → "1,234,567 sats". */
export const formatSats = (sats: string | bigint): string => `${group(toBigInt(sats, 'satoshis').toString())} sats`;

/** "1234567" → "0.01234567 BTC" (all eight places: a satoshi is the unit). */
export function formatBtc(sats: string | bigint): string {
  const s = toBigInt(sats, 'satoshis');
  const neg = s < 0n;
  const abs = neg ? -s : s;
  return `${neg ? '−' : ''}${group((abs / SATS_PER_BTC).toString())}.${(abs % SATS_PER_BTC).toString().padStart(8, '0')} BTC`;
}

/** An exact decimal string in cents, rounded half away from zero ("152345.675" → 15234568n). */
export function decimalToCents(decimal: string): bigint {
  if (!DECIMAL.test(decimal)) throw new Error(`not a decimal: ${decimal}`);
  const neg = decimal.startsWith('-');
  // DECIMAL has checked the shape: split always yields the whole part.
  const [whole = '0', frac = ''] = (neg ? decimal.slice(1) : decimal).split('.');
  const padded = (frac + '000').slice(0, 3);
  let cents = BigInt(whole) * 100n + BigInt(padded.slice(0, 2));
  if (Number(padded[2]) >= 5) cents += 1n;
  return neg ? -cents : cents;
}

/** A price such as "152345.67" → "$152,345.67". */
export const formatPrice = (decimal: string): string => formatAud(decimalToCents(decimal));

/** What `sats` are worth at `priceDecimal` AUD per BTC, in cents (rounded down, as a valuation). */
export function valueOfSats(sats: string | bigint, priceDecimal: string): bigint {
  return (toBigInt(sats, 'satoshis') * decimalToCents(priceDecimal)) / SATS_PER_BTC;
}

/** How many sats `cents` buys at `priceCents` per BTC (rounded down, as an exchange fills). */
export function satsForCents(cents: bigint, priceCents: bigint): bigint {
  return priceCents > 0n ? (cents * SATS_PER_BTC) / priceCents : 0n;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** "12.5" / "$1,250.00" / "1250" dollars typed by a person → cents as a string; at most 2 decimals. */
export function parseAudInput(text: string): Parsed<string> {
  const t = text.trim().replace(/^\$/, '').replace(/,/g, '');
  if (t === '') return { ok: false, error: 'Enter an amount in dollars, e.g. 25.00' };
  const m = /^(\d{1,12})(?:\.(\d{0,2}))?$/.exec(t);
  if (!m) {
    if (/^\d+\.\d{3,}$/.test(t)) return { ok: false, error: 'Use at most two decimal places (whole cents)' };
    if (t.startsWith('-')) return { ok: false, error: 'The amount cannot be negative' };
    return { ok: false, error: 'Enter a number of dollars, e.g. 25.00' };
  }
  const [, dollars = '0', fraction = ''] = m;
  const cents = BigInt(dollars) * 100n + BigInt(fraction.padEnd(2, '0'));
  return { ok: true, value: cents.toString() };
}

/** Cents as a form field shows them: "1250" → "12.50". */
export function centsToInput(cents: string | null | undefined): string {
  if (cents === null || cents === undefined) return '';
  return formatAud(cents).replace(/[$,]/g, '');
}

/** Basis points as a percentage: 1000 → "10%", 250 → "2.5%", 1 → "0.01%". */
export function formatBps(bps: number): string {
  const whole = Math.trunc(bps / 100);
  const frac = (bps % 100).toString().padStart(2, '0').replace(/0+$/, '');
  return `${whole}${frac ? '.' + frac : ''}%`;
}

/** "2.5" (percent, up to two decimals) → 250 basis points. */
export function parsePercentInput(text: string): Parsed<number> {
  const m = /^(\d{1,3})(?:\.(\d{0,2}))?$/.exec(text.trim().replace(/%$/, ''));
  if (!m) return { ok: false, error: 'Enter a percentage with at most two decimals, e.g. 2.5' };
  return { ok: true, value: Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0')) };
}

/** cents × bps / 10 000, rounded down (the share of a payment a percentage rule accrues). */
export const shareOfCents = (cents: bigint, bps: number): bigint => (cents * BigInt(bps)) / 10_000n;

/** A signed sum of cent strings. */
export const sumCents = (values: (string | bigint | null | undefined)[]): bigint =>
  values.reduce<bigint>((acc, v) => (v === null || v === undefined ? acc : acc + toBigInt(v, 'AUD cents')), 0n);
