import { compareDecimal } from './decimal';

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
  if (!candle || start.getTime() > candle.bucketStart.getTime()) {
    return { interval, bucketStart: start, open: tick.price, high: tick.price, low: tick.price, close: tick.price, openAt: tick.at, closeAt: tick.at, ticks: 1 };
  }
  if (candle.interval !== interval) throw new RangeError(`candle is ${candle.interval}, not ${interval}`);
  if (start.getTime() < candle.bucketStart.getTime()) return candle;
  const t = tick.at.getTime();
  const earlier = t < candle.openAt.getTime();
  const later = t >= candle.closeAt.getTime();
  return {
    ...candle,
    open: earlier ? tick.price : candle.open,
    openAt: earlier ? tick.at : candle.openAt,
    close: later ? tick.price : candle.close,
    closeAt: later ? tick.at : candle.closeAt,
    high: compareDecimal(tick.price, candle.high) > 0 ? tick.price : candle.high,
    low: compareDecimal(tick.price, candle.low) < 0 ? tick.price : candle.low,
    ticks: candle.ticks + 1,
  };
}
