import { configureLogger } from '../../../lib/logger';
import { multiplyDecimal } from '../../../lib/money';
import type { SourceQuote } from './price-feed.types';
import { mulberry32, SimulatedFeed } from './simulated.feed';
import { at } from '../../../test/helpers/present';

configureLogger('silent');

const AT = new Date('2025-01-01T00:00:00Z');

function walk(seed: number, steps: number): string[] {
  const feed = new SimulatedFeed({ seed, intervalMs: 1000, startPriceAud: '150000.00' });
  return Array.from({ length: steps }, () => at(feed.step(AT), 0, 'step').price);
}

describe('mulberry32', () => {
  it('is deterministic per seed and yields uint32s', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const xs = Array.from({ length: 5 }, () => a());
    expect(Array.from({ length: 5 }, () => b())).toEqual(xs);
    for (const x of xs) expect(Number.isInteger(x) && x >= 0 && x < 2 ** 32).toBe(true);
    expect(mulberry32(43)()).not.toBe(xs[0]);
  });
});

describe('SimulatedFeed', () => {
  it('replays the same walk for the same seed and a different one for another seed', () => {
    expect(walk(7, 50)).toEqual(walk(7, 50));
    expect(walk(7, 50)).not.toEqual(walk(8, 50));
  });

  it('moves in whole cents within maxStepBps per tick', () => {
    const prices = walk(20261125, 200);
    let prev = 15_000_000n;
    for (const p of prices) {
      expect(p).toMatch(/^\d+\.\d{2}$/);
      const cents = BigInt(p.replace('.', ''));
      const diff = cents > prev ? cents - prev : prev - cents;
      expect(diff * 10_000n <= prev * 25n).toBe(true);
      prev = cents;
    }
  });

  it('derives USD from AUD by the exact fixed rate, labelled SIMULATED', () => {
    const feed = new SimulatedFeed({ seed: 1, intervalMs: 1000, startPriceAud: '100000.05', audUsdRate: '0.6543' });
    const [aud, usd] = feed.current(AT);
    expect(aud).toEqual({ source: 'SIMULATED', currency: 'AUD', price: '100000.05', at: AT });
    // 100000.05 × 0.6543 = 65430.032715 → 65430.03
    expect(usd).toEqual({ source: 'SIMULATED', currency: 'USD', price: '65430.03', at: AT });
    for (let i = 0; i < 20; i++) {
      const step = feed.step(AT);
      expect(at(step, 1, 'step').price).toBe(multiplyDecimal(at(step, 0, 'step').price, '0.6543', 2));
    }
  });

  it('rejects bad configuration', () => {
    expect(() => new SimulatedFeed({ seed: 1, intervalMs: 0 })).toThrow(RangeError);
    expect(() => new SimulatedFeed({ seed: 1, intervalMs: 10, startPriceAud: '1.234' })).toThrow(RangeError);
    expect(() => new SimulatedFeed({ seed: 1, intervalMs: 10, startPriceAud: '0' })).toThrow(RangeError);
    expect(() => new SimulatedFeed({ seed: 1, intervalMs: 10, audUsdRate: 'abc' })).toThrow(SyntaxError);
  });

  it('emits at once, then every interval, and stops cleanly', async () => {
    jest.useFakeTimers();
    try {
      const feed = new SimulatedFeed({ seed: 3, intervalMs: 500, now: () => AT });
      const got: SourceQuote[] = [];
      await feed.start((q) => got.push(q));
      expect(got.map((q) => q.currency)).toEqual(['AUD', 'USD']);
      await expect(feed.start(() => undefined)).rejects.toThrow('already started');
      jest.advanceTimersByTime(1500);
      expect(got).toHaveLength(8);
      await feed.stop();
      jest.advanceTimersByTime(5000);
      expect(got).toHaveLength(8);
    } finally {
      jest.useRealTimers();
    }
  });

  it('survives a throwing quote handler', async () => {
    const feed = new SimulatedFeed({ seed: 3, intervalMs: 10_000 });
    await expect(
      feed.start(() => {
        throw new Error('boom');
      }),
    ).resolves.toBeUndefined();
    await feed.stop();
  });
});
