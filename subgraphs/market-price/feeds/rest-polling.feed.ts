import { log } from '../../../lib/logger';
import type { FetchLike } from './http-fetch';
import type { PriceFeed, PriceSource, SourceQuote } from './price-feed.types';

export type RestPollingOptions = {
  pollMs: number;
  timeoutMs: number;
  fetchImpl?: FetchLike;
  now?: () => Date;
};

export type RestPollingStats = { polls: number; failures: number; quotes: number; lastError?: string };

/**
 * Polls an upstream on a self-rescheduling timer (never overlapping). A failed request is logged and counted,
 * never thrown: an outage means no quote from this source, and the aggregator copes with that.
 */
export abstract class RestPollingFeed implements PriceFeed {
  abstract readonly source: PriceSource;
  protected readonly now: () => Date;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private inFlight: Promise<void> | undefined;
  private controller: AbortController | undefined;
  private readonly counters: RestPollingStats = { polls: 0, failures: 0, quotes: 0 };

  protected constructor(protected readonly opts: RestPollingOptions) {
    if (!(opts.pollMs > 0) || !(opts.timeoutMs > 0)) throw new RangeError('pollMs and timeoutMs must be positive');
    this.now = opts.now ?? (() => new Date());
  }

  /** One round of requests; each element is one upstream request's outcome. */
  protected abstract poll(signal: AbortSignal): Promise<PromiseSettledResult<SourceQuote>[]>;

  stats(): RestPollingStats {
    return { ...this.counters };
  }

  /** Resolves after the first poll has settled, so callers see the first quote (or outage) immediately. */
  async start(onQuote: (q: SourceQuote) => void): Promise<void> {
    if (this.running) throw new Error(`${this.source} feed already started`);
    this.running = true;
    this.controller = new AbortController();
    await this.runOnce(onQuote);
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.controller?.abort();
    await this.inFlight;
  }

  private async runOnce(onQuote: (q: SourceQuote) => void): Promise<void> {
    const controller = this.controller;
    if (!this.running || !controller) return;
    this.inFlight = this.pollSafely(controller.signal, onQuote);
    await this.inFlight;
    this.inFlight = undefined;
    if (this.running) this.timer = setTimeout(() => void this.runOnce(onQuote), this.opts.pollMs);
  }

  private async pollSafely(signal: AbortSignal, onQuote: (q: SourceQuote) => void): Promise<void> {
    this.counters.polls++;
    let results: PromiseSettledResult<SourceQuote>[];
    try {
      results = await this.poll(signal);
    } catch (err) {
      results = [{ status: 'rejected', reason: err }];
    }
    for (const r of results) {
      if (r.status === 'fulfilled') {
        if (!this.running) return;
        this.counters.quotes++;
        try {
          onQuote(r.value);
        } catch (err) {
          log().error({ err, source: this.source }, 'price quote handler threw');
        }
      } else if (this.running) {
        this.counters.failures++;
        this.counters.lastError = r.reason instanceof Error ? r.reason.message : String(r.reason);
        log().warn({ source: this.source, error: this.counters.lastError }, 'price source poll failed');
      }
    }
  }
}
