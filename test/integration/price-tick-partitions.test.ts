import { randomBytes } from 'node:crypto';
import type { AbstractSqlConnection, MikroORM } from '@mikro-orm/postgresql';
import { InProcessBus } from '../../lib/bus';
import { migrate, openOwnerOrm } from '../../lib/db/migrate';
import { openAppOrm } from '../../lib/db/orm';
import { APP_ROLE, roleUrl } from '../../lib/db/roles';
import { configureLogger } from '../../lib/logger';
import { loadOrCreateLocalSecrets } from '../../lib/secrets';
import { marketPriceEntities } from '../../subgraphs/market-price';
import { PriceService } from '../../subgraphs/market-price/price.service';
import { maintainTickPartitions, tickPartitionTask } from '../../subgraphs/market-price/tick-partitions';
import { TEST_PG_URL, createTestDatabase, type TestDatabase } from '../helpers/db';
import { at } from '../helpers/present';
import { waitFor } from '../helpers/wait';
import * as legacy from './legacy-migrations/migrate';

/**
 * Raw price ticks in day partitions (#15), against real PostgreSQL: where rows land, that queries
 * prune, that ids stay unique across partitions, the maintenance pass on an injected clock, and the
 * conversion of an existing unpartitioned table.
 */

type Sql = Pick<AbstractSqlConnection, 'execute'>;

const DAY_MS = 86_400_000;
const dayName = (d: Date): string => `price_tick_p${d.toISOString().slice(0, 10).replaceAll('-', '')}`;
const utcDay = (iso: string): Date => new Date(`${iso}T00:00:00Z`);
const addDays = (d: Date, n: number): Date => new Date(d.getTime() + n * DAY_MS);

async function partitions(sql: Sql): Promise<string[]> {
  const rows = await sql.execute<{ name: string }[]>(
    `select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
     where i.inhparent = 'public.price_tick'::regclass order by 1`,
  );
  return rows.map((r) => r.name);
}

type PlanNode = { 'Node Type': string; 'Relation Name'?: string; 'Subplans Removed'?: number; Plans?: PlanNode[] };
/** The relations a plan scans, and how many partitions it removed at executor start. */
function scanned(plan: PlanNode): { relations: string[]; removed: number } {
  const relations: string[] = [];
  let removed = 0;
  const walk = (n: PlanNode): void => {
    if (n['Relation Name']) relations.push(n['Relation Name']);
    removed += n['Subplans Removed'] ?? 0;
    for (const c of n.Plans ?? []) walk(c);
  };
  walk(plan);
  return { relations: relations.sort(), removed };
}
async function explain(sql: Sql, query: string, params: unknown[] = [], analyze = false): Promise<{ relations: string[]; removed: number }> {
  const [row] = await sql.execute<{ 'QUERY PLAN': { Plan: PlanNode }[] }[]>(`explain (format json${analyze ? ', analyze, timing off' : ''}) ${query}`, params);
  return scanned(at(row?.['QUERY PLAN'] ?? [], 0, 'plan').Plan);
}

