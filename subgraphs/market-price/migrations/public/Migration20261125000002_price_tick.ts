import { Migration } from '@mikro-orm/migrations';

/** The published BTC price ticks (market data: platform-wide, in public). */
export class Migration20261125000002_price_tick extends Migration {
  /** Applied as part of the platform migration before modules owned their migrations. */
  static readonly replaces = ['Migration20261125000000_platform'];

  override async up(): Promise<void> {
    this.addSql(`
      create table if not exists public.price_tick (
        id bigserial primary key,
        currency text not null check (currency in ('AUD', 'USD')),
        price numeric(20, 2) not null check (price > 0),
        source text not null,
        at timestamptz not null default now()
      );`);
    this.addSql(`create index if not exists price_tick_currency_at_idx on public.price_tick (currency, at desc);`);
  }
}
