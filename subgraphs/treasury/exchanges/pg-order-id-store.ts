import type { MikroORM } from '@mikro-orm/postgresql';
import type { ExchangeName } from './exchange.types';
import type { OrderIdRecord, OrderIdStore } from './order-id-store';

type Row = { client_order_id: string; exchange_order_id: string | null; aud_cents: string; sats: string | null; reserved_at: Date | string };

/** The durable OrderIdStore: survives the worker process, so a restart can reconcile a Swyftx order. */
export class PgOrderIdStore implements OrderIdStore {
  constructor(private readonly orm: MikroORM) {}

  private sql<T>(query: string, params: unknown[]): Promise<T[]> {
    return this.orm.em.fork().getConnection().execute<T[]>(query, params);
  }

  async get(exchange: ExchangeName, clientOrderId: string): Promise<OrderIdRecord | null> {
    const [r] = await this.sql<Row>(
      `select client_order_id, exchange_order_id, aud_cents::text, sats::text, reserved_at from public.exchange_order_link where exchange = ? and client_order_id = ?`,
      [exchange, clientOrderId],
    );
    return r
      ? {
          clientOrderId: r.client_order_id,
          exchangeOrderId: r.exchange_order_id,
          audCents: BigInt(r.aud_cents),
          sats: r.sats === null ? null : BigInt(r.sats),
          // A raw query may answer timestamptz as text.
          reservedAt: new Date(r.reserved_at),
        }
      : null;
  }

  async reserve(exchange: ExchangeName, record: OrderIdRecord): Promise<void> {
    await this.sql(
      `insert into public.exchange_order_link (exchange, client_order_id, exchange_order_id, aud_cents, sats, reserved_at) values (?, ?, ?, ?, ?, ?)
       on conflict (exchange, client_order_id) do nothing`,
      [exchange, record.clientOrderId, record.exchangeOrderId, record.audCents.toString(), record.sats == null ? null : record.sats.toString(), record.reservedAt],
    );
  }

  async link(exchange: ExchangeName, clientOrderId: string, exchangeOrderId: string): Promise<void> {
    const rows = await this.sql<{ client_order_id: string }>(
      `update public.exchange_order_link set exchange_order_id = ? where exchange = ? and client_order_id = ? returning client_order_id`,
      [exchangeOrderId, exchange, clientOrderId],
    );
    if (rows.length === 0) throw new Error('link without reserve');
  }

  async clientOrderIdFor(exchange: ExchangeName, exchangeOrderId: string): Promise<string | null> {
    const [r] = await this.sql<{ client_order_id: string }>(
      `select client_order_id from public.exchange_order_link where exchange = ? and exchange_order_id = ?`,
      [exchange, exchangeOrderId],
    );
    return r?.client_order_id ?? null;
  }
}
