import { randomUUID } from 'node:crypto';
import type { AbstractSqlConnection, EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { provisionDedicatedSchema } from '../../lib/db/migrate';
import { openAppOrm } from '../../lib/db/orm';
import { APP_ROLE, RELAY_ROLE } from '../../lib/db/roles';
import { TenantDirectory } from '../../lib/db/tenant-context';
import { TenantTransactions } from '../../lib/db/tenant-tx';
import { configureLogger } from '../../lib/logger';
import { AML_OFFICER_ROLE } from '../../subgraphs/compliance/migrations/aml';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { at, present } from '../helpers/present';

/**
 * Row-level security as the application role sees it: real PostgreSQL, the non-owner `abt_app`
 * role, raw SQL with no tenant filter. The owner connection (a superuser) arranges and inspects.
 */

type Value = string | number | boolean | null;
type Row = Record<string, Value>;
/** Raw SQL on one connection (the owner's, here). */
type Sql = Pick<AbstractSqlConnection, 'execute'>;
type Scope = { schema: string; tenant?: string | null };

const KNOWN_TABLES = ['audit_event', 'audit_head', 'outbox', 'treasury_rule'];

/** Rows for one tenant, without tenant_id. Tables the catalog finds but this map lacks get a generic row. */
const SEEDS: Record<string, (label: string) => Row[]> = {
  treasury_rule: (label) =>
    [1, 2].map((i) => ({ id: randomUUID(), name: `${label} rule ${i}`, type: 'PERCENTAGE_OF_REVENUE', percentage_bps: 100 * i })),
  audit_event: (label) =>
    [1, 2].map((i) => ({
      id: randomUUID(),
      seq: i,
      event_type: 'seeded',
      subject_type: 'tenant',
      subject_id: label,
      payload: JSON.stringify({ label, i }),
      created_at: new Date().toISOString(),
      prev_hash: '0'.repeat(64),
      hash: `seed-${label}-${i}`,
    })),
  audit_head: (label) => [{ last_seq: 2, last_hash: `seed-${label}-2` }],
  // One row per tenant (its primary key is the tenant id).
  treasury_settings: () => [{ primary_exchange: 'paper' }],
  // A financial year is checked to be a real one (2000–2200).
  tax_report: () => [2025, 2026].map((financial_year) => ({ id: randomUUID(), financial_year, status: 'QUEUED' })),
  // Outbound webhooks (#12): a text[] of event types, at least one.
  webhook_endpoint: (label) => [{ id: randomUUID(), url: `https://${label.toLowerCase()}.example/hook`, event_types: '{purchase.filled}', secret_sealed: `sealed-${label}` }],
  // Payment OAuth (#12): a connection attempt's single-use nonce (16 to 64 characters) for a known provider.
  payment_oauth_state: (label) =>
    [1, 2].map((i) => ({ nonce: `nonce-${label}-${i}-${randomUUID()}`.slice(0, 64), provider: 'square', user_id: randomUUID(), expires_at: new Date(Date.now() + 600_000).toISOString() })),
  // SMS contacts (#12): an E.164 number (or a pseudonym after erasure).
  notification_contact: () => [{ user_id: randomUUID(), sms_number: '+61412345678' }],
  // Monthly statements (#12): a YYYY-MM period, one per month; the period ends after it starts.
  monthly_statement: () =>
    ['2026-10', '2026-11'].map((period) => ({
      id: randomUUID(),
      period,
      time_zone: 'Australia/Sydney',
      period_start: `${period}-01T00:00:00Z`,
      period_end: `${period}-28T00:00:00Z`,
      status: 'QUEUED',
    })),
  outbox: (label) =>
    [1, 2].map((i) => ({ id: randomUUID(), queue: 'schedules', job_name: `${label}-${i}`, payload: JSON.stringify({ label }) })),
};

/**
 * One row from the catalog's required columns, for a tenant table this file has no seed for yet
 * (another migration added it): uuids, labels, 1s, `{}`, now, and the first value a
 * `col in (…)` check allows. A table this cannot fill fails the suite with a pointer to SEEDS.
 */
async function genericSeed(sql: Sql, schema: string, table: string, label: string): Promise<Row[]> {
  const cols = await sql.execute<{ column_name: string; udt_name: string }[]>(
    `select column_name, udt_name from information_schema.columns
     where table_schema = ? and table_name = ? and is_nullable = 'NO' and column_default is null
       and column_name <> 'tenant_id' and is_identity = 'NO' and is_generated = 'NEVER'
     order by ordinal_position`,
    [schema, table],
  );
  const checks = await sql.execute<{ def: string }[]>(
    `select pg_get_constraintdef(c.oid) as def from pg_constraint c
     where c.conrelid = format('%I.%I', ?::text, ?::text)::regclass and c.contype = 'c'`,
    [schema, table],
  );
  const allowed = new Map<string, string>();
  for (const { def } of checks) {
    const m = /^CHECK \(\(?\(?(\w+) = ANY \(+ARRAY\['([^']*)'/.exec(def) ?? /^CHECK \(\((\w+) = '([^']*)'/.exec(def);
    const [, column, value] = m ?? [];
    if (column !== undefined && value !== undefined) allowed.set(column, value);
  }
  const row: Row = {};
  for (const { column_name, udt_name } of cols) {
    const first = allowed.get(column_name);
    if (first !== undefined) row[column_name] = first;
    else if (udt_name === 'uuid') row[column_name] = randomUUID();
    else if (udt_name === 'text' || udt_name === 'varchar') row[column_name] = `${label}-${randomUUID().slice(0, 8)}`;
    else if (['int2', 'int4', 'int8', 'numeric'].includes(udt_name)) row[column_name] = 1;
    else if (udt_name === 'bool') row[column_name] = true;
    else if (udt_name === 'jsonb' || udt_name === 'json') row[column_name] = '{}';
    else if (['timestamptz', 'timestamp', 'date'].includes(udt_name)) row[column_name] = new Date().toISOString();
    else throw new Error(`tenant table ${table}.${column_name} (${udt_name}) needs a seed in SEEDS of tenant-isolation.test.ts`);
  }
  return [row];
}

const seedRows = (sql: Sql, schema: string, table: string, label: string): Promise<Row[]> => {
  const seed = SEEDS[table];
  return seed ? Promise.resolve(seed(label)) : genericSeed(sql, schema, table, label);
};

/** The first seeded row of a table this file knows. */
const seedRow = (table: string, label: string): Row => at(present(SEEDS[table], `SEEDS.${table}`)(label), 0, `SEEDS.${table}`);

/** insert … (tenant_id, cols) values (…); tenantId undefined leaves tenant_id to its default. */
function insertSql(schema: string, table: string, tenantId: string | undefined, row: Row): [string, unknown[]] {
  const cols = [...(tenantId === undefined ? [] : ['tenant_id']), ...Object.keys(row)];
  const values = [...(tenantId === undefined ? [] : [tenantId]), ...Object.values(row)];
  return [
    `insert into "${schema}"."${table}" (${cols.map((c) => `"${c}"`).join(', ')}) values (${cols.map(() => '?').join(', ')}) returning tenant_id::text`,
    values,
  ];
}

/** 'ok', or `<sqlstate>: <server message>` for a statement that failed. */
async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown };
    return `${String(e.code)}: ${String(e.message).split(' - ').pop()}`;
  }
}

const rlsViolation = (table: string): string => `42501: new row violates row-level security policy for table "${table}"`;
const permissionDenied = (table: string): string => `42501: permission denied for table ${table}`;

class Rollback extends Error {}

describe('tenant isolation under forced row-level security (real PostgreSQL, app role)', () => {
  let db: TestDatabase;
  let app: MikroORM;
  /** One connection only: proves settings do not outlive their transaction on a pooled connection. */
  let single: MikroORM;
  let owner: Sql;
  const A = randomUUID();
  const B = randomUUID();
  const C = randomUUID();
  let cSchema: string;
  let tables: string[];
  /** How many rows each tenant owns per table, as seeded. */
  const seeded: Record<string, Record<string, number>> = {};
  const seededCount = (label: string, table: string): number => present(seeded[label]?.[table], `seeded count of ${label}.${table}`);

  /** Runs fn in one app-role transaction with search_path and (unless null/undefined) app.tenant_id set locally. */
  async function inTx<T>(orm: MikroORM, scope: Scope, fn: (em: EntityManager) => Promise<T>): Promise<T> {
    return orm.em.fork().transactional(async (em) => {
      if (scope.tenant === undefined || scope.tenant === null) {
        await em.execute(`select set_config('search_path', ?, true)`, [`"${scope.schema}", public`]);
      } else {
        await em.execute(`select set_config('search_path', ?, true), set_config('app.tenant_id', ?, true)`, [
          `"${scope.schema}", public`,
          scope.tenant,
        ]);
      }
      return fn(em);
    });
  }

  /** Like inTx but always rolls back: shows what a tenant may do without leaving traces. */
  async function rolledBack<T>(scope: Scope, fn: (em: EntityManager) => Promise<T>): Promise<T> {
    let result: T | undefined;
    try {
      await inTx(app, scope, async (em) => {
        result = await fn(em);
        throw new Rollback('rollback');
      });
    } catch (err) {
      if (!(err instanceof Rollback)) throw err;
    }
    return result as T;
  }

  const tenantIds = (em: EntityManager, sql: string, params: unknown[] = []): Promise<string[]> =>
    em.execute<{ tenant_id: string }[]>(sql, params).then((rows) => rows.map((r) => r.tenant_id));

  /** Every row of every tenant table in a schema, as the owner sees them (RLS bypassed). */
  async function snapshot(schema: string): Promise<Record<string, string[]>> {
    const out: Record<string, string[]> = {};
    for (const t of tables) {
      const rows = await owner.execute<{ r: string }[]>(`select to_jsonb(x)::text as r from "${schema}"."${t}" x order by 1`);
      out[t] = rows.map((r) => r.r);
    }
    return out;
  }

  const expectedIds = (tenant: string, label: string): Record<string, string[]> =>
    Object.fromEntries(tables.map((t) => [t, Array<string>(seededCount(label, t)).fill(tenant)]));
  const none = (): Record<string, string[]> => Object.fromEntries(tables.map((t) => [t, []]));

  beforeAll(async () => {
    configureLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
    db = await createTestDatabase();
    owner = db.owner.em.getConnection();
    for (const [id, name] of [
      [A, 'Alpha Pty Ltd'],
      [B, 'Bravo Pty Ltd'],
      [C, 'Charlie Isolated Pty Ltd'],
    ]) {
      await owner.execute(`insert into public.tenant (id, name, schema_name) values (?, ?, 'pool')`, [id, name]);
    }
    cSchema = await provisionDedicatedSchema(db.ownerUrl, C);
    tables = (
      await owner.execute<{ relname: string }[]>(
        `select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = 'pool' and c.relkind in ('r', 'p')
           and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped)
         order by c.relname`,
      )
    ).map((r) => r.relname);
    for (const [tenant, label, schema] of [
      [A, 'A', 'pool'],
      [B, 'B', 'pool'],
      [C, 'C', cSchema],
    ] as const) {
      const counts: Record<string, number> = {};
      seeded[label] = counts;
      for (const t of tables) {
        const rows = await seedRows(owner, schema, t, label);
        for (const row of rows) await owner.execute(...insertSql(schema, t, tenant, row));
        counts[t] = rows.length;
      }
    }
    app = await openAppOrm(db.appUrl, [], 2);
    single = await openAppOrm(db.appUrl, [], 1);
  });

  afterAll(async () => {
    await app?.close(true);
    await single?.close(true);
    await db?.drop();
  });

  describe('catalog', () => {
    it('finds every tenant table in pool and in the dedicated schema, each with row-level security enabled and forced', async () => {
      expect(tables).toEqual(expect.arrayContaining(KNOWN_TABLES));
      const flags = async (schema: string) =>
        owner.execute<{ relname: string; relrowsecurity: boolean; relforcerowsecurity: boolean }[]>(
          `select c.relname, c.relrowsecurity, c.relforcerowsecurity from pg_class c join pg_namespace n on n.oid = c.relnamespace
           where n.nspname = ? and c.relkind in ('r', 'p')
             and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped)
           order by c.relname`,
          [schema],
        );
      const secured = tables.map((relname) => ({ relname, relrowsecurity: true, relforcerowsecurity: true }));
      expect(await flags('pool')).toEqual(secured);
      expect(await flags(cSchema)).toEqual(secured);
    });

    it('gives every tenant table the tenant_isolation policy, for reads and for writes', async () => {
      for (const schema of ['pool', cSchema]) {
        const policies = await owner.execute<{ tablename: string; cmd: string; qual: string; with_check: string }[]>(
          `select tablename, cmd, qual, with_check from pg_policies where schemaname = ? and policyname = 'tenant_isolation' order by tablename`,
          [schema],
        );
        expect(policies.map((p) => p.tablename)).toEqual(tables);
        for (const p of policies) {
          expect(p.cmd).toBe('ALL');
          expect(p.qual).toContain(`current_setting('app.tenant_id'::text, true)`);
          expect(p.with_check).toContain(`current_setting('app.tenant_id'::text, true)`);
        }
      }
    });

    it('keeps nothing else in the tenant schemas: no table without tenant_id but schema_migrations, no view', async () => {
      for (const schema of ['pool', cSchema]) {
        const others = await owner.execute<{ relname: string; relkind: string }[]>(
          `select c.relname, c.relkind::text from pg_class c join pg_namespace n on n.oid = c.relnamespace
           where n.nspname = ? and c.relkind in ('r', 'p', 'v', 'm', 'f')
             and not exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped)
           order by c.relname`,
          [schema],
        );
        expect(others).toEqual([{ relname: 'schema_migrations', relkind: 'r' }]);
      }
    });

    it('runs the app and relay roles as non-superusers without BYPASSRLS that own no table and inherit no role but the AML officer’s', async () => {
      const roles = await owner.execute<
        { rolname: string; rolsuper: boolean; rolbypassrls: boolean; rolcreaterole: boolean; owned: string; memberships: string }[]
      >(
        `select r.rolname, r.rolsuper, r.rolbypassrls, r.rolcreaterole,
                (select count(*) from pg_class c where c.relowner = r.oid)::text as owned,
                (select coalesce(string_agg(g.rolname, ',' order by g.rolname), '') from pg_auth_members m join pg_roles g on g.oid = m.roleid where m.member = r.oid) as memberships
         from pg_roles r where r.rolname in (?, ?) order by r.rolname`,
        [APP_ROLE, RELAY_ROLE],
      );
      expect(roles).toEqual([
        // The officer path's `set local role` (compliance 0072_aml_officer_role): SELECT on the AML tables only.
        { rolname: APP_ROLE, rolsuper: false, rolbypassrls: false, rolcreaterole: false, owned: '0', memberships: AML_OFFICER_ROLE },
        { rolname: RELAY_ROLE, rolsuper: false, rolbypassrls: false, rolcreaterole: false, owned: '0', memberships: '' },
      ]);
      // The connection under test really is that role.
      expect(await inTx(app, { schema: 'pool', tenant: A }, (em) => em.execute<{ u: string }[]>('select current_user as u'))).toEqual([
        { u: APP_ROLE },
      ]);
    });

    it('does not let the app role switch row-level security off, create tables there, or become another role', async () => {
      const as = (sql: string) => outcome(inTx(app, { schema: 'pool', tenant: A }, (em) => em.execute(sql)));
      expect(await as('alter table pool.treasury_rule disable row level security')).toBe('42501: must be owner of table treasury_rule');
      expect(await as('alter table pool.audit_event no force row level security')).toBe('42501: must be owner of table audit_event');
      expect(await as('drop policy tenant_isolation on pool.outbox')).toBe('42501: must be owner of relation outbox');
      expect(await as('create table pool.sneaky (tenant_id uuid)')).toBe('42501: permission denied for schema pool');
      expect(await as('set local role postgres')).toBe('42501: permission denied to set role "postgres"');
      expect(await as(`set local role ${RELAY_ROLE}`)).toBe(`42501: permission denied to set role "${RELAY_ROLE}"`);
      // …while the owner still sees RLS in force afterwards.
      const still = await owner.execute<{ n: string }[]>(
        `select count(*)::text as n from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = 'pool' and c.relname = any(?::text[]) and c.relrowsecurity and c.relforcerowsecurity`,
        [`{${tables.join(',')}}`],
      );
      expect(still).toEqual([{ n: String(tables.length) }]);
    });

    it("lets the relay role read every tenant's outbox (its own policy) but no other tenant table", async () => {
      const relay = await openAppOrm(db.relayUrl, [], 1);
      try {
        const run = (sql: string) => relay.em.fork().transactional((em) => em.execute<{ tenant_id: string }[]>(sql));
        const outboxTenants = (await run('select tenant_id::text from pool.outbox order by tenant_id')).map(
          (r) => r.tenant_id,
        );
        expect(outboxTenants).toEqual(
          [...Array<string>(seededCount('A', 'outbox')).fill(A), ...Array<string>(seededCount('B', 'outbox')).fill(B)].sort(),
        );
        expect(await outcome(run('select * from pool.treasury_rule'))).toBe(permissionDenied('treasury_rule'));
        expect(await outcome(run('select * from pool.audit_event'))).toBe(permissionDenied('audit_event'));
        expect(await outcome(run(`insert into pool.outbox (tenant_id, id, queue, job_name, payload) values ('${A}', '${randomUUID()}', 'schedules', 'x', '{}')`))).toBe(
          permissionDenied('outbox'),
        );
      } finally {
        await relay.close(true);
      }
    });
  });

  describe('reads', () => {
    it('(a) shows tenant A only its own rows in every tenant table, with no WHERE clause', async () => {
      const seen = await inTx(app, { schema: 'pool', tenant: A }, async (em) => {
        const out: Record<string, string[]> = {};
        for (const t of tables) out[t] = await tenantIds(em, `select tenant_id::text, * from ${t}`);
        return out;
      });
      expect(seen).toEqual(expectedIds(A, 'A'));
    });

    it('(a) shows tenant B only its rows through the same statements', async () => {
      const seen = await inTx(app, { schema: 'pool', tenant: B }, async (em) => {
        const out: Record<string, string[]> = {};
        for (const t of tables) out[t] = await tenantIds(em, `select tenant_id::text from ${t}`);
        return out;
      });
      expect(seen).toEqual(expectedIds(B, 'B'));
    });

    it('(a) hides the other tenant even when asked for it by id, by count, or by join', async () => {
      const res = await inTx(app, { schema: 'pool', tenant: A }, async (em) => ({
        byId: await em.execute<{ n: string }[]>(`select count(*)::text as n from treasury_rule where tenant_id = ?`, [B]),
        total: await em.execute<{ n: string }[]>(`select count(*)::text as n from pool.treasury_rule`),
        joined: await em.execute<{ n: string }[]>(
          `select count(*)::text as n from audit_event e join audit_head h on h.tenant_id = e.tenant_id where e.tenant_id <> ?`,
          [A],
        ),
      }));
      expect(res).toEqual({ byId: [{ n: '0' }], total: [{ n: String(seededCount('A', 'treasury_rule')) }], joined: [{ n: '0' }] });
    });

    it('(c) returns zero rows from every table when app.tenant_id is not set', async () => {
      const seen = await inTx(app, { schema: 'pool', tenant: null }, async (em) => {
        const out: Record<string, string[]> = {};
        for (const t of tables) out[t] = await tenantIds(em, `select tenant_id::text from ${t}`);
        return out;
      });
      expect(seen).toEqual(none());
    });

    it('(c) returns zero rows when app.tenant_id is empty, and rejects a value that is not a uuid', async () => {
      const empty = await inTx(app, { schema: 'pool', tenant: '' }, async (em) => {
        const out: Record<string, string[]> = {};
        for (const t of tables) out[t] = await tenantIds(em, `select tenant_id::text from ${t}`);
        return out;
      });
      expect(empty).toEqual(none());
      expect(await outcome(inTx(app, { schema: 'pool', tenant: 'not-a-uuid' }, (em) => em.execute('select * from treasury_rule')))).toBe(
        '22P02: invalid input syntax for type uuid: "not-a-uuid"',
      );
    });

    it('(c) does not carry app.tenant_id over to the next transaction on the same pooled connection', async () => {
      const pid = (em: EntityManager) => em.execute<{ pid: number }[]>('select pg_backend_pid() as pid').then((r) => at(r, 0, 'pg_backend_pid').pid);
      const first = await inTx(single, { schema: 'pool', tenant: A }, async (em) => ({
        pid: await pid(em),
        ids: await tenantIds(em, 'select tenant_id::text from treasury_rule'),
      }));
      const second = await inTx(single, { schema: 'pool', tenant: null }, async (em) => ({
        pid: await pid(em),
        setting: at(await em.execute<{ s: string | null }[]>(`select current_setting('app.tenant_id', true) as s`), 0, 'app.tenant_id').s,
        ids: await tenantIds(em, 'select tenant_id::text from treasury_rule'),
      }));
      expect(first.ids).toEqual(Array<string>(seededCount('A', 'treasury_rule')).fill(A));
      expect(second).toEqual({ pid: first.pid, setting: '', ids: [] });
    });

    it('(c) rejects writes when app.tenant_id is not set, whether tenant_id is named or left to its default', async () => {
      const before = await snapshot('pool');
      const named = await outcome(
        inTx(app, { schema: 'pool', tenant: null }, (em) => em.execute(...insertSql('pool', 'treasury_rule', A, seedRow('treasury_rule', 'x')))),
      );
      const defaulted = await outcome(
        inTx(app, { schema: 'pool', tenant: null }, (em) =>
          em.execute(...insertSql('pool', 'treasury_rule', undefined, seedRow('treasury_rule', 'x'))),
        ),
      );
      // The policy is checked before NOT NULL: a defaulted (null) tenant_id is an RLS violation too.
      expect(named).toBe(rlsViolation('treasury_rule'));
      expect(defaulted).toBe(rlsViolation('treasury_rule'));
      expect(await snapshot('pool')).toEqual(before);
    });
  });

  describe('writes', () => {
    it("(b) rejects inserting a row with B's tenant_id while scoped to A, in every table, and changes nothing", async () => {
      const before = await snapshot('pool');
      const results: Record<string, string> = {};
      for (const t of tables) {
        const row = at(await seedRows(owner, 'pool', t, 'B-forged'), 0, `seed of ${t}`);
        results[t] = await outcome(inTx(app, { schema: 'pool', tenant: A }, (em) => em.execute(...insertSql('pool', t, B, row))));
      }
      expect(results).toEqual(Object.fromEntries(tables.map((t) => [t, rlsViolation(t)])));
      expect(await snapshot('pool')).toEqual(before);
    });

    it('(b) lets a tenant insert its own rows (tenant_id explicit or defaulted from app.tenant_id) in every table', async () => {
      const E = randomUUID(); // a tenant with no rows yet: room for audit_head's one row per tenant
      const insertEach = (explicit: boolean) =>
        rolledBack({ schema: 'pool', tenant: E }, async (em) => {
          const out: Record<string, string[]> = {};
          for (const t of tables) {
            const row = at(await seedRows(owner, 'pool', t, 'E'), 0, `seed of ${t}`);
            out[t] = await tenantIds(em, ...insertSql('pool', t, explicit ? E : undefined, row));
          }
          return out;
        });
      const expected = Object.fromEntries(tables.map((t) => [t, [E]]));
      expect(await insertEach(true)).toEqual(expected);
      expect(await insertEach(false)).toEqual(expected);
    });

    it("(b) rejects moving A's rows to B and never touches B's rows, in every table, and changes nothing", async () => {
      const before = await snapshot('pool');
      const privileges = await owner.execute<{ t: string; upd: boolean; del: boolean }[]>(
        `select t, has_table_privilege(?, 'pool.' || t, 'UPDATE') as upd, has_table_privilege(?, 'pool.' || t, 'DELETE') as del
         from unnest(?::text[]) as t order by t`,
        [APP_ROLE, APP_ROLE, `{${tables.join(',')}}`],
      );
      const got: Record<string, { move: string; touchB: string; deleteB: string }> = {};
      const want: typeof got = {};
      for (const { t, upd, del } of privileges) {
        const scopedA = (sql: string) =>
          inTx(app, { schema: 'pool', tenant: A }, (em) => tenantIds(em, sql.replace('$B', `'${B}'`)));
        const touch = () => scopedA(`update ${t} set tenant_id = tenant_id where tenant_id = $B returning tenant_id::text`);
        const remove = () => scopedA(`delete from ${t} where tenant_id = $B returning tenant_id::text`);
        got[t] = {
          move: await outcome(scopedA(`update ${t} set tenant_id = $B returning tenant_id::text`)),
          touchB: upd ? JSON.stringify(await touch()) : await outcome(touch()),
          deleteB: del ? JSON.stringify(await remove()) : await outcome(remove()),
        };
        want[t] = {
          move: upd ? rlsViolation(t) : permissionDenied(t),
          touchB: upd ? '[]' : permissionDenied(t),
          deleteB: del ? '[]' : permissionDenied(t),
        };
      }
      expect(got).toEqual(want);
      expect(await snapshot('pool')).toEqual(before);
    });

    it('(b) lets A update and delete its own rules (the control for the rejections above)', async () => {
      const res = await rolledBack({ schema: 'pool', tenant: A }, async (em) => ({
        updated: await tenantIds(em, `update treasury_rule set name = name || ' (edited)' returning tenant_id::text`),
        deleted: await tenantIds(em, `delete from treasury_rule returning tenant_id::text`),
      }));
      expect(res).toEqual({ updated: [A, A], deleted: [A, A] });
    });

    it('(f) denies the app role UPDATE, DELETE and TRUNCATE on audit_event (42501), even on its own rows', async () => {
      const before = await snapshot('pool');
      const as = (sql: string, params: unknown[] = []) =>
        outcome(inTx(app, { schema: 'pool', tenant: A }, (em) => em.execute(sql, params)));
      expect({
        update: await as(`update audit_event set payload = '{"forged":true}' where tenant_id = ?`, [A]),
        updateAll: await as(`update audit_event set hash = 'x'`),
        delete: await as(`delete from audit_event where tenant_id = ?`, [A]),
        truncate: await as(`truncate audit_event`),
        deleteHead: await as(`delete from audit_head`),
      }).toEqual({
        update: permissionDenied('audit_event'),
        updateAll: permissionDenied('audit_event'),
        delete: permissionDenied('audit_event'),
        truncate: permissionDenied('audit_event'),
        deleteHead: permissionDenied('audit_head'),
      });
      expect(await snapshot('pool')).toEqual(before);
    });

    it('(f) lets the app role INSERT audit events for its own tenant (committed, seen by the owner)', async () => {
      const id = randomUUID();
      const row = { ...seedRow('audit_event', 'A-insert'), id, seq: 50 };
      try {
        const inserted = await inTx(app, { schema: 'pool', tenant: A }, (em) => tenantIds(em, ...insertSql('pool', 'audit_event', undefined, row)));
        expect(inserted).toEqual([A]);
        expect(await owner.execute(`select tenant_id::text, seq::int from pool.audit_event where id = ?`, [id])).toEqual([
          { tenant_id: A, seq: 50 },
        ]);
      } finally {
        await owner.execute(`delete from pool.audit_event where id = ?`, [id]);
      }
    });
  });

  describe('(e) dedicated schema', () => {
    const readAll = (scope: Scope, qualify?: string) =>
      inTx(app, scope, async (em) => {
        const out: Record<string, string[]> = {};
        for (const t of tables) out[t] = await tenantIds(em, `select tenant_id::text from ${qualify ? `"${qualify}".` : ''}${t}`);
        return out;
      });

    it("shows C only its own rows in its dedicated schema, and nothing of C's in pool", async () => {
      expect(await readAll({ schema: cSchema, tenant: C })).toEqual(expectedIds(C, 'C'));
      expect(await readAll({ schema: 'pool', tenant: C })).toEqual(none());
    });

    it("shows A none of C's rows, even when A names C's schema explicitly or puts it on the search_path", async () => {
      // The owner confirms the rows are there to be hidden.
      expect(await owner.execute(`select count(*)::int as n from "${cSchema}".treasury_rule`)).toEqual([{ n: seededCount('C', 'treasury_rule') }]);
      expect(await readAll({ schema: 'pool', tenant: A }, cSchema)).toEqual(none());
      expect(await readAll({ schema: cSchema, tenant: A })).toEqual(none());
      expect(await readAll({ schema: cSchema, tenant: null })).toEqual(none());
      // …and C cannot reach A's rows in pool by naming pool.
      expect(await readAll({ schema: cSchema, tenant: C }, 'pool')).toEqual(none());
    });

    it("rejects A writing C's rows into C's schema in every table, and changes nothing there", async () => {
      const before = await snapshot(cSchema);
      const results: Record<string, string> = {};
      for (const t of tables) {
        const row = at(await seedRows(owner, cSchema, t, 'C-forged'), 0, `seed of ${t}`);
        results[t] = await outcome(inTx(app, { schema: 'pool', tenant: A }, (em) => em.execute(...insertSql(cSchema, t, C, row))));
      }
      expect(results).toEqual(Object.fromEntries(tables.map((t) => [t, rlsViolation(t)])));
      expect(await snapshot(cSchema)).toEqual(before);
    });

    it('applies the same privileges in the dedicated schema: no UPDATE or DELETE on audit_event', async () => {
      const as = (sql: string) => outcome(inTx(app, { schema: cSchema, tenant: C }, (em) => em.execute(sql)));
      expect(await as('update audit_event set hash = hash')).toBe(permissionDenied('audit_event'));
      expect(await as('delete from audit_event')).toBe(permissionDenied('audit_event'));
    });
  });

  describe('(g) TenantTransactions and TenantDirectory', () => {
    let directory: TenantDirectory;
    beforeAll(() => {
      directory = new TenantDirectory(app);
    });
    const withTenant = <T>(orm: MikroORM, dir: TenantDirectory, tenant: string, fn: (em: EntityManager) => Promise<T>): Promise<T> =>
      new TenantTransactions(orm, dir).run(tenant, ({ em }) => fn(em));

    const whereAmI = (tenant: string) =>
      withTenant(app, directory, tenant, async (em) => ({
        searchPath: at(await em.execute<{ s: string }[]>(`select current_setting('search_path') as s`), 0, 'search_path').s,
        tenantSetting: at(await em.execute<{ s: string }[]>(`select current_setting('app.tenant_id') as s`), 0, 'app.tenant_id').s,
        rules: (await em.execute<{ name: string }[]>('select name from treasury_rule order by name')).map((r) => r.name),
      }));

    it('routes A to pool and C to its dedicated schema, each seeing only its own rules', async () => {
      expect(await directory.schemaOf(A)).toBe('pool');
      expect(await directory.schemaOf(C)).toBe(cSchema);
      expect(await whereAmI(A)).toEqual({ searchPath: '"pool", public', tenantSetting: A, rules: ['A rule 1', 'A rule 2'] });
      expect(await whereAmI(B)).toEqual({ searchPath: '"pool", public', tenantSetting: B, rules: ['B rule 1', 'B rule 2'] });
      expect(await whereAmI(C)).toEqual({ searchPath: `"${cSchema}", public`, tenantSetting: C, rules: ['C rule 1', 'C rule 2'] });
    });

    it('refuses an unknown tenant or a malformed id with NOT_FOUND before touching tenant data', async () => {
      const fn = jest.fn(async () => 'ran');
      await expect(withTenant(app, directory, randomUUID(), fn)).rejects.toMatchObject({ code: 'NOT_FOUND', message: 'tenant not found' });
      await expect(withTenant(app, directory, `${A}' or '1'='1`, fn)).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(withTenant(app, directory, '', fn)).rejects.toMatchObject({ code: 'NOT_FOUND' });
      expect(fn).not.toHaveBeenCalled();
    });

    it('rolls back everything when the work fails, and leaves no tenant setting behind on the connection', async () => {
      const singleDirectory = new TenantDirectory(single);
      const before = await snapshot('pool');
      await expect(
        withTenant(single, singleDirectory, A, async (em) => {
          await em.execute(...insertSql('pool', 'treasury_rule', undefined, seedRow('treasury_rule', 'doomed')));
          throw new Error('work failed');
        }),
      ).rejects.toThrow('work failed');
      expect(await snapshot('pool')).toEqual(before);
      const after = await inTx(single, { schema: 'pool', tenant: null }, (em) => tenantIds(em, 'select tenant_id::text from treasury_rule'));
      expect(after).toEqual([]);
    });

    it('a platform transaction enters one tenant: scoped like run, a second tenant refused and everything rolled back', async () => {
      const tenants = new TenantTransactions(single, new TenantDirectory(single));
      const seen = await tenants.platform(async ({ em, enter }) => {
        const outside = at(await em.execute<{ s: string }[]>(`select coalesce(current_setting('app.tenant_id', true), '') as s`), 0, 'outside').s;
        const tx = await enter(C);
        expect(await enter(C.toUpperCase())).toBe(tx);
        return {
          outside,
          tenantId: tx.tenantId,
          schema: tx.schema,
          rules: (await em.execute<{ name: string }[]>('select name from treasury_rule order by name')).map((r) => r.name),
        };
      });
      expect(seen).toEqual({ outside: '', tenantId: C, schema: cSchema, rules: ['C rule 1', 'C rule 2'] });

      const before = await snapshot('pool');
      await expect(
        tenants.platform(async ({ em, enter }) => {
          await enter(A);
          await em.execute(...insertSql('pool', 'treasury_rule', undefined, seedRow('treasury_rule', 'doomed')));
          await enter(B);
        }),
      ).rejects.toThrow('a platform transaction enters one tenant only');
      expect(await snapshot('pool')).toEqual(before);
      await expect(tenants.platform(({ enter }) => enter(`${A}' or '1'='1`))).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(tenants.platform(({ enter }) => enter(randomUUID()))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    it('keeps routing a tenant moved to a dedicated schema to pool until the directory forgets it', async () => {
      const D = randomUUID();
      await owner.execute(`insert into public.tenant (id, name) values (?, 'Delta Pty Ltd')`, [D]);
      expect(await directory.schemaOf(D)).toBe('pool');
      const dSchema = await provisionDedicatedSchema(db.ownerUrl, D);
      expect(await directory.schemaOf(D)).toBe('pool'); // cached
      directory.forget(D);
      expect(await directory.schemaOf(D)).toBe(dSchema);
      expect(await whereAmI(D)).toEqual({ searchPath: `"${dSchema}", public`, tenantSetting: D, rules: [] });
    });
  });
});
