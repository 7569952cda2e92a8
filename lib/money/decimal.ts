/**
 * Exact decimal arithmetic on strings and bigints: the one implementation for prices, rates and
 * exchange amounts. A value is `coef / 10^scale`; text never passes through a JS number, so
 * "95123.40" stays exactly that and "0.002053467437821649" is not rounded through a double.
 */

/** value = coef / 10^scale, scale >= 0, normalised (no trailing fractional zeros). */
export type Decimal = { readonly coef: bigint; readonly scale: number };

/**
 * How a division that does not come out whole is rounded. `floor`/`ceil` go toward −∞/+∞,
 * `half-up` rounds halves away from zero, `half-even` to the even neighbour, `exact` refuses.
 */
export type Rounding = 'floor' | 'ceil' | 'half-up' | 'half-even' | 'exact';

/** Fractional digits parse/format default to in the price code: enough for fiat prices and satoshis. */
export const DECIMAL_SCALE = 8;

// Plain decimals plus JSON exponent form (raw JSON number literals may use it). No leading '+'.
const DECIMAL_TEXT = /^(-)?(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;
const PLAIN_NON_NEGATIVE = /^(0|[1-9]\d*)(\.\d+)?$/;
// Caps text length and exponent so a hostile payload ("1e999999999") cannot allocate a giant bigint.
const MAX_TEXT = 200;
const MAX_EXPONENT = 400;

const pow10 = (n: number): bigint => 10n ** BigInt(n);
const abs = (n: bigint): bigint => (n < 0n ? -n : n);
const show = (text: string): string => JSON.stringify(text.slice(0, 40));

/** Strips trailing zeros so equal values compare equal structurally. */
function normalize(coef: bigint, scale: number): Decimal {
  while (scale > 0 && coef % 10n === 0n) {
    coef /= 10n;
    scale -= 1;
  }
  return { coef, scale };
}

/** Parses "123", "-0.5", "1.5e-8" exactly; returns null for anything else (including "", " 1", "1.", "+1"). */
export function parseDecimal(text: string): Decimal | null {
  if (text.length > MAX_TEXT) return null;
  const m = DECIMAL_TEXT.exec(text);
  if (!m) return null;
  const [, sign, whole = '0', frac = '', expText] = m;
  const exp = expText === undefined ? 0 : Number(expText);
  if (!Number.isSafeInteger(exp) || Math.abs(exp) > MAX_EXPONENT) return null;
  let coef = BigInt(whole + frac);
  let scale = frac.length - exp;
  if (scale < 0) {
    coef *= pow10(-scale);
    scale = 0;
  }
  return normalize(sign ? -coef : coef, scale);
}

/** Like parseDecimal, but a SyntaxError naming the text instead of null. */
export function requireDecimal(text: string): Decimal {
  const d = parseDecimal(text);
  if (!d) throw new SyntaxError(`not a decimal number: ${show(text)}`);
  return d;
}

/** True when `value` is a decimal string this module accepts (plain or exponent form). */
export function isDecimalString(value: unknown): value is string {
  return typeof value === 'string' && parseDecimal(value) !== null;
}

/** True for a plain non-negative decimal like "98765.43" (no sign, no exponent, no leading zeros). */
export function isPlainNonNegativeDecimal(text: string): boolean {
  return text.length <= MAX_TEXT && PLAIN_NON_NEGATIVE.test(text);
}

export function isPositiveDecimal(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const d = parseDecimal(value);
  return d !== null && d.coef > 0n;
}

/** Integer division with an explicit rounding rule (bigint `/` truncates toward zero). */
export function divRound(numer: bigint, denom: bigint, rounding: Rounding): bigint {
  if (denom === 0n) throw new RangeError('division by zero');
  if (denom < 0n) return divRound(-numer, -denom, rounding);
  const q = numer / denom;
  const r = numer % denom;
  if (r === 0n) return q;
  const away = r < 0n ? q - 1n : q + 1n;
  switch (rounding) {
    case 'exact':
      throw new RangeError('value is not a whole number of units');
    case 'floor':
      return r < 0n ? q - 1n : q;
    case 'ceil':
      return r > 0n ? q + 1n : q;
    case 'half-up':
      return abs(r) * 2n >= denom ? away : q;
    case 'half-even': {
      const twice = abs(r) * 2n;
      if (twice < denom || (twice === denom && q % 2n === 0n)) return q;
      return away;
    }
  }
}

/** n / d rounded half to even (banker's rounding), d > 0. */
export function divRoundHalfEven(n: bigint, d: bigint): bigint {
  if (d <= 0n) throw new RangeError('divisor must be positive');
  return divRound(n, d, 'half-even');
}

/** Converts a decimal to integer units with `decimals` places: ("0.001", 8) → 100000n sats. */
export function decimalToUnits(value: Decimal, decimals: number, rounding: Rounding): bigint {
  if (value.scale <= decimals) return value.coef * pow10(decimals - value.scale);
  return divRound(value.coef, pow10(value.scale - decimals), rounding);
}

/** Text → integer units at `decimals` places; SyntaxError on text that is not a decimal, RangeError when not whole (`exact`). */
export function textToUnits(text: string, decimals: number, rounding: Rounding): bigint {
  const d = requireDecimal(text);
  try {
    return decimalToUnits(d, decimals, rounding);
  } catch (err) {
    if (err instanceof RangeError && rounding === 'exact') throw new RangeError(`${show(text)} has more than ${decimals} fractional digits`);
    throw err;
  }
}

/** Integer units → decimal text, trailing fractional zeros trimmed down to `minFractionDigits`: (150n, 2) → "1.5". */
export function formatUnits(units: bigint, scale: number, minFractionDigits = 0): string {
  const sign = units < 0n ? '-' : '';
  const digits = abs(units).toString().padStart(scale + 1, '0');
  const int = digits.slice(0, digits.length - scale);
  let end = scale;
  const frac = digits.slice(digits.length - scale);
  while (end > minFractionDigits && frac[end - 1] === '0') end--;
  return `${sign}${int}${end > 0 ? `.${frac.slice(0, end)}` : ''}`;
}

/** Integer units → fixed-point text with exactly `decimals` digits: (100000n, 8) → "0.00100000". */
export function unitsToText(units: bigint, decimals: number): string {
  return formatUnits(units, decimals, decimals);
}

/** Renders a Decimal without exponent, e.g. {coef: 15, scale: 1} → "1.5". */
export function formatDecimal(d: Decimal): string {
  return formatUnits(d.coef, d.scale);
}

/** Rewrites exponent form ("9.5e4") as a plain decimal ("95000"); plain input is returned untouched, digits and all. */
export function toPlainDecimal(value: string): string {
  const d = requireDecimal(value);
  return /[eE]/.test(value) ? formatDecimal(d) : value;
}

/** Canonical form: no exponent, no leading zeros, no trailing fractional zeros ("095000.10" → "95000.1"). */
export function normalizeDecimal(value: string): string {
  return formatDecimal(requireDecimal(value));
}

export function multiply(a: Decimal, b: Decimal): Decimal {
  return normalize(a.coef * b.coef, a.scale + b.scale);
}

export function add(a: Decimal, b: Decimal): Decimal {
  const [x, y, scale] = align(a, b);
  return normalize(x + y, scale);
}

export function subtract(a: Decimal, b: Decimal): Decimal {
  const [x, y, scale] = align(a, b);
  return normalize(x - y, scale);
}

function align(a: Decimal, b: Decimal): [bigint, bigint, number] {
  const scale = Math.max(a.scale, b.scale);
  return [a.coef * pow10(scale - a.scale), b.coef * pow10(scale - b.scale), scale];
}

export function compare(a: Decimal, b: Decimal): -1 | 0 | 1 {
  const [x, y] = align(a, b);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function compareDecimal(a: string, b: string): -1 | 0 | 1 {
  return compare(requireDecimal(a), requireDecimal(b));
}

/** a × b rounded (half-even by default) to `scale` digits, formatted with exactly `scale` fractional digits. */
export function multiplyDecimal(a: string, b: string, scale: number, rounding: Rounding = 'half-even'): string {
  return unitsToText(decimalToUnits(multiply(requireDecimal(a), requireDecimal(b)), scale, rounding), scale);
}

/** Exact median in canonical form; the mean of the middle pair needs at most one extra digit, so no rounding. */
export function medianDecimal(values: readonly string[]): string {
  if (values.length === 0) throw new RangeError('median of an empty list');
  const exact = values.map(requireDecimal);
  const scale = Math.max(...exact.map((x) => x.scale));
  const sorted = exact.map((x) => x.coef * pow10(scale - x.scale)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const mid = Math.floor(sorted.length / 2);
  const at = (i: number): bigint => sorted[i] ?? 0n;
  if (sorted.length % 2 === 1) return formatUnits(at(mid), scale);
  // (a + b) / 2 == (a + b) × 5 / 10: exact at one more fractional digit.
  return formatUnits((at(mid - 1) + at(mid)) * 5n, scale + 1);
}

/** |value − reference| / reference in basis points, floored; use exceedsDeviationBps for exact threshold checks. */
export function deviationBps(value: string, reference: string): bigint {
  const [v, r] = align(requireDecimal(value), requireDecimal(reference));
  if (r <= 0n) throw new RangeError('reference must be positive');
  return (abs(v - r) * BPS) / r;
}

/** Exactly: |value − reference| / reference > maxBps / 10 000 (cross-multiplied, no division). */
export function exceedsDeviationBps(value: string, reference: string, maxBps: number): boolean {
  if (!Number.isSafeInteger(maxBps) || maxBps < 0) throw new RangeError('maxBps must be a non-negative integer');
  const [v, r] = align(requireDecimal(value), requireDecimal(reference));
  if (r <= 0n) throw new RangeError('reference must be positive');
  return abs(v - r) * BPS > BigInt(maxBps) * r;
}

/** Basis points in one: 10 000. */
export const BPS = 10_000n;
