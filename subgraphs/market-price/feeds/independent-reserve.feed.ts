import { isPositiveDecimal, isRecord, parseJsonLossless, toPlainDecimal } from '../../../lib/money';
import { fetchText, quoteTime, type FetchLike } from './http-fetch';
import type { Currency, SourceQuote } from './price-feed.types';
import { RestPollingFeed } from './rest-polling.feed';

export const INDEPENDENT_RESERVE_BASE_URL = 'https://api.independentreserve.com';

export type IndependentReserveFeedOptions = {
  baseUrl?: string;
  pollMs?: number;
  timeoutMs?: number;
  /** Secondary currencies to poll; IR lists Aud and Usd markets for Xbt. */
  currencies?: readonly Currency[];
  fetchImpl?: FetchLike;
  now?: () => Date;
};

// IR spells currency codes in title case ("Xbt", "Aud").
const IR_CODE: Record<Currency, string> = { AUD: 'Aud', USD: 'Usd' };

export function independentReserveSummaryUrl(baseUrl: string, currency: Currency): string {
  return `${baseUrl.replace(/\/+$/, '')}/Public/GetMarketSummary?primaryCurrencyCode=Xbt&secondaryCurrencyCode=${IR_CODE[currency]}`;
}

/**
 * Parses GetMarketSummary. LastPrice is a JSON number, so the body goes through parseJsonLossless to keep its
 * digits; CreatedTimestampUtc (when IR built the summary) becomes the quote time so a cached/stale summary
 * is seen as stale by the aggregator.
 */
export function parseIndependentReserveSummary(body: string, currency: Currency, now: Date): SourceQuote {
  const json = parseJsonLossless(body);
  if (!isRecord(json)) throw new SyntaxError('market summary is not an object');
  const last = json.LastPrice;
  if (!isPositiveDecimal(last)) throw new SyntaxError('LastPrice missing or not a positive decimal');
  const secondary = json.SecondaryCurrencyCode;
  if (typeof secondary === 'string' && secondary.toUpperCase() !== currency) {
    throw new SyntaxError(`summary is for ${secondary}, expected ${currency}`);
  }
  return { source: 'INDEPENDENT_RESERVE', currency, price: toPlainDecimal(last), at: quoteTime(json.CreatedTimestampUtc, now) };
}

export class IndependentReserveFeed extends RestPollingFeed {
  override readonly source = 'INDEPENDENT_RESERVE' as const;
  private readonly baseUrl: string;
  private readonly currencies: readonly Currency[];

  constructor(options: IndependentReserveFeedOptions = {}) {
    super({ pollMs: options.pollMs ?? 10_000, timeoutMs: options.timeoutMs ?? 5_000, fetchImpl: options.fetchImpl, now: options.now });
    this.baseUrl = options.baseUrl ?? INDEPENDENT_RESERVE_BASE_URL;
    this.currencies = options.currencies ?? ['AUD'];
  }

  protected override poll(signal: AbortSignal): Promise<PromiseSettledResult<SourceQuote>[]> {
    return Promise.allSettled(
      this.currencies.map(async (currency) => {
        const body = await fetchText(independentReserveSummaryUrl(this.baseUrl, currency), {
          timeoutMs: this.opts.timeoutMs,
          fetchImpl: this.opts.fetchImpl,
          signal,
        });
        return parseIndependentReserveSummary(body, currency, this.now());
      }),
    );
  }
}
