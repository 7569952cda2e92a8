/**
 * Exact decimal arithmetic on strings and bigints. Exchange APIs speak decimal strings (or JSON
 * numbers kept as their source text); money here is integer cents and satoshis, so every
 * conversion is done on digits, never through a float.
 */

/** value = coef / 10^scale, scale >= 0. */
export type Decimal = { readonly coef: bigint; readonly scale: number };

export type Rounding = 'floor' | 'half-up' | 'exact';

const DECIMAL_TEXT = /^([+-]?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d{1,3}))?$/;
// Caps digits so a hostile payload cannot make us allocate huge bigints.
const MAX_DIGITS = 200;

const pow10 = (n: number): bigint => 10n ** BigInt(n);

/** Parses "123", "-0.5", "1.5e-8" exactly; returns null for anything else (including "", " 1", "1."). */
export function parseDecimal(text: string): Decimal | null {
  if (text.length > MAX_DIGITS) return null;
  const m = DECIMAL_TEXT.exec(text);
  if (!m) return null;
  const [, sign, whole, frac = '', exp = '0'] = m;
  let coef = BigInt(whole + frac);
  let scale = frac.length - Number(exp);
  if (scale < 0) {
    coef *= pow10(-scale);
    scale = 0;
  }
  return normalize({ coef: sign === '-' ? -coef : coef, scale });
}

/** Strips trailing zeros so equal values compare equal structurally. */
function normalize(d: Decimal): Decimal {
  let { coef, scale } = d;
  while (scale > 0 && coef % 10n === 0n) {
    coef /= 10n;
    scale -= 1;
  }
  return { coef, scale };
}

export function isDecimalText(text: string): boolean {
  return parseDecimal(text) !== null;
}

/** True for a plain non-negative decimal like "98765.43" (no sign, no exponent). */
export function isPlainNonNegativeDecimal(text: string): boolean {
  return /^(0|[1-9]\d*)(\.\d+)?$/.test(text) && text.length <= MAX_DIGITS;
}

/** Integer division with an explicit rounding rule (bigint `/` truncates toward zero). */
export function divRound(numer: bigint, denom: bigint, rounding: Rounding): bigint {
  if (denom === 0n) throw new RangeError('division by zero');
  if (denom < 0n) return divRound(-numer, -denom, rounding);
  const q = numer / denom;
  const r = numer % denom;
  if (r === 0n) return q;
  switch (rounding) {
    case 'exact':
      throw new RangeError('value is not a whole number of units');
    case 'floor':
      return r < 0n ? q - 1n : q;
    case 'half-up': {
      const twice = (r < 0n ? -r : r) * 2n;
      if (twice >= denom) return r < 0n ? q - 1n : q + 1n;
      return q;
    }
  }
}

/** Converts a decimal to integer units with `decimals` places: ("0.001", 8) → 100000n sats. */
export function decimalToUnits(value: Decimal, decimals: number, rounding: Rounding): bigint {
  if (value.scale <= decimals) return value.coef * pow10(decimals - value.scale);
  return divRound(value.coef, pow10(value.scale - decimals), rounding);
}

/** Text → integer units; throws RangeError on text that is not a decimal. */
export function textToUnits(text: string, decimals: number, rounding: Rounding): bigint {
  const d = parseDecimal(text);
  if (!d) throw new RangeError('not a decimal number');
  return decimalToUnits(d, decimals, rounding);
}

/** Integer units → fixed-point text: (100000n, 8) → "0.00100000". */
export function unitsToText(units: bigint, decimals: number): string {
  const neg = units < 0n;
  const abs = neg ? -units : units;
  if (decimals === 0) return `${neg ? '-' : ''}${abs}`;
  const base = pow10(decimals);
  return `${neg ? '-' : ''}${abs / base}.${(abs % base).toString().padStart(decimals, '0')}`;
}

export function multiply(a: Decimal, b: Decimal): Decimal {
  return normalize({ coef: a.coef * b.coef, scale: a.scale + b.scale });
}

export function compare(a: Decimal, b: Decimal): -1 | 0 | 1 {
  const scale = Math.max(a.scale, b.scale);
  const x = a.coef * pow10(scale - a.scale);
  const y = b.coef * pow10(scale - b.scale);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Renders a Decimal without exponent, e.g. {coef: 15, scale: 1} → "1.5". */
export function formatDecimal(d: Decimal): string {
  return unitsToText(d.coef, d.scale);
}

/** Average price in AUD per BTC, to the cent, from AUD cents spent and sats received. */
export function averagePriceAudPerBtc(spentAudCents: bigint, filledSats: bigint): string | null {
  if (filledSats <= 0n) return null;
  // cents * 1e8 / sats = price in cents per BTC.
  return unitsToText(divRound(spentAudCents * 100_000_000n, filledSats, 'half-up'), 2);
}

/** Satoshis bought for `audCents` at `priceAudPerBtc` (rounded down: never over-credit BTC). */
export function satsForAud(audCents: bigint, priceAudPerBtc: Decimal): bigint {
  if (priceAudPerBtc.coef <= 0n) throw new RangeError('price must be positive');
  // sats = cents/100 * 1e8 / (coef/10^scale) = cents * 1e6 * 10^scale / coef
  return divRound(audCents * 1_000_000n * pow10(priceAudPerBtc.scale), priceAudPerBtc.coef, 'floor');
}

/** Ceil(amount * bps / 10000) — fees round against us, never in our favour. */
export function bpsOf(amount: bigint, bps: number): bigint {
  if (!Number.isInteger(bps) || bps < 0) throw new RangeError('bps must be a non-negative integer');
  return -divRound(-amount * BigInt(bps), 10_000n, 'floor');
}