describe('price_tick day partitions (real PostgreSQL)', () => {
  let db: TestDatabase;
  let owner: Sql;
  let app: MikroORM;
  let appSql: Sql;
  const today = utcDay(new Date().toISOString().slice(0, 10));

  beforeAll(async () => {
    configureLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
    db = await createTestDatabase();
    owner = db.owner.em.getConnection();
    app = await openAppOrm(db.appUrl, marketPriceEntities, 4);
    appSql = app.em.getConnection();
  });

  afterAll(async () => {
    await app?.close(true);
    await db?.drop();
  });

  it('a fresh database has a partitioned price_tick with today and the next 7 days, unique (id, at) its only unique index', async () => {
    expect(await owner.execute(`select relkind::text from pg_class where oid = 'public.price_tick'::regclass`)).toEqual([{ relkind: 'p' }]);
    expect(await owner.execute(`select pg_get_partkeydef('public.price_tick'::regclass) as key`)).toEqual([{ key: 'RANGE (at)' }]);
    const expected = Array.from({ length: 8 }, (_, i) => dayName(addDays(today, i)));
    expect((await partitions(owner)).filter((p) => expected.includes(p))).toEqual(expected);
    expect(
      await owner.execute(
        `select i.indexrelid::regclass::text as name, pg_get_indexdef(i.indexrelid) as def from pg_index i
         where i.indrelid = 'public.price_tick'::regclass and i.indisunique`,
      ),
    ).toEqual([{ name: 'price_tick_id_at_key', def: 'CREATE UNIQUE INDEX price_tick_id_at_key ON ONLY public.price_tick USING btree (id, at)' }]);
    // The app may run the maintenance function, not the partition maker, and reads/writes ticks only through the parent.
    expect(
      await owner.execute(
        `select has_function_privilege(?, 'public.price_tick_partitions(timestamptz, integer, integer)', 'EXECUTE') as maintain,
                has_function_privilege(?, 'public.price_tick_partition_for(date)', 'EXECUTE') as make,
                has_table_privilege(?, 'public.price_tick', 'INSERT') as insert,
                has_table_privilege(?, 'public.price_tick', 'DELETE') as delete,
                has_table_privilege(?, ?, 'SELECT') as partition_select`,
        [APP_ROLE, APP_ROLE, APP_ROLE, APP_ROLE, APP_ROLE, `public.${dayName(today)}`],
      ),
    ).toEqual([{ maintain: true, make: false, insert: true, delete: false, partition_select: false }]);
    await expect(appSql.execute(`select public.price_tick_partition_for(current_date + 200)`)).rejects.toThrow(/permission denied/);
  });

  it('ticks recorded by the price service land in the partition of their UTC day; candles are built from them', async () => {
    const prices = new PriceService(app, new InProcessBus(), { candleFlushMs: 60_000 });
    const times = [addDays(today, 0), new Date(today.getTime() + DAY_MS - 1), addDays(today, 1), new Date(addDays(today, 2).getTime() + 3_600_000)];
    for (const [i, t] of times.entries()) {
      await prices.record({ currency: 'AUD', price: `${150000 + i}.00`, sources: ['SIMULATED'], rejected: [], at: t });
    }
    await prices.candles.flush();
    const rows = await appSql.execute<{ part: string; at: Date }[]>(
      `select tableoid::regclass::text as part, at from public.price_tick where source = 'SIMULATED' and at >= ? order by at`,
      [today],
    );
    expect(rows.map((r) => r.part)).toEqual(times.map((t) => dayName(utcDay(t.toISOString().slice(0, 10)))));
    expect(rows.map((r) => r.part)).toEqual([dayName(today), dayName(today), dayName(addDays(today, 1)), dayName(addDays(today, 2))]);
    const [candles] = await owner.execute<{ n: number }[]>(`select count(*)::int as n from public.price_candle where "interval" = '1d' and bucket_start >= ?`, [today]);
    expect(candles?.n).toBe(3);
  });

  it('a tick for a day with no partition yet (maintenance not run) gets its partition and is stored', async () => {
    const prices = new PriceService(app, new InProcessBus(), { candleFlushMs: 60_000 });
    const when = new Date('2025-06-01T09:30:00Z');
    expect(await partitions(owner)).not.toContain('price_tick_p20250601');
    await prices.record({ currency: 'USD', price: '99000.00', sources: ['SIMULATED'], rejected: [], at: when });
    expect(await owner.execute(`select tableoid::regclass::text as part, price::text as price from public.price_tick where at = ?`, [when])).toEqual([
      { part: 'price_tick_p20250601', price: '99000.00' },
    ]);
    // Only that day and the next were made; nothing dropped.
    expect((await partitions(owner)).filter((p) => p.startsWith('price_tick_p202506'))).toEqual(['price_tick_p20250601', 'price_tick_p20250602']);
    await prices.candles.flush();
  });

  it('queries prune partitions: a day range plans one partition; the last-minutes read skips every past day at run time', async () => {
    const day = addDays(today, 1);
    const plan = await explain(appSql, `select price from public.price_tick where currency = 'AUD' and at >= ? and at < ?`, [day, addDays(day, 1)]);
    expect(plan.relations).toEqual([dayName(day)]);
    // Six past days (as after a week of running), then prices.port.ts latest(): `at > now() - …` is
    // pruned when the executor starts (now() is stable), so no past day is scanned.
    await maintainTickPartitions(app, { retentionDays: 30, aheadDays: 5 }, addDays(today, -6));
    const all = await partitions(owner);
    const past = all.filter((p) => p < dayName(today));
    expect(past.length).toBeGreaterThanOrEqual(6);
    const latest = await explain(
      appSql,
      `select price::text as price from public.price_tick where currency = 'AUD' and at > now() - (? * interval '1 millisecond') order by at desc limit 1`,
      [60_000],
      true,
    );
    expect(latest.relations.filter((r) => past.includes(r))).toEqual([]);
    expect(latest.removed).toBe(past.length);
    expect(latest.relations).toEqual(all.filter((p) => !past.includes(p)));
  });

  it('ids stay unique across partitions: every insert gets its id from the sequence, whatever it supplies', async () => {
    const [{ id: taken } = { id: '' }] = await appSql.execute<{ id: string }[]>(`select id::text as id from public.price_tick order by id limit 1`);
    expect(taken).not.toBe('');
    // The app role and the owner both try to reuse an id in another day's partition.
    await appSql.execute(`insert into public.price_tick (id, currency, price, source, at) values (?, 'AUD', 1.00, 'reuse-app', ?)`, [taken, addDays(today, 3)]);
    await owner.execute(`insert into public.price_tick (id, currency, price, source, at) values (?, 'USD', 1.00, 'reuse-owner', ?)`, [taken, addDays(today, 4)]);
    const reused = await owner.execute<{ id: string }[]>(`select id::text as id from public.price_tick where source like 'reuse-%'`);
    expect(reused).toHaveLength(2);
    for (const r of reused) expect(r.id).not.toBe(taken);
    // 200 ticks from 20 concurrent connections over three days: all distinct.
    const pool = await openAppOrm(db.appUrl, [], 20);
    try {
      await Promise.all(
        Array.from({ length: 20 }, (_, c) =>
          pool.em.fork().transactional(async (em) => {
            for (let k = 0; k < 10; k++) {
              await em.execute(`insert into public.price_tick (currency, price, source, at) values ('AUD', 2.00, 'concurrent', ?)`, [addDays(today, (c + k) % 3)]);
            }
          }),
        ),
      );
    } finally {
      await pool.close(true);
    }
    const [counts] = await owner.execute<{ n: number; ids: number; concurrent: number }[]>(
      `select count(*)::int as n, count(distinct id)::int as ids, count(*) filter (where source = 'concurrent')::int as concurrent from public.price_tick`,
    );
    expect(counts?.concurrent).toBe(200);
    expect(counts?.ids).toBe(counts?.n);
  });

  describe('maintenance on an injected clock', () => {
    const T0 = new Date('2025-01-10T12:00:00Z');
    const settings = { retentionDays: 30, aheadDays: 3 };

    it('creates today and the days ahead, once', async () => {
      expect(await maintainTickPartitions(app, settings, T0)).toEqual({
        created: ['price_tick_p20250110', 'price_tick_p20250111', 'price_tick_p20250112', 'price_tick_p20250113'],
        dropped: [],
      });
      expect(await maintainTickPartitions(app, settings, T0)).toEqual({ created: [], dropped: [] });
    });

    it('drops only whole raw-tick days past the retention; newer days, other partitions and candles stay', async () => {
      const prices = new PriceService(app, new InProcessBus(), { candleFlushMs: 60_000 });
      for (const d of ['2025-01-10', '2025-01-11', '2025-01-12', '2025-01-13']) {
        await prices.record({ currency: 'AUD', price: '100000.00', sources: ['SIMULATED'], rejected: [], at: new Date(`${d}T23:59:59.999Z`) });
      }
      await prices.candles.flush();
      // A partition outside the naming scheme (an operator's archive) is never the job's to drop.
      await owner.execute(`create table public.price_tick_archive_2024 partition of public.price_tick for values from ('2024-01-01') to ('2024-02-01')`);
      await owner.execute(`insert into public.price_tick (currency, price, source, at) values ('AUD', 90000.00, 'archive', '2024-01-15T00:00:00Z')`);
      const candlesBefore = await owner.execute(`select * from public.price_candle order by currency, "interval", bucket_start`);
      expect(candlesBefore.length).toBeGreaterThanOrEqual(12);

      // 33 days on: the cutoff is 2025-02-12 − 30 d = 2025-01-13; the 10th–12th are wholly older.
      const T1 = new Date(T0.getTime() + 33 * DAY_MS);
      expect(await maintainTickPartitions(app, settings, T1)).toEqual({
        created: ['price_tick_p20250212', 'price_tick_p20250213', 'price_tick_p20250214', 'price_tick_p20250215'],
        dropped: ['price_tick_p20250110', 'price_tick_p20250111', 'price_tick_p20250112'],
      });
      const left = await partitions(owner);
      expect(left).toContain('price_tick_p20250113');
      expect(left).toContain('price_tick_archive_2024');
      for (let i = 0; i < 8; i++) expect(left).toContain(dayName(addDays(today, i)));
      expect(
        await owner.execute(`select to_char(at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS') as at from public.price_tick where at >= '2025-01-01' and at < '2025-02-01'`),
      ).toEqual([{ at: '2025-01-13 23:59:59.999' }]);
      expect(await owner.execute(`select count(*)::int as n from public.price_tick where source = 'archive'`)).toEqual([{ n: 1 }]);
      expect(await owner.execute(`select * from public.price_candle order by currency, "interval", bucket_start`)).toEqual(candlesBefore);
      expect(await maintainTickPartitions(app, settings, T1)).toEqual({ created: [], dropped: [] });
    });

    it('refuses a retention under 7 days, a clock ahead of the database and bad lookahead, dropping nothing', async () => {
      const before = await partitions(owner);
      await expect(maintainTickPartitions(app, { retentionDays: 3, aheadDays: 3 }, new Date())).rejects.toThrow(/PRICE_TICK_RETENTION_DAYS/);
      await expect(maintainTickPartitions(app, { retentionDays: 30, aheadDays: 0 }, new Date())).rejects.toThrow(/PRICE_TICK_PARTITIONS_AHEAD_DAYS/);
      // The SQL function holds the same bounds for whoever calls it with the app role.
      await expect(appSql.execute(`select * from public.price_tick_partitions(now(), 3, 1)`)).rejects.toThrow(/retention_days must be 7/);
      // A clock a year ahead would put every day past the retention: refused.
      await expect(maintainTickPartitions(app, settings, new Date(Date.now() + 365 * DAY_MS))).rejects.toThrow(/later than the database clock/);
      expect(await partitions(owner)).toEqual(before);
    });

    it('runs as the workers’ background task on its clock', async () => {
      const task = tickPartitionTask(app, { ...settings, intervalMs: 60_000 }, () => new Date('2025-03-01T08:00:00Z'));
      task.start(0);
      try {
        await waitFor(async () => (await partitions(owner)).includes('price_tick_p20250304'), 'the task’s first pass');
      } finally {
        await task.stop();
      }
      // 2025-03-01 − 30 d = 2025-01-30: the 13th went, February's days stay.
      const left = await partitions(owner);
      expect(left).not.toContain('price_tick_p20250113');
      expect(left).toContain('price_tick_p20250212');
    });
  });
});

