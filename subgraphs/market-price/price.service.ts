import type { MikroORM } from '@mikro-orm/postgresql';
import type { EventBus } from '../../lib/bus';
import { log } from '../../lib/logger';
import { type BtcPrice, Currency, PriceTick } from './price-tick.entity';

export type Quote = { source: string; currency: 'AUD' | 'USD'; price: string; at: Date };
/** Anything that emits quotes: the simulated feed, a real exchange feed, or the aggregator. */
export type QuoteSource = { start(onQuote: (q: Quote) => void): Promise<void>; stop(): Promise<void> };

/** Stores every tick, keeps the latest per currency, and publishes `price.btc.<ccy>`. */
export class PriceService {
  private readonly latest = new Map<Currency, BtcPrice>();
  private pending: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly orm: MikroORM,
    private readonly bus: EventBus,
  ) {}

  async start(source: QuoteSource): Promise<void> {
    await source.start((q) => {
      // Serialize writes so ticks are stored in the order they arrived.
      this.pending = this.pending.then(() => this.record(q)).catch((err: Error) => log().warn({ err: err.message }, 'tick not stored'));
    });
  }

  async record(q: Quote): Promise<void> {
    const currency = q.currency === 'USD' ? Currency.USD : Currency.AUD;
    const em = this.orm.em.fork();
    em.create(PriceTick, { currency, price: q.price, source: q.source, at: q.at });
    await em.flush();
    const price: BtcPrice = { currency, price: q.price, source: q.source, at: q.at };
    this.latest.set(currency, price);
    await this.bus.publish(`price.btc.${currency.toLowerCase()}`, {
      __typename: 'BtcPrice',
      version: 1,
      currency,
      price: q.price,
      source: q.source,
      at: q.at.toISOString(),
    });
  }

  async current(currency: Currency): Promise<BtcPrice | null> {
    const hit = this.latest.get(currency);
    if (hit) return hit;
    const row = await this.orm.em.fork().findOne(PriceTick, { currency }, { orderBy: { at: 'desc', id: 'desc' } });
    return row ? { currency, price: row.price, source: row.source, at: row.at } : null;
  }

  async flush(): Promise<void> {
    await this.pending;
  }
}
