/** Test helpers for indexed access under noUncheckedIndexedAccess: a missing element fails the test by name. */

/** The value, or a thrown Error saying what was missing. */
export function present<T>(value: T | undefined | null, what: string): T {
  if (value === undefined || value === null) throw new Error(`expected ${what} to be present`);
  return value;
}

/** The element at index i (negative counts from the end), or a thrown Error naming the index. */
export function at<T>(items: { readonly length: number; at(index: number): T | undefined }, i: number, what = 'list'): T {
  const value = items.at(i);
  if (value === undefined) throw new Error(`expected ${what} to have an element at ${i} (length ${items.length})`);
  return value;
}

/** The single element of a list (a query expected to match one row), or a thrown Error naming the count. */
export function only<T>(items: readonly T[], what = 'list'): T {
  const [value] = items;
  if (items.length !== 1 || value === undefined) throw new Error(`expected ${what} to have exactly one element (got ${items.length})`);
  return value;
}
