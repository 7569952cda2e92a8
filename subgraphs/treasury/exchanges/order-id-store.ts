import type { ExchangeName } from './exchange.types';

/**
 * Maps our clientOrderId to the exchange's order id, for exchanges that cannot look orders up by a
 * client id (Swyftx). `reserve` is written before the order is sent and `link` after, so a crash or
 * lost response in between leaves a reservation that reconciliation can resolve.
 */
export type OrderIdRecord = {
  clientOrderId: string;
  exchangeOrderId: string | null;
  /** The AUD a buy asked to spend; 0 for a sell. */
  audCents: bigint;
  /** The sats a sell asked to sell; absent (or null) for a buy. */
  sats?: bigint | null;
  reservedAt: Date;
};

export type OrderIdStore = {
  get(exchange: ExchangeName, clientOrderId: string): Promise<OrderIdRecord | null>;
  /** Records intent to place; must be durable before the order request is sent. */
  reserve(exchange: ExchangeName, record: OrderIdRecord): Promise<void>;
  link(exchange: ExchangeName, clientOrderId: string, exchangeOrderId: string): Promise<void>;
  /** The clientOrderId an exchange order is already linked to, so one order is never adopted twice. */
  clientOrderIdFor(exchange: ExchangeName, exchangeOrderId: string): Promise<string | null>;
};

/** Process-local store: fine for tests and paper trading; production needs a durable one. */
export class InMemoryOrderIdStore implements OrderIdStore {
  private readonly byClient = new Map<string, OrderIdRecord>();
  private readonly byExchangeId = new Map<string, string>();

  get(exchange: ExchangeName, clientOrderId: string): Promise<OrderIdRecord | null> {
    const r = this.byClient.get(`${exchange}|${clientOrderId}`);
    return Promise.resolve(r ? { ...r } : null);
  }

  reserve(exchange: ExchangeName, record: OrderIdRecord): Promise<void> {
    const key = `${exchange}|${record.clientOrderId}`;
    if (!this.byClient.has(key)) this.byClient.set(key, { ...record });
    return Promise.resolve();
  }

  link(exchange: ExchangeName, clientOrderId: string, exchangeOrderId: string): Promise<void> {
    const key = `${exchange}|${clientOrderId}`;
    const r = this.byClient.get(key);
    if (!r) return Promise.reject(new Error('link without reserve'));
    r.exchangeOrderId = exchangeOrderId;
    this.byExchangeId.set(`${exchange}|${exchangeOrderId}`, clientOrderId);
    return Promise.resolve();
  }

  clientOrderIdFor(exchange: ExchangeName, exchangeOrderId: string): Promise<string | null> {
    return Promise.resolve(this.byExchangeId.get(`${exchange}|${exchangeOrderId}`) ?? null);
  }
}
