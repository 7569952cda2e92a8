import { booksReasonOf } from './errors';
import { InMemoryRateLimiter, backoffDelayMs, parseRetryAfterMs, type Clock } from './limiter';

/** A clock whose sleep moves time forward at once: waits are asserted by what they asked for. */
function manualClock(start = 1_000_000): Clock & { slept: number[] } {
  let t = start;
  const slept: number[] = [];
  return {
    slept,
    now: () => t,
    sleep: (ms) => {
      slept.push(ms);
      t += ms;
      return Promise.resolve();
    },
  };
}

describe('InMemoryRateLimiter', () => {
  it('lets `limit` calls through per window and makes the next wait until the oldest leaves it', async () => {
    const clock = manualClock();
    const limiter = new InMemoryRateLimiter({ concurrent: 10, windows: [{ limit: 3, ms: 60_000 }] }, clock);
    for (let i = 0; i < 3; i++) (await limiter.acquire('org')).release();
    expect(clock.slept).toEqual([]);
    (await limiter.acquire('org')).release();
    expect(clock.slept).toEqual([60_000]);
    // Another organisation has its own budget.
    (await limiter.acquire('other')).release();
    expect(clock.slept).toEqual([60_000]);
  });

  it('never has more than `concurrent` permits out for one key', async () => {
    const limiter = new InMemoryRateLimiter({ concurrent: 2, windows: [{ limit: 100, ms: 1000 }] }, manualClock());
    let inFlight = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 7 }, async () => {
        const p = await limiter.acquire('org');
        inFlight += 1;
        peak = Math.max(peak, inFlight);
        await new Promise((r) => setImmediate(r));
        inFlight -= 1;
        p.release();
      }),
    );
    expect(peak).toBe(2);
  });

  it('holds every caller of a key back for a Retry-After the provider sent', async () => {
    const clock = manualClock();
    const limiter = new InMemoryRateLimiter({ concurrent: 5, windows: [{ limit: 60, ms: 60_000 }] }, clock);
    limiter.observe('org', { retryAfterMs: 7_000 });
    (await limiter.acquire('org')).release();
    expect(clock.slept).toEqual([7_000]);
  });

  it('refuses (retryable) instead of waiting past maxWaitMs, e.g. a spent daily quota', async () => {
    const clock = manualClock();
    const limiter = new InMemoryRateLimiter({ concurrent: 5, windows: [{ limit: 2, ms: 86_400_000 }] }, clock);
    (await limiter.acquire('org')).release();
    (await limiter.acquire('org')).release();
    await expect(limiter.acquire('org')).rejects.toMatchObject({ extensions: { reason: 'DAILY_LIMIT_REACHED', retryable: true } });
    const err = await limiter.acquire('org').catch((e: unknown) => e);
    expect(booksReasonOf(err)).toBe('DAILY_LIMIT_REACHED');
    expect(clock.slept).toEqual([]);
  });

  it('believes the provider when it says a window is spent', async () => {
    const clock = manualClock();
    const limiter = new InMemoryRateLimiter({ concurrent: 5, windows: [{ limit: 60, ms: 60_000 }] }, clock);
    (await limiter.acquire('org')).release();
    limiter.observe('org', { remaining: [{ windowMs: 60_000, remaining: 0 }] });
    (await limiter.acquire('org')).release();
    expect(clock.slept).toEqual([60_000]);
  });
});

describe('backoff and Retry-After', () => {
  it('grows exponentially with jitter inside [cap/2, cap] and stops at maxDelayMs', () => {
    const policy = { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 1_000, maxRetryAfterMs: 60_000 };
    expect(backoffDelayMs(1, policy, () => 0)).toBe(50);
    expect(backoffDelayMs(1, policy, () => 1)).toBe(100);
    expect(backoffDelayMs(3, policy, () => 1)).toBe(400);
    expect(backoffDelayMs(10, policy, () => 1)).toBe(1_000);
  });

  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfterMs('12', 0)).toBe(12_000);
    expect(parseRetryAfterMs('Thu, 01 Jan 1970 00:00:30 GMT', 10_000)).toBe(20_000);
    expect(parseRetryAfterMs('soon', 0)).toBeUndefined();
    expect(parseRetryAfterMs(undefined, 0)).toBeUndefined();
  });
});
