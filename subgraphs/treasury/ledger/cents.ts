import { E4 } from './accrual-ledger';

/** AUD cents x 10,000 as an exact decimal number of cents ("1234.5", "0.0001"). */
export function e4ToCentsDecimal(e4: bigint): string {
  const sign = e4 < 0n ? '-' : '';
  const abs = e4 < 0n ? -e4 : e4;
  const frac = (abs % E4).toString().padStart(4, '0').replace(/0+$/, '');
  return `${sign}${abs / E4}${frac ? `.${frac}` : ''}`;
}

/**
 * Whole cents for shares given in cents x 10,000 (all >= 0), summing exactly to the floor of their
 * total: each gets its floor, and the cents left over go to the largest remainders (ties: first).
 */
export function apportionWholeCents(sharesE4: readonly bigint[]): bigint[] {
  const total = sharesE4.reduce((a, b) => a + b, 0n) / E4;
  const out = sharesE4.map((e) => e / E4);
  let left = total - out.reduce((a, b) => a + b, 0n);
  const order = sharesE4.map((e, i) => ({ i, rem: e % E4 })).sort((a, b) => (a.rem === b.rem ? a.i - b.i : a.rem > b.rem ? -1 : 1));
  for (const { i } of order) {
    if (left <= 0n) break;
    out[i] = (out[i] ?? 0n) + 1n;
    left -= 1n;
  }
  return out;
}
