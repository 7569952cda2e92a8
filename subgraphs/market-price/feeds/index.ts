import { BtcMarketsFeed } from './btc-markets.feed';
import type { FetchLike } from './http-fetch';
import { IndependentReserveFeed } from './independent-reserve.feed';
import { KrakenWsFeed } from './kraken-ws.feed';
import type { Currency, PriceFeed } from './price-feed.types';
import { SimulatedFeed } from './simulated.feed';

export type { Currency, PriceFeed, PriceSource, SourceQuote } from './price-feed.types';

/** The names an operator lists (e.g. `PRICE_FEEDS=kraken,independent-reserve,btc-markets`). */
export const PRICE_FEED_NAMES = ['simulated', 'kraken', 'independent-reserve', 'btc-markets'] as const;
export type PriceFeedName = (typeof PRICE_FEED_NAMES)[number];

export type PriceFeedsOptions = {
  /** Which feeds to run; default `['simulated']`. The simulation cannot be mixed with real markets. */
  feeds?: readonly PriceFeedName[];
  simulated?: { seed?: number; intervalMs?: number; startPriceAud?: string; audUsdRate?: string };
  /** Kraken WS v2 ticker (`wss://ws.kraken.com/v2`) with REST fallback (`https://api.kraken.com`); AUD and USD. */
  kraken?: { wsUrl?: string; restBaseUrl?: string; currencies?: readonly Currency[]; staleAfterMs?: number };
  /** Independent Reserve public REST (`https://api.independentreserve.com`); AUD and USD. */
  independentReserve?: { baseUrl?: string; pollMs?: number; currencies?: readonly Currency[] };
  /** BTC Markets v3 public REST (`https://api.btcmarkets.net`); AUD only. */
  btcMarkets?: { baseUrl?: string; pollMs?: number };
  /** Request timeout of the REST feeds. */
  timeoutMs?: number;
  fetchImpl?: FetchLike;
};

/** Parses a comma-separated feed list (config), refusing unknown names, duplicates and an empty list. */
export function parsePriceFeedList(text: string): PriceFeedName[] {
  const names = text
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '');
  if (names.length === 0) throw new RangeError('at least one price feed is required');
  const known = new Set<string>(PRICE_FEED_NAMES);
  const unknown = names.filter((n) => !known.has(n));
  if (unknown.length) throw new RangeError(`unknown price feed(s): ${unknown.join(', ')} (known: ${PRICE_FEED_NAMES.join(', ')})`);
  if (new Set(names).size !== names.length) throw new RangeError('a price feed is listed twice');
  return names as PriceFeedName[];
}

/**
 * Builds the feeds an option list names, for PriceService.start (which aggregates them). Nothing
 * connects until start. A simulated price is never blended into a market median: `simulated` must
 * be the only feed.
 */
export function createPriceFeeds(opts: PriceFeedsOptions = {}): PriceFeed[] {
  const names = opts.feeds ?? ['simulated'];
  if (names.length === 0) throw new RangeError('at least one price feed is required');
  if (new Set(names).size !== names.length) throw new RangeError('a price feed is listed twice');
  if (names.includes('simulated') && names.length > 1) {
    throw new RangeError('the simulated feed cannot be combined with real market feeds');
  }
  const timeoutMs = opts.timeoutMs;
  const fetchImpl = opts.fetchImpl;
  return names.map((name): PriceFeed => {
    switch (name) {
      case 'simulated':
        return new SimulatedFeed({
          seed: opts.simulated?.seed ?? 20261125,
          intervalMs: opts.simulated?.intervalMs ?? 5000,
          startPriceAud: opts.simulated?.startPriceAud,
          audUsdRate: opts.simulated?.audUsdRate,
        });
      case 'kraken':
        return new KrakenWsFeed({ ...opts.kraken, restTimeoutMs: timeoutMs, fetchImpl });
      case 'independent-reserve':
        return new IndependentReserveFeed({ ...opts.independentReserve, timeoutMs, fetchImpl, currencies: opts.independentReserve?.currencies ?? ['AUD', 'USD'] });
      case 'btc-markets':
        return new BtcMarketsFeed({ ...opts.btcMarkets, timeoutMs, fetchImpl });
      default: {
        const never: never = name;
        throw new RangeError(`unknown price feed ${String(never)}`);
      }
    }
  });
}
