import { configureLogger } from '../../../lib/logger';
import { aggregate, ThrottledPublisher, type AggregatedPrice } from './aggregator';
import type { PriceSource, SourceQuote } from './price-feed.types';

configureLogger('silent');

const NOW = new Date('2025-06-01T00:00:10Z');
const OPTS = { staleAfterMs: 5_000, maxDeviationBps: 100, minSources: 2 };

function q(source: PriceSource, price: string, ageMs = 0, currency: 'AUD' | 'USD' = 'AUD'): SourceQuote {
  return { source, currency, price, at: new Date(NOW.getTime() - ageMs) };
}

describe('aggregate', () => {
  it('takes the median of fresh sources', () => {
    expect(aggregate([q('KRAKEN', '100.00'), q('BTC_MARKETS', '100.50'), q('INDEPENDENT_RESERVE', '100.20')], NOW, OPTS)).toEqual({
      currency: 'AUD',
      price: '100.2',
      sources: ['BTC_MARKETS', 'INDEPENDENT_RESERVE', 'KRAKEN'],
      rejected: [],
      at: NOW,
    });
  });

  it('averages the middle pair exactly for an even count', () => {
    expect(aggregate([q('KRAKEN', '100.01'), q('BTC_MARKETS', '100.02')], NOW, OPTS)?.price).toBe('100.015');
  });

  it('rejects an outlier against the fresh median and recomputes without it', () => {
    const r = aggregate([q('KRAKEN', '100'), q('BTC_MARKETS', '101'), q('INDEPENDENT_RESERVE', '100.5'), q('SIMULATED', '150')], NOW, OPTS);
    // fresh median = (100.5 + 101) / 2 = 100.75; 150 is far out, the others are within 1%.
    expect(r?.rejected).toEqual([{ source: 'SIMULATED', reason: 'OUTLIER' }]);
    expect(r?.price).toBe('100.5');
    expect(r?.sources).toEqual(['BTC_MARKETS', 'INDEPENDENT_RESERVE', 'KRAKEN']);
  });

  it('keeps a quote exactly at the deviation limit and drops one just past it', () => {
    const at = aggregate([q('KRAKEN', '100'), q('BTC_MARKETS', '100'), q('INDEPENDENT_RESERVE', '101')], NOW, OPTS);
    expect(at?.rejected).toEqual([]);
    const past = aggregate([q('KRAKEN', '100'), q('BTC_MARKETS', '100'), q('INDEPENDENT_RESERVE', '101.00000001')], NOW, OPTS);
    expect(past?.rejected).toEqual([{ source: 'INDEPENDENT_RESERVE', reason: 'OUTLIER' }]);
    expect(past?.price).toBe('100');
  });

  it('rejects stale quotes and never lets them into the median', () => {
    const r = aggregate([q('KRAKEN', '100'), q('BTC_MARKETS', '102'), q('INDEPENDENT_RESERVE', '90', 5_001)], NOW, OPTS);
    expect(r?.rejected).toEqual([{ source: 'INDEPENDENT_RESERVE', reason: 'STALE' }]);
    expect(r?.price).toBe('101');
    // Exactly staleAfterMs old is still fresh.
    expect(aggregate([q('KRAKEN', '100', 5_000), q('BTC_MARKETS', '100')], NOW, OPTS)?.rejected).toEqual([]);
  });

  it('returns null below minSources, whether from staleness or outliers', () => {
    expect(aggregate([], NOW, OPTS)).toBeNull();
    expect(aggregate([q('KRAKEN', '100')], NOW, OPTS)).toBeNull();
    expect(aggregate([q('KRAKEN', '100'), q('BTC_MARKETS', '100', 60_000)], NOW, OPTS)).toBeNull();
    // Two sources 10% apart: each is 5% from their median, both outliers, nothing left to trust.
    expect(aggregate([q('KRAKEN', '100'), q('BTC_MARKETS', '110')], NOW, OPTS)).toBeNull();
    expect(aggregate([q('KRAKEN', '100')], NOW, { ...OPTS, minSources: 1 })?.price).toBe('100');
  });

  it('counts only the newest quote per source', () => {
    const r = aggregate([q('KRAKEN', '200', 3_000), q('KRAKEN', '100', 1_000), q('KRAKEN', '300', 2_000), q('BTC_MARKETS', '100')], NOW, OPTS);
    expect(r?.price).toBe('100');
    expect(r?.sources).toEqual(['BTC_MARKETS', 'KRAKEN']);
  });

  it('ignores quotes with invalid prices', () => {
    const r = aggregate([q('KRAKEN', 'NaN'), q('BTC_MARKETS', '100'), q('INDEPENDENT_RESERVE', '101'), q('SIMULATED', '0')], NOW, OPTS);
    expect(r?.sources).toEqual(['BTC_MARKETS', 'INDEPENDENT_RESERVE']);
  });

  it('refuses mixed currencies and a bad minSources', () => {
    expect(() => aggregate([q('KRAKEN', '100'), q('BTC_MARKETS', '100', 0, 'USD')], NOW, OPTS)).toThrow(RangeError);
    expect(() => aggregate([q('KRAKEN', '100')], NOW, { ...OPTS, minSources: 0 })).toThrow(RangeError);
  });
});

