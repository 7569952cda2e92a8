import { Migration } from '@mikro-orm/migrations';

/**
 * The platform's exchange accounts are shared by all tenants, so the map from our clientOrderId to
 * an exchange's own order id (for exchanges that cannot look orders up by our id: Swyftx) is
 * platform data. A reservation is written before the order is sent, the exchange id after it answers.
 */
export class Migration20261125000400_exchange_order_link extends Migration {
  override up(): void {
    this.addSql(`
      create table if not exists public.exchange_order_link (
        exchange text not null,
        client_order_id text not null,
        exchange_order_id text,
        aud_cents bigint not null check (aud_cents > 0),
        reserved_at timestamptz not null,
        primary key (exchange, client_order_id),
        unique (exchange, exchange_order_id)
      );`);
    this.addSql(`grant select, insert, update on public.exchange_order_link to abt_app;`);
  }
}
