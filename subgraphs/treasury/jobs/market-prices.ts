import type { MikroORM } from '@mikro-orm/postgresql';
import type { EventBus, Unsubscribe } from '../../../lib/bus';
import type { PriceReference } from '../purchases/treasury-engine';

/**
 * The workers' view of the market: the latest aggregated AUD price from the bus (`price.btc.aud`,
 * published by the market-price subgraph) and N-day averages from the stored ticks. The paper
 * exchange fills at `latest`; PRICE_DROP rules compare it with the average.
 */
export class MarketPrices implements PriceReference {
  private last?: { price: string; at: number };
  private unsubscribe?: Unsubscribe;

  constructor(
    private readonly bus: EventBus,
    private readonly orm: MikroORM,
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

  async latest(): Promise<string | null> {
    if (this.last && Date.now() - this.last.at <= this.maxAgeMs) return this.last.price;
    const rows = await this.orm.em
      .fork()
      .getConnection()
      .execute<{ price: string }[]>(
        `select price::text as price from public.price_tick where currency = 'AUD' and at > now() - (? * interval '1 millisecond') order by at desc limit 1`,
        [this.maxAgeMs],
      );
    return rows[0]?.price ?? null;
  }

  /** For the paper exchange: a fresh price or an error (it then reports UNAVAILABLE). */
  async requireLatest(): Promise<string> {
    const p = await this.latest();
    if (p === null) throw new Error('no fresh BTC/AUD price');
    return p;
  }

  async averageOverDays(days: number): Promise<string | null> {
    const rows = await this.orm.em
      .fork()
      .getConnection()
      .execute<{ avg: string | null }[]>(
        `select round(avg(price), 2)::text as avg from public.price_tick where currency = 'AUD' and at > now() - (? * interval '1 day')`,
        [days],
      );
    return rows[0]?.avg ?? null;
  }
}
