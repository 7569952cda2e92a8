/**
 * The retry schedule of a delivery: attempt 1 at once, then exponential (30 s doubling, capped at
 * 6 h) until 3 days after the first attempt; computable so the log can show when the next one runs.
 */
export const FIRST_RETRY_MS = 30_000;
export const MAX_RETRY_DELAY_MS = 6 * 60 * 60 * 1000;
export const RETRY_WINDOW_MS = 3 * 24 * 60 * 60 * 1000;

/** Delay before attempt `attempt + 1` after attempt `attempt` (1-based) failed. */
export function retryDelayMs(attempt: number): number {
  if (!Number.isInteger(attempt) || attempt < 1) throw new RangeError('attempt must be a positive integer');
  return Math.min(FIRST_RETRY_MS * 2 ** (attempt - 1), MAX_RETRY_DELAY_MS);
}

/** When attempt `attempt + 1` is due, or null when it would fall past the 3-day window from the first attempt. */
export function nextAttemptAt(firstAttemptAt: Date, attempt: number, now: Date): Date | null {
  const next = new Date(now.getTime() + retryDelayMs(attempt));
  return next.getTime() - firstAttemptAt.getTime() > RETRY_WINDOW_MS ? null : next;
}

/** The whole schedule from t0 when every attempt fails instantly: offsets (ms) of each attempt. */
export function retryOffsetsMs(): number[] {
  const offsets = [0];
  for (let a = 1; ; a++) {
    const next = offsets[a - 1]! + retryDelayMs(a);
    if (next > RETRY_WINDOW_MS) return offsets;
    offsets.push(next);
  }
}
