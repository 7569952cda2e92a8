import { Migration } from '@mikro-orm/migrations';

/**
 * Sells on exchanges without a client order id (Swyftx, #10): a reservation then carries the sats
 * asked to sell (and 0 AUD), so reconciliation after a lost response can match the order by its BTC
 * quantity. A row is a buy (aud_cents > 0, no sats) or a sell (sats > 0, aud_cents = 0), never both.
 */
export class Migration20261202170000_exchange_order_link_sells extends Migration {
  override up(): void {
    this.addSql(`alter table public.exchange_order_link add column if not exists sats bigint;`);
    this.addSql(`alter table public.exchange_order_link drop constraint if exists exchange_order_link_aud_cents_check;`);
    this.addSql(`alter table public.exchange_order_link drop constraint if exists exchange_order_link_quantity_check;`);
    this.addSql(`alter table public.exchange_order_link add constraint exchange_order_link_quantity_check
      check ((sats is null and aud_cents > 0) or (sats > 0 and aud_cents = 0));`);
  }
}
