import { compareDecimal } from '../../../lib/money';

export type CandleInterval = '1m' | '1h' | '1d';

export const CANDLE_INTERVALS: readonly CandleInterval[] = ['1m', '1h', '1d'];

const INTERVAL_MS: Record<CandleInterval, number> = { '1m': 60_000, '1h': 3_600_000, '1d': 86_400_000 };

export type PriceTick = { price: string; at: Date };

/** OHLC over [bucketStart, bucketStart + interval). Prices are exact decimal strings as received. */
export type Candle = {
  interval: CandleInterval;
  bucketStart: Date;
  open: string;
  high: string;
  low: string;
  close: string;
  /** Times of the ticks that set open/close, so out-of-order ticks inside a bucket land correctly. */
  openAt: Date;
  closeAt: Date;
  ticks: number;
};

export function intervalMs(interval: CandleInterval): number {
  return INTERVAL_MS[interval];
}

/** Start of the UTC bucket containing `at`; epoch ms has no leap seconds or DST, so flooring is exact. */
export function bucketStart(at: Date, interval: CandleInterval): Date {
  const size = INTERVAL_MS[interval];
  return new Date(Math.floor(at.getTime() / size) * size);
}

/**
 * Folds one tick into a candle (pure; never mutates). Returns:
 * - a fresh candle when there is none yet or the tick opens a later bucket (the caller persists the old one);
 * - the candle unchanged for a tick from an earlier bucket (too late to matter);
 * - otherwise the candle with high/low widened and open/close moved if the tick is earlier/later than theirs.
 */
export function updateCandle(candle: Candle | undefined, tick: PriceTick, interval: CandleInterval): Candle {
  const start = bucketStart(tick.at, interval);
  const single: Candle = { interval, bucketStart: start, open: tick.price, high: tick.price, low: tick.price, close: tick.price, openAt: tick.at, closeAt: tick.at, ticks: 1 };
  if (!candle || start.getTime() > candle.bucketStart.getTime()) return single;
  if (candle.interval !== interval) throw new RangeError(`candle is ${candle.interval}, not ${interval}`);
  if (start.getTime() < candle.bucketStart.getTime()) return candle;
  // A tick is a one-tick candle of the same bucket: folding it in is merging the two.
  return mergeCandles(candle, single);
}

/**
 * Combines a candle with a later part of the same bucket (`a` what is stored, `b` what arrived since): widest
 * high/low, the earlier open, the later close (b's on a tie, like updateCandle), ticks added. Associative, so a
 * bucket can be written as a series of deltas (the SQL upsert in candle.store.ts does the same merge).
 */
export function mergeCandles(a: Candle, b: Candle): Candle {
  if (a.interval !== b.interval || a.bucketStart.getTime() !== b.bucketStart.getTime()) throw new RangeError('candles of different buckets');
  const bOpensFirst = b.openAt.getTime() < a.openAt.getTime();
  const bClosesLast = b.closeAt.getTime() >= a.closeAt.getTime();
  return {
    interval: a.interval,
    bucketStart: a.bucketStart,
    open: bOpensFirst ? b.open : a.open,
    openAt: bOpensFirst ? b.openAt : a.openAt,
    close: bClosesLast ? b.close : a.close,
    closeAt: bClosesLast ? b.closeAt : a.closeAt,
    high: compareDecimal(b.high, a.high) > 0 ? b.high : a.high,
    low: compareDecimal(b.low, a.low) < 0 ? b.low : a.low,
    ticks: a.ticks + b.ticks,
  };
}
