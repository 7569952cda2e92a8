/**
 * Where PRICE_DROP rules read the market: the latest aggregated AUD price and its N-day average, as
 * exact decimal strings (null when there is no data). The same shape as ModulePorts['prices']
 * (lib/module.ts): market-price provides it from its candles; treasury never reads price tables.
 */
export type PricePort = {
  latest(): Promise<string | null>;
  averageOverDays(days: number): Promise<string | null>;
};

