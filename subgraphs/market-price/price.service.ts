import type { MikroORM } from '@mikro-orm/postgresql';
import { Gauge } from 'prom-client';
import type { EventBus } from '../../lib/bus';
import { badInput } from '../../lib/errors';
import { log } from '../../lib/logger';
import { registry } from '../../lib/metrics';
import { CandleStore, type StoredCandle } from './candle.store';
import { aggregate, ThrottledPublisher, type AggregatedPrice, type AggregateOptions } from './feeds/aggregator';
import { bucketStart, intervalMs, type CandleInterval } from './feeds/candles';
import { multiplyDecimal } from '../../lib/money';
import type { PriceFeed, PriceSource, SourceQuote } from './feeds/price-feed.types';
import { type BtcPrice, Currency, PriceTick } from './price-tick.entity';
import { ensureTickPartitionFor, isMissingTickPartition } from './tick-partitions';

export type PriceServiceOptions = Partial<AggregateOptions> & {
  /** At most one published tick per currency per this many ms (latest wins). Default 250. */
  publishIntervalMs?: number;
  /** How often buffered candle deltas are written (one batched upsert). Default 1000. */
  candleFlushMs?: number;
  now?: () => Date;
};

/** The longest priceHistory answer, in candles. */
export const MAX_HISTORY_CANDLES = 1000;

/** `source` of an aggregated tick: its sources joined by '+', so one source reads as itself ("SIMULATED"). */
export const SOURCE_SEPARATOR = '+';
export const sourcesOf = (source: string): string[] => source.split(SOURCE_SEPARATOR);

const acceptedSources = new Gauge({
  name: 'abt_price_sources_accepted',
  help: 'Sources in the latest aggregated BTC price, by currency (0: no fresh price)',
  labelNames: ['currency'] as const,
  registers: [registry],
});

const DEFAULTS = { publishIntervalMs: 250, candleFlushMs: 1000, staleAfterMs: 30_000, maxDeviationBps: 200, minSources: 1 };

/**
 * The platform's BTC price: quotes from every feed → median per currency (stale and outlying sources
 * rejected) → rate-limited ticks, each stored in price_tick, folded into 1m/1h/1d candles, and
 * published on `price.btc.<ccy>` with the sources it used.
 */
export class PriceService {
  private readonly latest = new Map<Currency, BtcPrice>();
  private readonly quotes = new Map<Currency, Map<PriceSource, SourceQuote>>();
  private readonly verdicts = new Map<Currency, string>();
  private readonly feeds: PriceFeed[] = [];
  private readonly throttle: ThrottledPublisher;
  private readonly aggregation: AggregateOptions;
  private readonly now: () => Date;
  private pending: Promise<unknown> = Promise.resolve();
  readonly candles: CandleStore;

  constructor(
    private readonly orm: MikroORM,
    private readonly bus: EventBus,
    options: PriceServiceOptions = {},
  ) {
    this.aggregation = {
      staleAfterMs: options.staleAfterMs ?? DEFAULTS.staleAfterMs,
      maxDeviationBps: options.maxDeviationBps ?? DEFAULTS.maxDeviationBps,
      minSources: options.minSources ?? DEFAULTS.minSources,
    };
    this.now = options.now ?? (() => new Date());
    this.throttle = new ThrottledPublisher({
      intervalMs: options.publishIntervalMs ?? DEFAULTS.publishIntervalMs,
      publish: (p) => this.enqueue(p),
    });
    this.candles = new CandleStore(orm, options.candleFlushMs ?? DEFAULTS.candleFlushMs);
  }

  /** Starts the feeds (one, or several to aggregate); quotes flow until stop(). */
  async start(feeds: PriceFeed | readonly PriceFeed[]): Promise<void> {
    const list: readonly PriceFeed[] = Array.isArray(feeds) ? feeds : [feeds as PriceFeed];
    this.candles.start();
    this.feeds.push(...list);
    log().info({ feeds: list.map((f) => f.source), ...this.aggregation }, 'price feeds starting');
    await Promise.all(list.map((f) => f.start((q) => this.onQuote(q))));
  }

  /** One source's quote: re-aggregates its currency and offers the result to the rate limiter. */
  onQuote(q: SourceQuote): void {
    let bySource = this.quotes.get(q.currency as Currency);
    if (!bySource) {
      bySource = new Map();
      this.quotes.set(q.currency as Currency, bySource);
    }
    const seen = bySource.get(q.source);
    if (!seen || q.at.getTime() >= seen.at.getTime()) bySource.set(q.source, q);
    const price = aggregate([...bySource.values()], this.now(), this.aggregation);
    this.noteVerdict(q.currency as Currency, price);
    if (price) this.throttle.offer(price);
  }

