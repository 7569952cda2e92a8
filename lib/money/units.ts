/**
 * Branded money units. At run time each is a bare bigint (or string); the brand stops a
 * satoshi count from being passed where cents are expected, and only the constructors below
 * (which validate) or the named conversions make one.
 */
import { BPS, decimalToUnits, divRound, formatUnits, requireDecimal, unitsToText, type Decimal, type Rounding } from './decimal';

declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

/** Australian dollars in integer cents. */
export type AudCents = Brand<bigint, 'AudCents'>;
/** Bitcoin in integer satoshis. */
export type Sats = Brand<bigint, 'Sats'>;
/** AUD cents × 10⁴: the treasury ledger's unit, so a percentage share of a payment is exact. */
export type CentsE4 = Brand<bigint, 'CentsE4'>;
/** A plain decimal string ("95123.40"): no exponent, no sign other than a leading '-'. */
export type DecimalString = Brand<string, 'DecimalString'>;

export const SATS_PER_BTC = 100_000_000n;
export const CENTS_PER_AUD = 100n;
/** Cents → cents × 10⁴. */
export const E4 = 10_000n;
/** Postgres bigint bounds: anything larger cannot be stored and is refused at the edge. */
export const MAX_BIGINT = 9_223_372_036_854_775_807n;

const INTEGER = /^-?(0|[1-9]\d*)$/;
const PLAIN_DECIMAL = /^-?(0|[1-9]\d*)(\.\d+)?$/;

function integer(what: string, value: bigint | number | string): bigint {
  let n: bigint;
  if (typeof value === 'bigint') n = value;
  else if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new RangeError(`${what} must be a whole number, got ${value}`);
    n = BigInt(value);
  } else {
    if (!INTEGER.test(value)) throw new RangeError(`${what} must be a whole number, got ${JSON.stringify(value.slice(0, 40))}`);
    n = BigInt(value);
  }
  if (n > MAX_BIGINT || n < -MAX_BIGINT) throw new RangeError(`${what} is out of range`);
  return n;
}

/** Cents from a bigint, a safe integer or an integer string ("1250"); RangeError otherwise. */
export const cents = (value: bigint | number | string): AudCents => integer('AUD cents', value) as AudCents;
/** Satoshis from a bigint, a safe integer or an integer string; RangeError otherwise. */
export const sats = (value: bigint | number | string): Sats => integer('satoshis', value) as Sats;
/** Cents × 10⁴ from a bigint or an integer string (a ledger row's `amount_e4`). */
export const centsE4 = (value: bigint | number | string): CentsE4 => integer('AUD cents×10⁴', value) as CentsE4;

/** A plain decimal string, validated ("95123.40" yes; "9.5e4", "1.", " 1", "+1" no). */
export function decimalString(text: string): DecimalString {
  if (text.length > 200 || !PLAIN_DECIMAL.test(text)) throw new RangeError(`not a plain decimal string: ${JSON.stringify(text.slice(0, 40))}`);
  return text as DecimalString;
}

/** A price as a Decimal, from text or an already parsed Decimal; it must be positive. */
function positivePrice(price: Decimal | string): Decimal {
  const d = typeof price === 'string' ? requireDecimal(price) : price;
  if (d.coef <= 0n) throw new RangeError('price must be positive');
  return d;
}

// ---------------------------------------------------------------------------------------------
// Named roundings: each says which way it rounds and why.
// ---------------------------------------------------------------------------------------------

/** Satoshis bought for `audCents` at `priceAudPerBtc`, rounded DOWN: never over-credit BTC. */
export function floorSats(audCents: bigint, priceAudPerBtc: Decimal | string): Sats {
  const p = positivePrice(priceAudPerBtc);
  // sats = cents/100 × 1e8 / (coef/10^scale) = cents × 1e6 × 10^scale / coef
  return divRound(audCents * 1_000_000n * 10n ** BigInt(p.scale), p.coef, 'floor') as Sats;
}