describe('price_tick: converting an existing unpartitioned table (real PostgreSQL)', () => {
  const rolePassword = loadOrCreateLocalSecrets('.data').appDbPassword;
  let name: string;
  let url: string;

  beforeAll(async () => {
    configureLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
    name = `abt_test_${randomBytes(6).toString('hex')}`;
    const admin = await openOwnerOrm(TEST_PG_URL);
    try {
      await admin.em.getConnection().execute(`create database ${name}`);
    } finally {
      await admin.close(true);
    }
    const u = new URL(TEST_PG_URL);
    u.pathname = `/${name}`;
    url = u.toString();
  });

  afterAll(async () => {
    const admin = await openOwnerOrm(TEST_PG_URL);
    try {
      await admin.em.getConnection().execute(`drop database if exists ${name} with (force)`);
    } finally {
      await admin.close(true);
    }
  });

  it('keeps every row with its id and values, each in its day, and the sequence goes on past them', async () => {
    // The old code's database, ticks written by the app role over 40 days (and a gap in the ids).
    await legacy.migrate(url, rolePassword);
    const oldApp = await openAppOrm(roleUrl(url, APP_ROLE, rolePassword), [], 2);
    try {
      await oldApp.em
        .getConnection()
        .execute(
          `insert into public.price_tick (currency, price, source, at)
           select case when g % 3 = 0 then 'USD' else 'AUD' end, 100000 + (g % 977) + 0.01 * (g % 100), 'legacy', now() - g * interval '12 minutes'
           from generate_series(1, 4800) g`,
        );
    } finally {
      await oldApp.close(true);
    }
    const orm = await openOwnerOrm(url);
    try {
      const sql = orm.em.getConnection();
      await sql.execute(`delete from public.price_tick where id between 100 and 120`);
      const fingerprint = `select count(*)::int as n, max(id)::text as max_id,
        md5(string_agg(id || '|' || currency || '|' || price::text || '|' || source || '|' || extract(epoch from at)::text, ',' order by id)) as digest
        from public.price_tick`;
      const [before] = await sql.execute<{ n: number; max_id: string; digest: string }[]>(fingerprint);
      expect(before?.n).toBe(4800 - 21);
      expect(await sql.execute(`select relkind::text from pg_class where oid = 'public.price_tick'::regclass`)).toEqual([{ relkind: 'r' }]);

      const report = await migrate(url, rolePassword);
      expect(report.public).toContain('Migration20261203160000_price_tick_partitions');

      expect(await sql.execute(`select relkind::text from pg_class where oid = 'public.price_tick'::regclass`)).toEqual([{ relkind: 'p' }]);
      expect(await sql.execute(fingerprint)).toEqual([before]);
      expect(await sql.execute(`select to_regclass('public.price_tick_unpartitioned')::text as r`)).toEqual([{ r: null }]);
      // Every row sits in the partition named after its UTC day; ~40 days of ticks, so ~41 partitions of them.
      expect(
        await sql.execute(
          `select count(*)::int as misplaced from public.price_tick
           where tableoid::regclass::text <> 'price_tick_p' || to_char(at at time zone 'UTC', 'YYYYMMDD')`,
        ),
      ).toEqual([{ misplaced: 0 }]);
      expect(
        at(await sql.execute<{ n: number }[]>(`select count(distinct tableoid)::int as n from public.price_tick`), 0, 'partitions').n,
      ).toBeGreaterThanOrEqual(40);
      // The app role still writes through the parent, and new ids continue after the old ones.
      const newApp = await openAppOrm(roleUrl(url, APP_ROLE, rolePassword), [], 2);
      try {
        const [row] = await newApp.em
          .getConnection()
          .execute<{ id: string }[]>(`insert into public.price_tick (currency, price, source) values ('AUD', 1.00, 'after') returning id::text as id`);
        expect(BigInt(row?.id ?? '0')).toBeGreaterThan(BigInt(before?.max_id ?? '0'));
      } finally {
        await newApp.close(true);
      }
      // And migrating again changes nothing.
      expect((await migrate(url, rolePassword)).public).toEqual([]);
    } finally {
      await orm.close(true);
    }
  });
});