  /** Stores one aggregated tick, folds it into the candles and publishes it. */
  async record(p: AggregatedPrice): Promise<BtcPrice> {
    const currency = p.currency === 'USD' ? Currency.USD : Currency.AUD;
    // Ticks are whole cents (price_tick is numeric(20,2)); a two-source median may carry a third digit.
    const price = multiplyDecimal(p.price, '1', 2);
    const source = p.sources.join(SOURCE_SEPARATOR);
    await this.store({ currency, price, source, at: p.at });
    const tick: BtcPrice = { currency, price, source, sources: [...p.sources], at: p.at };
    this.latest.set(currency, tick);
    this.candles.add(p.currency, price, p.at);
    await this.bus.publish(`price.btc.${currency.toLowerCase()}`, {
      __typename: 'BtcPrice',
      version: 1,
      currency,
      price,
      source,
      sources: tick.sources,
      at: p.at.toISOString(),
    });
    return tick;
  }

  /** One row in price_tick; a day without its partition yet (maintenance not run) gets it, then the row. */
  private async store(row: Pick<PriceTick, 'currency' | 'price' | 'source' | 'at'>): Promise<void> {
    const insert = async (): Promise<void> => {
      const em = this.orm.em.fork();
      em.create(PriceTick, row);
      await em.flush();
    };
    try {
      await insert();
    } catch (err) {
      if (!isMissingTickPartition(err)) throw err;
      await ensureTickPartitionFor(this.orm, row.at);
      await insert();
    }
  }

  async current(currency: Currency): Promise<BtcPrice | null> {
    const hit = this.latest.get(currency);
    if (hit) return hit;
    const row = await this.orm.em.fork().findOne(PriceTick, { currency }, { orderBy: { at: 'desc', id: 'desc' } });
    return row ? { currency, price: row.price, source: row.source, sources: sourcesOf(row.source), at: row.at } : null;
  }

  /**
   * Candles of one interval whose bucket starts in [bucket of `from`, `to`), oldest first. A range of
   * more than MAX_HISTORY_CANDLES buckets, an empty or inverted one, or one reaching into the future
   * by more than a bucket is a BAD_USER_INPUT.
   */
  async history(currency: Currency, interval: CandleInterval, from: Date, to: Date = this.now()): Promise<StoredCandle[]> {
    if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) throw badInput('from and to must be valid times', 'from');
    if (from.getTime() >= to.getTime()) throw badInput('from must be earlier than to', 'from');
    const start = bucketStart(from, interval);
    const size = intervalMs(interval);
    const buckets = Math.ceil((to.getTime() - start.getTime()) / size);
    if (buckets > MAX_HISTORY_CANDLES) {
      throw badInput(
        `the range spans ${buckets} ${interval} candles; at most ${MAX_HISTORY_CANDLES} per query (${describeSpan(MAX_HISTORY_CANDLES * size)} of ${interval}). Narrow from/to or use a coarser interval.`,
        'to',
      );
    }
    return this.candles.history(currency, interval, start, to, MAX_HISTORY_CANDLES);
  }

  /** Waits for ticks being stored/published and writes buffered candles. */
  async flush(): Promise<void> {
    let seen: Promise<unknown>;
    do {
      seen = this.pending;
      await seen;
    } while (seen !== this.pending);
    await this.candles.flush();
  }

  /** Stops the feeds and the rate limiter, then flushes. */
  async stop(): Promise<void> {
    await Promise.allSettled(this.feeds.splice(0).map((f) => f.stop()));
    this.throttle.stop();
    await this.flush();
    await this.candles.stop();
  }

  /** Ticks are stored and published one at a time, in the order they were aggregated. */
  private enqueue(p: AggregatedPrice): void {
    this.pending = this.pending
      .then(() => this.record(p))
      .catch((err: Error) => log().warn({ err: err.message, currency: p.currency }, 'price tick not stored'));
  }

  /** Logs (once per change) which sources a currency's price uses and which it rejects. */
  private noteVerdict(currency: Currency, p: AggregatedPrice | null): void {
    acceptedSources.set({ currency }, p?.sources.length ?? 0);
    const verdict = p ? `${p.sources.join(',')}|${p.rejected.map((r) => `${r.source}:${r.reason}`).join(',')}` : 'none';
    if (this.verdicts.get(currency) === verdict) return;
    this.verdicts.set(currency, verdict);
    if (p) log().info({ currency, sources: p.sources, rejected: p.rejected }, 'aggregated BTC price sources');
    else log().warn({ currency, sources: [...(this.quotes.get(currency)?.keys() ?? [])] }, 'no fresh BTC price: too few sources');
  }
}

function describeSpan(ms: number): string {
  const h = ms / 3_600_000;
  return h >= 48 ? `${Math.round(h / 24)} days` : `${Math.round(h * 10) / 10} hours`;
}
