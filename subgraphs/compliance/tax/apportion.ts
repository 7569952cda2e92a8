/**
 * The kernel's one rounding rule for splitting an amount (a cost base, proceeds) by satoshis:
 * largest remainder (Hamilton). Each part gets floor(total × weight / Σweights); the cents left over
 * go one each to the parts with the largest remainders, ties to the earlier part. The parts always
 * sum exactly to the total, and each is within one cent of its exact share. For two parts
 * [taken, kept] this is "the taken part rounded half up, the kept part exactly the rest".
 */
export function apportion(total: bigint, weights: readonly bigint[]): bigint[] {
  if (weights.length === 0) throw new RangeError('apportion needs at least one weight');
  if (total < 0n) throw new RangeError('apportion of a negative total');
  let sum = 0n;
  for (const w of weights) {
    if (w < 0n) throw new RangeError('apportion by a negative weight');
    sum += w;
  }
  if (sum === 0n) throw new RangeError('apportion by zero total weight');
  const parts = weights.map((w) => (total * w) / sum);
  const remainders = weights.map((w, i) => ({ i, r: (total * w) % sum }));
  // Fewer cents are left than there are parts: each remainder is below one part's share of a cent.
  const left = total - parts.reduce((a, b) => a + b, 0n);
  remainders.sort((a, b) => (a.r === b.r ? a.i - b.i : a.r > b.r ? -1 : 1));
  const extra = new Set(remainders.slice(0, Number(left)).map(({ i }) => i));
  return parts.map((part, i) => (extra.has(i) ? part + 1n : part));
}

/** The i-th share of an `apportion` result: there is one per weight, so a miss is a caller's bug. */
export function shareAt(shares: readonly bigint[], i: number): bigint {
  const share = shares[i];
  if (share === undefined) throw new RangeError(`apportion gave ${shares.length} shares, share ${i} was asked for`);
  return share;
}

/** The share of `total` for `part` of `whole` under the same rule (the first of [part, whole − part]). */
export function shareOf(total: bigint, part: bigint, whole: bigint): bigint {
  if (part === whole) return total;
  return shareAt(apportion(total, [part, whole - part]), 0);
}
