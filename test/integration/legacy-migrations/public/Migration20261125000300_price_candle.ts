import { Migration } from '@mikro-orm/migrations';

/**
 * 1-minute, 1-hour and 1-day OHLC candles of the published BTC price (market data: platform-wide,
 * in public). Prices are exact decimals like price_tick's. open_at/close_at are the times of the
 * ticks that set open/close, so partial candles written as deltas merge exactly (candle.store.ts).
 */
export class Migration20261125000300_price_candle extends Migration {
  override up(): void {
    this.addSql(`
      create table if not exists public.price_candle (
        currency text not null check (currency in ('AUD', 'USD')),
        "interval" text not null check ("interval" in ('1m', '1h', '1d')),
        bucket_start timestamptz not null,
        open numeric(20, 2) not null check (open > 0),
        high numeric(20, 2) not null check (high > 0),
        low numeric(20, 2) not null check (low > 0),
        close numeric(20, 2) not null check (close > 0),
        open_at timestamptz not null,
        close_at timestamptz not null,
        ticks integer not null check (ticks > 0),
        primary key (currency, "interval", bucket_start),
        check (low <= open and low <= close and high >= open and high >= close),
        check (open_at <= close_at)
      );`);
    this.addSql(`grant select, insert, update on public.price_candle to abt_app;`);
  }

  override down(): void {
    this.addSql(`drop table if exists public.price_candle;`);
  }
}
