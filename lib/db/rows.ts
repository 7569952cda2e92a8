/** Reading raw SQL results: a query that must yield a row and did not is a defect, reported by name. */

/** The first row, or a thrown Error naming the query that returned none. */
export function firstRow<T>(rows: readonly T[], what: string): T {
  const row = rows[0];
  if (row === undefined) throw new Error(`${what}: query returned no row`);
  return row;
}