describe('ThrottledPublisher', () => {
  let clock = 0;
  const price = (currency: 'AUD' | 'USD', p: string): AggregatedPrice => ({ currency, price: p, sources: ['KRAKEN'], rejected: [], at: new Date(clock) });

  beforeEach(() => {
    jest.useFakeTimers();
    clock = 0;
  });
  afterEach(() => jest.useRealTimers());

  function advance(ms: number): void {
    clock += ms;
    jest.advanceTimersByTime(ms);
  }

  it('publishes the first value at once and the latest of a window when it ends', () => {
    const published: string[] = [];
    const pub = new ThrottledPublisher({ intervalMs: 1_000, now: () => clock, publish: (p) => void published.push(`${p.currency}:${p.price}`) });
    pub.offer(price('AUD', '1'));
    expect(published).toEqual(['AUD:1']);
    advance(100);
    pub.offer(price('AUD', '2'));
    advance(100);
    pub.offer(price('AUD', '3'));
    expect(published).toEqual(['AUD:1']);
    advance(799);
    expect(published).toEqual(['AUD:1']);
    advance(1);
    expect(published).toEqual(['AUD:1', 'AUD:3']);
    // The trailing publish starts a new window.
    advance(500);
    pub.offer(price('AUD', '4'));
    expect(published).toEqual(['AUD:1', 'AUD:3']);
    advance(500);
    expect(published).toEqual(['AUD:1', 'AUD:3', 'AUD:4']);
    // Quiet for a full window: next offer goes straight out.
    advance(5_000);
    pub.offer(price('AUD', '5'));
    expect(published).toEqual(['AUD:1', 'AUD:3', 'AUD:4', 'AUD:5']);
    pub.stop();
  });

  it('throttles each currency independently', () => {
    const published: string[] = [];
    const pub = new ThrottledPublisher({ intervalMs: 1_000, now: () => clock, publish: (p) => void published.push(`${p.currency}:${p.price}`) });
    pub.offer(price('AUD', '1'));
    pub.offer(price('USD', '2'));
    pub.offer(price('AUD', '3'));
    expect(published).toEqual(['AUD:1', 'USD:2']);
    advance(1_000);
    expect(published).toEqual(['AUD:1', 'USD:2', 'AUD:3']);
    pub.stop();
  });

  it('drops pending values on stop', () => {
    const publish = jest.fn();
    const pub = new ThrottledPublisher({ intervalMs: 1_000, now: () => clock, publish });
    pub.offer(price('AUD', '1'));
    pub.offer(price('AUD', '2'));
    pub.stop();
    advance(5_000);
    pub.offer(price('AUD', '3'));
    expect(publish).toHaveBeenCalledTimes(1);
  });

  it('keeps throttling after publish throws or rejects', async () => {
    const seen: string[] = [];
    const pub = new ThrottledPublisher({
      intervalMs: 1_000,
      now: () => clock,
      publish: (p) => {
        seen.push(p.price);
        if (p.price === '1') throw new Error('sync failure');
        return Promise.reject(new Error('async failure'));
      },
    });
    pub.offer(price('AUD', '1'));
    pub.offer(price('AUD', '2'));
    advance(1_000);
    await Promise.resolve();
    expect(seen).toEqual(['1', '2']);
    pub.stop();
  });
});
