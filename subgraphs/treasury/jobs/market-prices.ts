import type { EventBus, Unsubscribe } from '../../../lib/bus';

/**
 * The latest aggregated BTC/AUD price as market-price publishes it on the bus (`price.btc.aud`),
 * for the paper exchange to fill at. No SQL: averages for PRICE_DROP come through the PricePort
 * (market-price's candles), never from price tables.
 */
export class LatestPrice {
  private last?: { price: string; at: number };
  private unsubscribe?: Unsubscribe;

  constructor(
    private readonly bus: EventBus,
    private readonly maxAgeMs = 60_000,
  ) {}

  async start(): Promise<void> {
    this.unsubscribe = await this.bus.subscribe('price.btc.aud', (_channel, e) => {
      if (e.__typename === 'BtcPrice' && typeof e.price === 'string') this.last = { price: e.price, at: Date.now() };
    });
  }

  async stop(): Promise<void> {
    await this.unsubscribe?.();
  }

  /** The last price heard within maxAgeMs, else null. */
  latest(): Promise<string | null> {
    return Promise.resolve(this.last && Date.now() - this.last.at <= this.maxAgeMs ? this.last.price : null);
  }

  /** For the paper exchange: a fresh price or an error (it then reports UNAVAILABLE). */
  async requireLatest(): Promise<string> {
    const p = await this.latest();
    if (p === null) throw new Error('no fresh BTC/AUD price');
    return p;
  }
}
