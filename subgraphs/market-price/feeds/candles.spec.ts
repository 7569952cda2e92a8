import { bucketStart, updateCandle, type Candle } from './candles';

const t = (iso: string): Date => new Date(iso);

describe('bucketStart', () => {
  it('floors to UTC minute, hour and day', () => {
    const at = t('2025-03-09T23:59:59.999Z');
    expect(bucketStart(at, '1m').toISOString()).toBe('2025-03-09T23:59:00.000Z');
    expect(bucketStart(at, '1h').toISOString()).toBe('2025-03-09T23:00:00.000Z');
    expect(bucketStart(at, '1d').toISOString()).toBe('2025-03-09T00:00:00.000Z');
    expect(bucketStart(t('2025-03-10T00:00:00.000Z'), '1d').toISOString()).toBe('2025-03-10T00:00:00.000Z');
  });

  it('uses UTC, not the local zone, at a local-midnight boundary', () => {
    // 2025-03-09T13:30Z is 00:30 the next day in Sydney (UTC+11); the UTC day is still the 9th.
    expect(bucketStart(t('2025-03-09T13:30:00Z'), '1d').toISOString()).toBe('2025-03-09T00:00:00.000Z');
  });
});

describe('updateCandle', () => {
  it('opens a candle from the first tick', () => {
    expect(updateCandle(undefined, { price: '100.10', at: t('2025-01-01T00:00:30Z') }, '1m')).toEqual({
      interval: '1m',
      bucketStart: t('2025-01-01T00:00:00Z'),
      open: '100.10',
      high: '100.10',
      low: '100.10',
      close: '100.10',
      openAt: t('2025-01-01T00:00:30Z'),
      closeAt: t('2025-01-01T00:00:30Z'),
      ticks: 1,
    });
  });

  it('tracks high/low by decimal value and close by time, without mutating', () => {
    let c: Candle = updateCandle(undefined, { price: '100.10', at: t('2025-01-01T00:00:01Z') }, '1h');
    const first = c;
    c = updateCandle(c, { price: '100.9', at: t('2025-01-01T00:10:00Z') }, '1h');
    c = updateCandle(c, { price: '99.99', at: t('2025-01-01T00:20:00Z') }, '1h');
    c = updateCandle(c, { price: '100.5', at: t('2025-01-01T00:59:59.999Z') }, '1h');
    expect(c).toMatchObject({ open: '100.10', high: '100.9', low: '99.99', close: '100.5', ticks: 4 });
    expect(first).toMatchObject({ close: '100.10', ticks: 1 });
  });

  it('places out-of-order ticks within the bucket by their time', () => {
    let c = updateCandle(undefined, { price: '2', at: t('2025-01-01T00:00:30Z') }, '1m');
    c = updateCandle(c, { price: '1', at: t('2025-01-01T00:00:10Z') }, '1m');
    c = updateCandle(c, { price: '3', at: t('2025-01-01T00:00:20Z') }, '1m');
    expect(c).toMatchObject({ open: '1', close: '2', high: '3', low: '1', ticks: 3 });
  });

  it('starts a new candle for a later bucket and ignores ticks from an earlier one', () => {
    const c = updateCandle(undefined, { price: '10', at: t('2025-01-01T10:00:00Z') }, '1d');
    const next = updateCandle(c, { price: '11', at: t('2025-01-02T00:00:00Z') }, '1d');
    expect(next).toMatchObject({ bucketStart: t('2025-01-02T00:00:00Z'), open: '11', ticks: 1 });
    expect(updateCandle(next, { price: '1', at: t('2025-01-01T23:59:59Z') }, '1d')).toBe(next);
  });

  it('refuses to fold a tick into a candle of another interval', () => {
    const c = updateCandle(undefined, { price: '10', at: t('2025-01-01T10:00:00Z') }, '1m');
    expect(() => updateCandle(c, { price: '11', at: t('2025-01-01T10:00:05Z') }, '1h')).toThrow(RangeError);
  });
});
