/**
 * Exact decimal arithmetic on price strings via scaled bigints.
 * Prices never pass through a JS number, so "95123.40" stays 9512340 cents-of-a-cent exactly.
 */

/** Default fixed scale (fractional digits) for parse/format: enough for fiat prices and satoshis. */
export const DECIMAL_SCALE = 8;

// Plain decimals plus JSON exponent form, since raw JSON number literals may use it.
const DECIMAL_RE = /^(-)?(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;
// Bounds the exponent so a hostile "1e999999999" cannot allocate a giant bigint.
const MAX_EXPONENT = 400;

/** An exact value: units × 10^-scale. */
type Exact = { units: bigint; scale: number };

function toExact(value: string): Exact {
  const m = DECIMAL_RE.exec(value);
  if (!m) throw new SyntaxError(`not a decimal string: ${JSON.stringify(value.slice(0, 40))}`);
  const [, sign, int, frac = '', expText] = m;
  const exp = expText === undefined ? 0 : Number(expText);
  if (!Number.isSafeInteger(exp) || Math.abs(exp) > MAX_EXPONENT) throw new RangeError(`exponent out of range: ${value}`);
  let units = BigInt(int + frac);
  let scale = frac.length - exp;
  if (scale < 0) {
    units *= 10n ** BigInt(-scale);
    scale = 0;
  }
  return { units: sign ? -units : units, scale };
}

function rescale(x: Exact, scale: number): bigint {
  return x.units * 10n ** BigInt(scale - x.scale);
}

function align(a: Exact, b: Exact): [bigint, bigint, number] {
  const scale = Math.max(a.scale, b.scale);
  return [rescale(a, scale), rescale(b, scale), scale];
}

function abs(n: bigint): bigint {
  return n < 0n ? -n : n;
}

/** True when `value` is a decimal string this module accepts (plain or exponent form). */
export function isDecimalString(value: unknown): value is string {
  return typeof value === 'string' && DECIMAL_RE.test(value);
}

/** "95123.4" → 9512340000000n at scale 8; throws rather than silently dropping digits beyond `scale`. */
export function parseDecimal(value: string, scale: number = DECIMAL_SCALE): bigint {
  const x = toExact(value);
  if (x.scale <= scale) return rescale(x, scale);
  const divisor = 10n ** BigInt(x.scale - scale);
  if (x.units % divisor !== 0n) throw new RangeError(`${value} has more than ${scale} fractional digits`);
  return x.units / divisor;
}

/** Scaled bigint → canonical decimal string; trailing fractional zeros are trimmed down to `minFractionDigits`. */
export function formatDecimal(units: bigint, scale: number = DECIMAL_SCALE, minFractionDigits = 0): string {
  const sign = units < 0n ? '-' : '';
  const digits = abs(units).toString().padStart(scale + 1, '0');
  const int = digits.slice(0, digits.length - scale);
  let frac = digits.slice(digits.length - scale);
  let end = frac.length;
  while (end > minFractionDigits && frac[end - 1] === '0') end--;
  frac = frac.slice(0, end);
  return `${sign}${int}${frac ? `.${frac}` : ''}`;
}

/** Rewrites exponent form ("9.5e4") as a plain decimal ("95000"); plain input is returned untouched, digits and all. */
export function toPlainDecimal(value: string): string {
  const m = DECIMAL_RE.exec(value);
  if (!m) throw new SyntaxError(`not a decimal string: ${JSON.stringify(value.slice(0, 40))}`);
  if (m[4] === undefined) return value;
  const x = toExact(value);
  return formatDecimal(x.units, x.scale);
}

/** Canonical form: no exponent, no leading zeros, no trailing fractional zeros ("095000.10" → "95000.1"). */
export function normalizeDecimal(value: string): string {
  const x = toExact(value);
  return formatDecimal(x.units, x.scale);
}

export function compareDecimal(a: string, b: string): -1 | 0 | 1 {
  const [x, y] = align(toExact(a), toExact(b));
  return x < y ? -1 : x > y ? 1 : 0;
}

export function isPositiveDecimal(value: unknown): value is string {
  return isDecimalString(value) && toExact(value).units > 0n;
}

/** Exact median in canonical form; the mean of the middle pair needs at most one extra digit, so no rounding. */
export function medianDecimal(values: readonly string[]): string {
  if (values.length === 0) throw new RangeError('median of an empty list');
  const exact = values.map(toExact);
  const scale = Math.max(...exact.map((x) => x.scale));
  const sorted = exact.map((x) => rescale(x, scale)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length % 2 === 1) return formatDecimal(sorted[mid], scale);
  // (a + b) / 2 == (a + b) × 5 / 10: exact at one more fractional digit.
  return formatDecimal((sorted[mid - 1] + sorted[mid]) * 5n, scale + 1);
}

/** |value − reference| / reference in basis points, floored; use exceedsDeviationBps for exact threshold checks. */
export function deviationBps(value: string, reference: string): bigint {
  const [v, r] = align(toExact(value), toExact(reference));
  if (r <= 0n) throw new RangeError('reference must be positive');
  return (abs(v - r) * 10_000n) / r;
}

/** Exactly: |value − reference| / reference > maxBps / 10 000 (cross-multiplied, no division). */
export function exceedsDeviationBps(value: string, reference: string, maxBps: number): boolean {
  if (!Number.isSafeInteger(maxBps) || maxBps < 0) throw new RangeError('maxBps must be a non-negative integer');
  const [v, r] = align(toExact(value), toExact(reference));
  if (r <= 0n) throw new RangeError('reference must be positive');
  return abs(v - r) * 10_000n > BigInt(maxBps) * r;
}

/** n / d rounded half to even (banker's rounding), d > 0. */
export function divRoundHalfEven(n: bigint, d: bigint): bigint {
  if (d <= 0n) throw new RangeError('divisor must be positive');
  const q = n / d;
  const r = n - q * d;
  const twice = abs(r) * 2n;
  if (twice < d || (twice === d && q % 2n === 0n)) return q;
  return n < 0n ? q - 1n : q + 1n;
}

/** a × b rounded half-even to `scale` digits, formatted with exactly `scale` fractional digits. */
export function multiplyDecimal(a: string, b: string, scale: number): string {
  const x = toExact(a);
  const y = toExact(b);
  const units = x.units * y.units;
  const productScale = x.scale + y.scale;
  const rounded =
    productScale <= scale ? units * 10n ** BigInt(scale - productScale) : divRoundHalfEven(units, 10n ** BigInt(productScale - scale));
  return formatDecimal(rounded, scale, scale);
}
