import { log } from '../../../lib/logger';
import { exceedsDeviationBps, isPositiveDecimal, medianDecimal } from '../../../lib/money';
import type { Currency, PriceSource, SourceQuote } from './price-feed.types';

export type AggregateOptions = {
  /** A quote older than this (now − at) is rejected as STALE. */
  staleAfterMs: number;
  /** A fresh quote further than this (integer bps) from the fresh median is rejected as OUTLIER. */
  maxDeviationBps: number;
  /** Fewer accepted sources than this → no price at all (null). */
  minSources: number;
};

export type RejectedQuote = { source: PriceSource; reason: 'STALE' | 'OUTLIER' };

export type AggregatedPrice = {
  currency: Currency;
  /** Exact median in canonical decimal form (no trailing fractional zeros). */
  price: string;
  /** Accepted sources, sorted. */
  sources: PriceSource[];
  rejected: RejectedQuote[];
  /** When the aggregate was computed (the `now` passed in). */
  at: Date;
};

function byName<T extends { source: PriceSource }>(a: T, b: T): number {
  return a.source < b.source ? -1 : a.source > b.source ? 1 : 0;
}

/**
 * Median-of-sources price for one currency.
 * Only the newest quote per source counts (a chatty source must not outvote the others); stale quotes are
 * dropped; fresh quotes deviating more than maxDeviationBps from the fresh median are dropped as outliers and the
 * median of the rest is the price. Returns null when fewer than minSources survive.
 */
export function aggregate(quotes: readonly SourceQuote[], now: Date, opts: AggregateOptions): AggregatedPrice | null {
  if (!Number.isInteger(opts.minSources) || opts.minSources < 1) throw new RangeError('minSources must be a positive integer');
  const [first] = quotes;
  if (!first) return null;
  const currency = first.currency;
  if (quotes.some((q) => q.currency !== currency)) throw new RangeError('aggregate() takes quotes of a single currency');

  const latest = new Map<PriceSource, SourceQuote>();
  for (const q of quotes) {
    if (!isPositiveDecimal(q.price)) {
      log().warn({ source: q.source, currency }, 'ignoring quote with an invalid price');
      continue;
    }
    const seen = latest.get(q.source);
    if (!seen || q.at.getTime() >= seen.at.getTime()) latest.set(q.source, q);
  }

  const rejected: RejectedQuote[] = [];
  const fresh: SourceQuote[] = [];
  for (const q of [...latest.values()].sort(byName)) {
    if (now.getTime() - q.at.getTime() > opts.staleAfterMs) rejected.push({ source: q.source, reason: 'STALE' });
    else fresh.push(q);
  }
  if (fresh.length < opts.minSources) return null;

  const freshMedian = medianDecimal(fresh.map((q) => q.price));
  const accepted: SourceQuote[] = [];
  for (const q of fresh) {
    if (exceedsDeviationBps(q.price, freshMedian, opts.maxDeviationBps)) rejected.push({ source: q.source, reason: 'OUTLIER' });
    else accepted.push(q);
  }
  if (accepted.length < opts.minSources) return null;

  return {
    currency,
    price: medianDecimal(accepted.map((q) => q.price)),
    sources: accepted.map((q) => q.source),
    rejected: rejected.sort(byName),
    at: now,
  };
}

export type ThrottledPublisherOptions = {
  intervalMs: number;
  publish: (price: AggregatedPrice) => void | Promise<void>;
  now?: () => number;
};

type Lane = { lastPublishedAt?: number; pending?: AggregatedPrice; timer?: NodeJS.Timeout };

/**
 * Publishes at most once per intervalMs per currency. The first offer goes out at once; offers inside the window
 * replace each other (latest wins) and the survivor goes out when the window ends. Publish failures are logged,
 * never thrown into the price loop.
 */
export class ThrottledPublisher {
  private readonly lanes = new Map<Currency, Lane>();
  private readonly now: () => number;
  private stopped = false;

  constructor(private readonly options: ThrottledPublisherOptions) {
    if (!(options.intervalMs >= 0)) throw new RangeError('intervalMs must be non-negative');
    this.now = options.now ?? Date.now;
  }

  offer(price: AggregatedPrice): void {
    if (this.stopped) return;
    const lane = this.lanes.get(price.currency) ?? {};
    this.lanes.set(price.currency, lane);
    const now = this.now();
    if (!lane.timer && (lane.lastPublishedAt === undefined || now - lane.lastPublishedAt >= this.options.intervalMs)) {
      this.send(lane, price, now);
      return;
    }
    lane.pending = price;
    if (!lane.timer) {
      const wait = Math.max(0, (lane.lastPublishedAt ?? now) + this.options.intervalMs - now);
      lane.timer = setTimeout(() => {
        lane.timer = undefined;
        const pending = lane.pending;
        lane.pending = undefined;
        if (pending && !this.stopped) this.send(lane, pending, this.now());
      }, wait);
      // A trailing publish must not keep a stopping process alive.
      lane.timer.unref?.();
    }
  }

  /** Drops pending values and timers; nothing is published afterwards. */
  stop(): void {
    this.stopped = true;
    for (const lane of this.lanes.values()) {
      clearTimeout(lane.timer);
      lane.timer = undefined;
      lane.pending = undefined;
    }
  }

  private send(lane: Lane, price: AggregatedPrice, now: number): void {
    lane.lastPublishedAt = now;
    try {
      const result = this.options.publish(price);
      if (result instanceof Promise) result.catch((err: unknown) => log().error({ err, currency: price.currency }, 'price publish failed'));
    } catch (err) {
      log().error({ err, currency: price.currency }, 'price publish failed');
    }
  }
}
