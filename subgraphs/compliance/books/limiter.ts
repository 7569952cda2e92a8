import { BooksReason, booksError } from './errors';

/**
 * Client-side limits per provider key (a Xero organisation, a MYOB API key): at most N calls in
 * flight and at most `limit` calls in each sliding window. In-process now; the interface is what a
 * Redis-backed limiter (shared by every worker) will implement later.
 */

export type RateWindow = { limit: number; ms: number };
export type RateLimitPolicy = { concurrent: number; windows: RateWindow[] };

export type Permit = { release(): void };

/** What the provider said about its own counters after a call. */
export type RateObservation = {
  /** Calls left in the provider's window with this length (e.g. Xero's X-MinLimit-Remaining → 60 000 ms). */
  remaining?: Array<{ windowMs: number; remaining: number }>;
  /** The provider refused and said when to come back (HTTP Retry-After). */
  retryAfterMs?: number;
};

export type RateLimiter = {
  /** Waits for a slot; throws DAILY_LIMIT_REACHED (retryable, with retryAfterMs) when waiting would take longer than `maxWaitMs`. */
  acquire(key: string, opts?: { maxWaitMs?: number }): Promise<Permit>;
  observe(key: string, observation: RateObservation): void;
};

export type Clock = { now(): number; sleep(ms: number): Promise<void> };

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

type KeyState = {
  active: number;
  /** Each policy window with the start times of calls in it, oldest first. */
  windows: Array<{ ms: number; limit: number; starts: number[] }>;
  blockedUntil: number;
  waiters: Array<() => void>;
};

/** Xero per organisation: 5 in flight, 60 a minute, 5,000 a (rolling) day. */
export const XERO_ORGANISATION_LIMITS: RateLimitPolicy = {
  concurrent: 5,
  windows: [
    { limit: 60, ms: 60_000 },
    { limit: 5_000, ms: 86_400_000 },
  ],
};

/** MYOB per API key: 8 calls a second, 1,000,000 a day. */
export const MYOB_API_KEY_LIMITS: RateLimitPolicy = {
  concurrent: 8,
  windows: [
    { limit: 8, ms: 1_000 },
    { limit: 1_000_000, ms: 86_400_000 },
  ],
};

export class InMemoryRateLimiter implements RateLimiter {
  private readonly keys = new Map<string, KeyState>();

  constructor(
    private readonly policy: RateLimitPolicy,
    private readonly clock: Clock = systemClock,
    /** Waits longer than this are refused (the job is rescheduled instead of holding a worker). */
    private readonly defaultMaxWaitMs = 120_000,
  ) {
    if (policy.concurrent < 1 || policy.windows.some((w) => w.limit < 1 || w.ms < 1)) throw new Error('rate limit policy must be positive');
  }

  private state(key: string): KeyState {
    let s = this.keys.get(key);
    if (!s) {
      s = { active: 0, windows: this.policy.windows.map((w) => ({ ms: w.ms, limit: w.limit, starts: [] })), blockedUntil: 0, waiters: [] };
      this.keys.set(key, s);
    }
    return s;
  }

  async acquire(key: string, opts: { maxWaitMs?: number } = {}): Promise<Permit> {
    const s = this.state(key);
    const maxWait = opts.maxWaitMs ?? this.defaultMaxWaitMs;
    for (;;) {
      const now = this.clock.now();
      let waitUntil = s.blockedUntil;
      for (const w of s.windows) {
        while ((w.starts[0] ?? Infinity) <= now - w.ms) w.starts.shift();
        // The call that must leave the window before one more fits in it.
        const blocking = w.starts.length >= w.limit ? w.starts[w.starts.length - w.limit] : undefined;
        if (blocking !== undefined) waitUntil = Math.max(waitUntil, blocking + w.ms);
      }
      if (waitUntil > now) {
        if (waitUntil - now > maxWait) {
          throw booksError(BooksReason.DAILY_LIMIT_REACHED, 'the provider limit for this connection is spent for now', { retryAfterMs: waitUntil - now });
        }
        await this.clock.sleep(waitUntil - now);
        continue;
      }
      if (s.active >= this.policy.concurrent) {
        await new Promise<void>((resolve) => s.waiters.push(resolve));
        continue;
      }
      s.active += 1;
      for (const w of s.windows) w.starts.push(now);
      let released = false;
      return {
        release: () => {
          if (released) return;
          released = true;
          s.active -= 1;
          s.waiters.shift()?.();
        },
      };
    }
  }

  observe(key: string, o: RateObservation): void {
    const s = this.state(key);
    const now = this.clock.now();
    if (o.retryAfterMs !== undefined && o.retryAfterMs > 0) s.blockedUntil = Math.max(s.blockedUntil, now + o.retryAfterMs);
    for (const r of o.remaining ?? []) {
      // The provider's count wins when it is lower than ours (another process used the same quota).
      if (r.remaining > 0) continue;
      const w = s.windows.find((x) => x.ms === r.windowMs);
      if (w) s.blockedUntil = Math.max(s.blockedUntil, (w.starts[0] ?? now) + w.ms);
    }
  }
}

export type RetryPolicy = {
  /** Attempts in one call of the adapter, the first included. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** A Retry-After longer than this ends the call (retryable) instead of sleeping through it. */
  maxRetryAfterMs: number;
};

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 5, baseDelayMs: 500, maxDelayMs: 30_000, maxRetryAfterMs: 60_000 };

/** Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"). */
export function backoffDelayMs(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(cap / 2 + (random() * cap) / 2);
}

/** HTTP Retry-After: delta-seconds or an HTTP date. */
export function parseRetryAfterMs(value: string | null | undefined, nowMs: number): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}
