export type Currency = 'AUD' | 'USD';

export type PriceSource = 'SIMULATED' | 'KRAKEN' | 'INDEPENDENT_RESERVE' | 'BTC_MARKETS';

/** One BTC price observation from one source; `price` is an exact decimal string, never a float. */
export type SourceQuote = {
  source: PriceSource;
  currency: Currency;
  price: string;
  at: Date;
};

/** A price source. start() never rejects because an upstream is down: outages just yield no quotes. */
export interface PriceFeed {
  readonly source: PriceSource;
  start(onQuote: (q: SourceQuote) => void): Promise<void>;
  stop(): Promise<void>;
}

