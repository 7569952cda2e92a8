import { Migration } from '@mikro-orm/migrations';

/**
 * Raw price ticks, range-partitioned by `at` into UTC days (`price_tick_pYYYYMMDD`), so retention
 * drops a day's partition instead of deleting rows (#15). The unpartitioned table is converted in
 * place: its rows are copied (every one; the counts are compared) and it is dropped, all in the
 * migration's transaction, under an exclusive lock so no tick is written meanwhile.
 *
 * Uniqueness: a unique index of a partitioned table must contain the partition key, so the primary
 * key on id becomes a unique index on (id, at) (an index, not a constraint: pg_restore --clean, used
 * by `npm run restore -- --over-live`, cannot drop a partition's inherited constraint, but it does
 * handle partitioned indexes). `id` stays unique across partitions because a trigger assigns every
 * new row's id from `price_tick_id_seq` (never cycles), whatever the insert supplies; only the
 * copied rows keep their ids, which were unique under the old primary key.
 *
 * Partitions are made and dropped by two owner functions: `price_tick_partition_for(day)` (owner
 * only) and `price_tick_partitions(now, ahead_days, retention_days)`, which the app role may run
 * (security definer, tick-partitions.ts): it creates today's and the next days' partitions and drops
 * whole days older than the retention. It never drops a day younger than 7 days, and never on a
 * clock later than the database's, so the app role cannot use it to empty the table.
 */
export class Migration20261203160000_price_tick_partitions extends Migration {
  override up(): void {
    this.addSql(`
      create or replace function public.price_tick_partition_for(p_day date) returns text
      language plpgsql set search_path = pg_catalog, public as $$
      declare
        part text := 'price_tick_p' || to_char(p_day, 'YYYYMMDD');
      begin
        if to_regclass('public.' || part) is not null then return null; end if;
        execute format('create table public.%I partition of public.price_tick for values from (%L) to (%L)',
          part, p_day::text || ' 00:00:00+00', (p_day + 1)::text || ' 00:00:00+00');
        return part;
      end $$;`);
    this.addSql(`revoke all on function public.price_tick_partition_for(date) from public;`);

    this.addSql(`
      do $$
      declare
        copied bigint;
        original bigint;
        d date;
      begin
        if (select c.relkind from pg_class c where c.oid = 'public.price_tick'::regclass) = 'p' then return; end if;
        lock table public.price_tick in access exclusive mode;
        alter sequence public.price_tick_id_seq owned by none;
        alter table public.price_tick rename to price_tick_unpartitioned;
        alter table public.price_tick_unpartitioned rename constraint price_tick_pkey to price_tick_unpartitioned_pkey;
        alter index public.price_tick_currency_at_idx rename to price_tick_unpartitioned_currency_at_idx;

        create table public.price_tick (
          id bigint not null default nextval('public.price_tick_id_seq'::regclass),
          currency text not null check (currency in ('AUD', 'USD')),
          price numeric(20, 2) not null check (price > 0),
          source text not null,
          at timestamptz not null default now()
        ) partition by range (at);
        create unique index price_tick_id_at_key on public.price_tick (id, at);
        create index price_tick_currency_at_idx on public.price_tick (currency, at desc);
        alter sequence public.price_tick_id_seq owned by public.price_tick.id;

        -- A partition for every UTC day that has ticks, then the rows with their ids.
        for d in select distinct (t.at at time zone 'UTC')::date from public.price_tick_unpartitioned t loop
          perform public.price_tick_partition_for(d);
        end loop;
        insert into public.price_tick (id, currency, price, source, at)
          select id, currency, price, source, at from public.price_tick_unpartitioned;
        get diagnostics copied = row_count;
        select count(*) into original from public.price_tick_unpartitioned;
        if copied <> original then
          raise exception 'price_tick: copied % of % rows', copied, original;
        end if;
        drop table public.price_tick_unpartitioned;
      end $$;`);

    // Today and the next 7 days exist from the start, before the maintenance job first runs.
    this.addSql(`
      do $$
      begin
        for i in 0..7 loop
          perform public.price_tick_partition_for(((now() at time zone 'UTC')::date + i));
        end loop;
      end $$;`);

    this.addSql(`
      create or replace function public.price_tick_assign_id() returns trigger
      language plpgsql set search_path = pg_catalog, public as $$
      begin
        new.id := nextval('public.price_tick_id_seq'::regclass);
        return new;
      end $$;`);
    this.addSql(`drop trigger if exists price_tick_assign_id on public.price_tick;`);
    this.addSql(`create trigger price_tick_assign_id before insert on public.price_tick for each row execute function public.price_tick_assign_id();`);

    this.addSql(`
      create or replace function public.price_tick_partitions(p_now timestamptz, p_ahead_days integer, p_retention_days integer)
      returns table (action text, partition_name text)
      language plpgsql security definer set search_path = pg_catalog, public as $$
      declare
        today date;
        cutoff date;
        made text;
        r record;
      begin
        if p_now is null or p_now > now() + interval '1 day' then
          raise exception using errcode = '22023', message = 'price_tick_partitions: now must not be later than the database clock';
        end if;
        if p_ahead_days is null or p_ahead_days < 1 or p_ahead_days > 90 then
          raise exception using errcode = '22023', message = 'price_tick_partitions: ahead_days must be 1..90';
        end if;
        if p_retention_days is not null and (p_retention_days < 7 or p_retention_days > 36500) then
          raise exception using errcode = '22023', message = 'price_tick_partitions: retention_days must be 7..36500';
        end if;
        perform pg_advisory_xact_lock(hashtext('abt-price-tick-partitions'));
        today := (p_now at time zone 'UTC')::date;
        for i in 0..p_ahead_days loop
          made := public.price_tick_partition_for(today + i);
          if made is not null then
            action := 'created'; partition_name := made; return next;
          end if;
        end loop;
        if p_retention_days is null then return; end if;
        -- A day's partition goes once all of it is older than the retention, on the earlier clock.
        cutoff := (least(p_now, now()) at time zone 'UTC')::date - p_retention_days;
        for r in
          select c.relname::text as relname from pg_inherits i join pg_class c on c.oid = i.inhrelid
          where i.inhparent = 'public.price_tick'::regclass and c.relname ~ '^price_tick_p[0-9]{8}$'
          order by c.relname
        loop
          if to_date(substr(r.relname, 13), 'YYYYMMDD') < cutoff then
            execute format('drop table public.%I', r.relname);
            action := 'dropped'; partition_name := r.relname; return next;
          end if;
        end loop;
      end $$;`);
    this.addSql(`revoke all on function public.price_tick_partitions(timestamptz, integer, integer) from public;`);
    this.addSql(`grant execute on function public.price_tick_partitions(timestamptz, integer, integer) to abt_app;`);
  }
}
