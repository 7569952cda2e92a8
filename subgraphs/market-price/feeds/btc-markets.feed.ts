import { isPositiveDecimal, isRecord, parseJsonLossless, toPlainDecimal } from '../../../lib/money';
import { fetchText, quoteTime, type FetchLike } from './http-fetch';
import type { SourceQuote } from './price-feed.types';
import { RestPollingFeed } from './rest-polling.feed';

export const BTC_MARKETS_BASE_URL = 'https://api.btcmarkets.net';

export type BtcMarketsFeedOptions = {
  baseUrl?: string;
  pollMs?: number;
  timeoutMs?: number;
  fetchImpl?: FetchLike;
  now?: () => Date;
};

export function btcMarketsTickerUrl(baseUrl: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/v3/markets/BTC-AUD/ticker`;
}

/** Parses the v3 market ticker; lastPrice is already a string, and `timestamp` (ISO 8601) becomes the quote time. */
export function parseBtcMarketsTicker(body: string, now: Date): SourceQuote {
  const json = parseJsonLossless(body);
  if (!isRecord(json)) throw new SyntaxError('ticker is not an object');
  if (json.marketId !== undefined && json.marketId !== 'BTC-AUD') throw new SyntaxError(`ticker is for ${JSON.stringify(json.marketId)}`);
  const last = json.lastPrice;
  if (!isPositiveDecimal(last)) throw new SyntaxError('lastPrice missing or not a positive decimal');
  return { source: 'BTC_MARKETS', currency: 'AUD', price: toPlainDecimal(last), at: quoteTime(json.timestamp, now) };
}

/** BTC Markets lists BTC-AUD only, so this feed only ever quotes AUD. */
export class BtcMarketsFeed extends RestPollingFeed {
  override readonly source = 'BTC_MARKETS' as const;
  private readonly baseUrl: string;

  constructor(options: BtcMarketsFeedOptions = {}) {
    super({ pollMs: options.pollMs ?? 10_000, timeoutMs: options.timeoutMs ?? 5_000, fetchImpl: options.fetchImpl, now: options.now });
    this.baseUrl = options.baseUrl ?? BTC_MARKETS_BASE_URL;
  }

  protected override async poll(signal: AbortSignal): Promise<PromiseSettledResult<SourceQuote>[]> {
    return Promise.allSettled([
      (async () => {
        const body = await fetchText(btcMarketsTickerUrl(this.baseUrl), { timeoutMs: this.opts.timeoutMs, fetchImpl: this.opts.fetchImpl, signal });
        return parseBtcMarketsTicker(body, this.now());
      })(),
    ]);
  }
}
