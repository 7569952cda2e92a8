import { TaxErrorReason, badTaxInput } from './tax-errors';

/** Runtime guards for bigint amounts and exact text → bigint conversions (no float ever touches them). */

const MAX = 9_223_372_036_854_775_807n; // Postgres bigint

function guard(v: unknown, field: string, unit: 'sats' | 'cents', positive: boolean): bigint {
  if (typeof v !== 'bigint') {
    if (typeof v === 'number' && Number.isFinite(v) && !Number.isInteger(v)) {
      throw badTaxInput(unit === 'sats' ? TaxErrorReason.FRACTIONAL_SATS : TaxErrorReason.FRACTIONAL_CENTS, `${field} must be a whole number of ${unit}`, {
        field,
      });
    }
    throw badTaxInput(TaxErrorReason.INVALID_AMOUNT, `${field} must be a bigint number of ${unit}`, { field });
  }
  if (v < 0n) {
    throw badTaxInput(unit === 'sats' ? TaxErrorReason.NEGATIVE_SATS : TaxErrorReason.NEGATIVE_AMOUNT, `${field} must not be negative`, {
      field,
      value: v.toString(),
    });
  }
  if (positive && v === 0n) throw badTaxInput(TaxErrorReason.ZERO_SATS, `${field} must be more than zero`, { field });
  if (v > MAX) throw badTaxInput(TaxErrorReason.INVALID_AMOUNT, `${field} is out of range`, { field });
  return v;
}

export const assertPositiveSats = (v: unknown, field: string): bigint => guard(v, field, 'sats', true);
export const assertSats = (v: unknown, field: string): bigint => guard(v, field, 'sats', false);
export const assertCents = (v: unknown, field: string): bigint => guard(v, field, 'cents', false);

const DECIMAL = /^(\d+)(?:\.(\d+))?$/;

/**
 * Exact decimal text to an integer count of 10^-scale units: "12.30" at scale 2 → 1230n. Digits
 * past `scale` are allowed only when they are zeros ("12.300"); anything else is fractional.
 */
function exact(text: string, scale: number, field: string, unit: 'sats' | 'cents'): bigint {
  const t = text.trim();
  if (t.startsWith('-')) {
    const neg = DECIMAL.test(t.slice(1));
    throw badTaxInput(
      neg ? (unit === 'sats' ? TaxErrorReason.NEGATIVE_SATS : TaxErrorReason.NEGATIVE_AMOUNT) : TaxErrorReason.INVALID_AMOUNT,
      neg ? `${field} must not be negative` : `${field} is not a number`,
      { field },
    );
  }
  const m = DECIMAL.exec(t);
  if (!m || t.length > 40) throw badTaxInput(TaxErrorReason.INVALID_AMOUNT, `${field} must be a plain decimal number like "12.34"`, { field });
  const [, whole, frac = ''] = m;
  if (whole === undefined) throw badTaxInput(TaxErrorReason.INVALID_AMOUNT, `${field} must be a plain decimal number like "12.34"`, { field });
  if (/[1-9]/.test(frac.slice(scale))) {
    throw badTaxInput(
      unit === 'sats' ? TaxErrorReason.FRACTIONAL_SATS : TaxErrorReason.FRACTIONAL_CENTS,
      `${field} has a fraction of a ${unit === 'sats' ? 'satoshi' : 'cent'}`,
      { field },
    );
  }
  const value = BigInt(whole) * 10n ** BigInt(scale) + BigInt(frac.slice(0, scale).padEnd(scale, '0') || '0');
  if (value > MAX) throw badTaxInput(TaxErrorReason.INVALID_AMOUNT, `${field} is out of range`, { field });
  return value;
}

/** "150000" or "150000.0" sats → 150000n; "1.5" sats is FRACTIONAL_SATS. */
export const parseSatsText = (text: string, field = 'sats'): bigint => exact(text, 0, field, 'sats');
/** "0.0015" BTC → 150000n sats (at most 8 decimal places that are not zero). */
export const parseBtcText = (text: string, field = 'btc'): bigint => exact(text, 8, field, 'sats');
/** "12.34" AUD → 1234n cents. */
export const parseAudText = (text: string, field = 'aud'): bigint => exact(text, 2, field, 'cents');
/** "1234" or "1234.00" cents → 1234n. */
export const parseCentsText = (text: string, field = 'cents'): bigint => exact(text, 0, field, 'cents');