/** AUD cents that `sats` are worth at `priceAudPerBtc`, with an explicit rounding (floor when paying out). */
export function centsForSats(satoshis: bigint, priceAudPerBtc: Decimal | string, rounding: Rounding): AudCents {
  const p = typeof priceAudPerBtc === 'string' ? requireDecimal(priceAudPerBtc) : priceAudPerBtc;
  if (p.coef < 0n) throw new RangeError('price must not be negative');
  // cents = sats/1e8 × coef/10^scale × 100 = sats × coef / (1e6 × 10^scale)
  return divRound(satoshis * p.coef, 1_000_000n * 10n ** BigInt(p.scale), rounding) as AudCents;
}

/** `bps` basis points of `amount` (any unit), rounded UP. */
export function ceilBps(amount: bigint, bps: number | bigint): bigint {
  if (typeof bps === 'number' ? !Number.isInteger(bps) || bps < 0 : bps < 0n) throw new RangeError('bps must be a non-negative integer');
  return divRound(amount * BigInt(bps), BPS, 'ceil');
}

/** A fee of `bps` basis points on `audCents`, rounded UP: fees round against us, never in our favour. */
export const ceilFeeCents = (audCents: bigint, bps: number | bigint): AudCents => ceilBps(audCents, bps) as AudCents;

/** A display string with `decimals` fraction digits, rounded half up (away from zero) — for people, not ledgers. */
export function halfUpDisplay(value: Decimal | string, decimals: number): string {
  const d = typeof value === 'string' ? requireDecimal(value) : value;
  return unitsToText(decimalToUnits(d, decimals, 'half-up'), decimals);
}

/** Cents → cents × 10⁴: exact, no rounding needed. */
export const centsToE4 = (c: bigint): CentsE4 => (c * E4) as CentsE4;

/** Cents × 10⁴ → whole cents with an explicit rounding (`floor` for what may be spent, `exact` to assert). */
export const e4ToCents = (e4: bigint, rounding: Rounding): AudCents => divRound(e4, E4, rounding) as AudCents;

/** Cents × 10⁴ as an exact decimal number of cents ("1234.5"): no rounding at all. */
export const e4ToCentsText = (e4: bigint): string => formatUnits(e4, 4);

/** Average price in AUD per BTC, to the cent (half up), from AUD cents spent and sats received; null with no sats. */
export function averagePriceAudPerBtc(spentAudCents: bigint, filledSats: bigint): string | null {
  if (filledSats <= 0n) return null;
  // cents × 1e8 / sats = price in cents per BTC.
  return unitsToText(divRound(spentAudCents * SATS_PER_BTC, filledSats, 'half-up'), 2);
}

/**
 * Splits `total` into parts proportional to `weights` (largest remainder, ties to the earlier
 * part): the parts always sum to `total`, and each is within one unit of its exact share.
 */
export function allocate(total: bigint, weights: readonly bigint[]): bigint[] {
  if (weights.length === 0) throw new RangeError('allocate needs at least one weight');
  if (weights.some((w) => w < 0n)) throw new RangeError('weights must not be negative');
  const sum = weights.reduce((a, b) => a + b, 0n);
  if (sum === 0n) throw new RangeError('weights must not all be zero');
  const sign = total < 0n ? -1n : 1n;
  const whole = total * sign;
  const parts = weights.map((w) => (whole * w) / sum);
  let left = whole - parts.reduce((a, b) => a + b, 0n);
  const order = weights
    .map((w, i) => ({ i, rem: (whole * w) % sum }))
    .sort((a, b) => (a.rem === b.rem ? a.i - b.i : a.rem > b.rem ? -1 : 1));
  for (const { i } of order) {
    if (left === 0n) break;
    parts[i] = (parts[i] ?? 0n) + 1n;
    left -= 1n;
  }
  return parts.map((p) => p * sign);
}
