import type { MikroORM } from '@mikro-orm/postgresql';
import type { ModulePorts } from '../../lib/module';

/** How old the newest tick may be to count as the latest price. */
const FRESH_MS = 60_000;

/**
 * market-price's `prices` port, from its own tables: the newest AUD tick (fresh within a minute), and
 * N-day averages over the 1-hour candles it folds the ticks into (each hour counts once, however many
 * ticks it had), not over the raw ticks.
 */
export function candlePrices(orm: MikroORM, freshMs = FRESH_MS): ModulePorts['prices'] {
  const sql = orm.em.getConnection();
  return {
    async latest() {
      const rows = await sql.execute<{ price: string }[]>(
        `select price::text as price from public.price_tick where currency = 'AUD' and at > now() - (? * interval '1 millisecond') order by at desc limit 1`,
        [freshMs],
      );
      return rows[0]?.price ?? null;
    },
    async averageOverDays(days: number) {
      const rows = await sql.execute<{ avg: string | null }[]>(
        `select round(avg(close), 2)::text as avg from public.price_candle
         where currency = 'AUD' and "interval" = '1h' and bucket_start > now() - (? * interval '1 day')`,
        [days],
      );
      return rows[0]?.avg ?? null;
    },
    async closeAt(at: Date) {
      // A 1-minute bucket ends by `at` when it starts a minute or more before it (month ends are whole minutes in every zone).
      const rows = await sql.execute<{ close: string }[]>(
        `select close::text as close from public.price_candle
         where currency = 'AUD' and "interval" = '1m' and bucket_start <= ?::timestamptz - interval '1 minute'
         order by bucket_start desc limit 1`,
        [at],
      );
      return rows[0]?.close ?? null;
    },
  };
}
