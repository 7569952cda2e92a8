import type { MikroORM } from '@mikro-orm/postgresql';
import { log } from '../../lib/logger';
import { bucketStart, CANDLE_INTERVALS, mergeCandles, updateCandle, type Candle, type CandleInterval } from './feeds/candles';
import type { Currency } from './feeds/price-feed.types';

/** One stored OHLC candle; prices are exact decimal strings as PostgreSQL holds them (numeric). */
export type StoredCandle = {
  currency: Currency;
  interval: CandleInterval;
  bucketStart: Date;
  open: string;
  high: string;
  low: string;
  close: string;
  ticks: number;
};

type Pending = { currency: Currency; candle: Candle };

type Row = {
  currency: Currency;
  interval: CandleInterval;
  bucket_start: Date;
  open: string;
  high: string;
  low: string;
  close: string;
  open_at: Date;
  close_at: Date;
  ticks: number;
};

// Each batch row is a delta (the ticks since the last write); the upsert merges it exactly as mergeCandles does.
const UPSERT_HEAD = `insert into public.price_candle (currency, "interval", bucket_start, open, high, low, close, open_at, close_at, ticks) values `;
const UPSERT_TAIL = ` on conflict (currency, "interval", bucket_start) do update set
  open = case when excluded.open_at < price_candle.open_at then excluded.open else price_candle.open end,
  open_at = least(price_candle.open_at, excluded.open_at),
  close = case when excluded.close_at >= price_candle.close_at then excluded.close else price_candle.close end,
  close_at = greatest(price_candle.close_at, excluded.close_at),
  high = greatest(price_candle.high, excluded.high),
  low = least(price_candle.low, excluded.low),
  ticks = price_candle.ticks + excluded.ticks`;

const keyOf = (currency: Currency, interval: CandleInterval, start: Date): string => `${currency}|${interval}|${start.getTime()}`;

/**
 * 1m/1h/1d candles in public.price_candle. Ticks fold into in-memory deltas per bucket; a timer writes
 * them in one multi-row upsert, so a tick costs no query of its own. A failed write keeps its deltas
 * for the next one. Reads merge the deltas not yet written, so history is current to the last tick.
 */
export class CandleStore {
  private pending = new Map<string, Pending>();
  private writing: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly orm: MikroORM,
    private readonly flushMs: number,
  ) {
    if (!(flushMs > 0)) throw new RangeError('flushMs must be positive');
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.flush(), this.flushMs);
    this.timer.unref();
  }

  add(currency: Currency, price: string, at: Date): void {
    for (const interval of CANDLE_INTERVALS) {
      const key = keyOf(currency, interval, bucketStart(at, interval));
      const prev = this.pending.get(key);
      this.pending.set(key, { currency, candle: updateCandle(prev?.candle, { price, at }, interval) });
    }
  }

  /** Writes every delta so far; resolves when that write (and any before it) settled. Never rejects. */
  flush(): Promise<void> {
    this.writing = this.writing.then(() => this.write());
    return this.writing;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  /** Candles with bucket_start in [from, to), oldest first, at most `limit`. */
  async history(currency: Currency, interval: CandleInterval, from: Date, to: Date, limit: number): Promise<StoredCandle[]> {
    const rows = await this.orm.em
      .getConnection()
      .execute<Row[]>(
        `select currency, "interval", bucket_start, open::text as open, high::text as high, low::text as low, close::text as close,
                open_at, close_at, ticks
           from public.price_candle
          where currency = ? and "interval" = ? and bucket_start >= ? and bucket_start < ?
          order by bucket_start
          limit ?`,
        [currency, interval, from, to, limit],
      );
    const byStart = new Map<number, Candle>();
    for (const r of rows) {
      byStart.set(new Date(r.bucket_start).getTime(), {
        interval,
        bucketStart: new Date(r.bucket_start),
        open: r.open,
        high: r.high,
        low: r.low,
        close: r.close,
        openAt: new Date(r.open_at),
        closeAt: new Date(r.close_at),
        ticks: Number(r.ticks),
      });
    }
    for (const p of this.pending.values()) {
      const c = p.candle;
      const t = c.bucketStart.getTime();
      if (p.currency !== currency || c.interval !== interval || t < from.getTime() || t >= to.getTime()) continue;
      const stored = byStart.get(t);
      byStart.set(t, stored ? mergeCandles(stored, c) : c);
    }
    return [...byStart.values()]
      .sort((a, b) => a.bucketStart.getTime() - b.bucketStart.getTime())
      .slice(0, limit)
      .map((c) => ({ currency, interval, bucketStart: c.bucketStart, open: c.open, high: c.high, low: c.low, close: c.close, ticks: c.ticks }));
  }

  private async write(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    const params: unknown[] = [];
    const values: string[] = [];
    for (const { currency, candle: c } of batch.values()) {
      values.push('(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
      params.push(currency, c.interval, c.bucketStart, c.open, c.high, c.low, c.close, c.openAt, c.closeAt, c.ticks);
    }
    try {
      await this.orm.em.getConnection().execute(UPSERT_HEAD + values.join(', ') + UPSERT_TAIL, params, 'run');
    } catch (err) {
      // Keep the deltas: what arrived meanwhile is later, so it merges after them.
      for (const [key, failed] of batch) {
        const newer = this.pending.get(key);
        this.pending.set(key, { currency: failed.currency, candle: newer ? mergeCandles(failed.candle, newer.candle) : failed.candle });
      }
      log().warn({ err: err instanceof Error ? err.message : String(err), candles: batch.size }, 'candles not stored; will retry');
    }
  }
}
