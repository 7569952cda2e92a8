import { randomBytes, randomUUID } from 'node:crypto';
import type { AbstractSqlConnection } from '@mikro-orm/postgresql';
import { allPublicMigrations, allTenantMigrations, migrate, migrateTenantSchema, openOwnerOrm, provisionDedicatedSchema, type MigrationReport } from '../../lib/db/migrate';
import { dedicatedSchemaName } from '../../lib/db/roles';
import { configureLogger } from '../../lib/logger';
import { TEST_PG_URL, createTestDatabase, type TestDatabase } from '../helpers/db';
import { at } from '../helpers/present';

/** Migrations for public, pool and dedicated tenant schemas, against real PostgreSQL. */

/** Raw SQL on one connection (the owner's, here). */
type Sql = Pick<AbstractSqlConnection, 'execute'>;

/** Every public migration of the platform and its modules (each folder's files): each must be registered and applied. */
const PUBLIC_MIGRATIONS = allPublicMigrations().map((m) => m.name);
const TENANT_MIGRATIONS = allTenantMigrations().map((m) => m.name);

describe('migrations (real PostgreSQL)', () => {
  let db: TestDatabase;
  let owner: Sql;
  let cSchema: string;
  const C = randomUUID();

  const publicRecords = (sql: Sql = owner) =>
    sql.execute<{ name: string; times: number }[]>(
      `select name, count(*)::int as times from public.mikro_orm_migrations group by name order by name`,
    );
  const schemaRecords = (schema: string, sql: Sql = owner) =>
    sql.execute<{ name: string; times: number }[]>(
      `select name, count(*)::int as times from "${schema}".schema_migrations group by name order by name`,
    );
  const once = (names: string[]) => names.map((name) => ({ name, times: 1 }));
  const exists = async (relation: string): Promise<boolean> =>
    at(await owner.execute<{ r: string | null }[]>(`select to_regclass(?)::text as r`, [relation]), 0, 'to_regclass').r !== null;

  beforeAll(async () => {
    configureLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
    db = await createTestDatabase();
    owner = db.owner.em.getConnection();
    await owner.execute(`insert into public.tenant (id, name) values (?, 'Isolated Pty Ltd')`, [C]);
    cSchema = await provisionDedicatedSchema(db.ownerUrl, C);
  });

  afterAll(async () => {
    await db?.drop();
  });

  it('registers and applies every public migration file exactly once', async () => {
    expect(PUBLIC_MIGRATIONS.length).toBeGreaterThan(0);
    expect(await publicRecords()).toEqual(once(PUBLIC_MIGRATIONS));
  });

  it('records every tenant migration exactly once in pool and in the dedicated schema', async () => {
    expect(TENANT_MIGRATIONS.length).toBeGreaterThan(0);
    expect(new Set(TENANT_MIGRATIONS).size).toBe(TENANT_MIGRATIONS.length);
    expect(await schemaRecords('pool')).toEqual(once(TENANT_MIGRATIONS));
    expect(await schemaRecords(cSchema)).toEqual(once(TENANT_MIGRATIONS));
    expect(await owner.execute(`select schema_name, plan from public.tenant where id = ?`, [C])).toEqual([
      { schema_name: cSchema, plan: 'ISOLATED' },
    ]);
  });

  it('does nothing when migrate() runs again: empty public list, empty list for pool and the dedicated schema', async () => {
    const before = {
      public: await owner.execute(`select name, executed_at::text from public.mikro_orm_migrations order by name`),
      pool: await owner.execute(`select name, applied_at::text from pool.schema_migrations order by name`),
      dedicated: await owner.execute(`select name, applied_at::text from "${cSchema}".schema_migrations order by name`),
    };
    const report = await migrate(db.ownerUrl, db.rolePassword);
    expect(report).toEqual<MigrationReport>({ public: [], schemas: { pool: [], [cSchema]: [] } });
    expect({
      public: await owner.execute(`select name, executed_at::text from public.mikro_orm_migrations order by name`),
      pool: await owner.execute(`select name, applied_at::text from pool.schema_migrations order by name`),
      dedicated: await owner.execute(`select name, applied_at::text from "${cSchema}".schema_migrations order by name`),
    }).toEqual(before);
  });

  it('applies nothing through migrateTenantSchema or a second provisionDedicatedSchema on an up-to-date schema', async () => {
    const orm = await openOwnerOrm(db.ownerUrl);
    try {
      expect(await migrateTenantSchema(orm, 'pool')).toEqual([]);
      expect(await migrateTenantSchema(orm, cSchema)).toEqual([]);
    } finally {
      await orm.close(true);
    }
    expect(await provisionDedicatedSchema(db.ownerUrl, C)).toBe(cSchema);
    expect(await schemaRecords(cSchema)).toEqual(once(TENANT_MIGRATIONS));
  });

  it('re-applies only what a schema has not recorded, then is a no-op again', async () => {
    const last = at(TENANT_MIGRATIONS, -1, 'tenant migrations');
    await owner.execute(`delete from "${cSchema}".schema_migrations where name = ?`, [last]);
    expect(await migrate(db.ownerUrl, db.rolePassword)).toEqual<MigrationReport>({
      public: [],
      schemas: { pool: [], [cSchema]: [last] },
    });
    expect(await schemaRecords(cSchema)).toEqual(once(TENANT_MIGRATIONS));
    expect(await migrate(db.ownerUrl, db.rolePassword)).toEqual<MigrationReport>({ public: [], schemas: { pool: [], [cSchema]: [] } });
  });

  it('refuses a schema name that is neither pool nor tenant_<uuid>, creating nothing', async () => {
    const orm = await openOwnerOrm(db.ownerUrl);
    try {
      for (const bad of ['public', 'tenant_x', 'pool"; drop schema public cascade; --', dedicatedSchemaName(randomUUID()).toUpperCase()]) {
        await expect(migrateTenantSchema(orm, bad)).rejects.toThrow('invalid tenant schema name');
      }
    } finally {
      await orm.close(true);
    }
    expect(await owner.execute(`select nspname from pg_namespace where nspname in ('tenant_x', 'TENANT_X')`)).toEqual([]);
    expect(await exists('public.tenant')).toBe(true);
  });

  it('rolls a failing tenant migration back entirely: no half-made tables, nothing recorded', async () => {
    const schema = dedicatedSchemaName(randomUUID());
    // A stray table of the same name but the wrong shape makes a later statement fail.
    await owner.execute(`create schema "${schema}"`);
    await owner.execute(`create table "${schema}".treasury_rule (tenant_id uuid)`);
    const orm = await openOwnerOrm(db.ownerUrl);
    try {
      await expect(migrateTenantSchema(orm, schema)).rejects.toMatchObject({ message: expect.stringContaining('"created_at" does not exist') });
    } finally {
      await orm.close(true);
    }
    expect({
      schemaMigrations: await exists(`"${schema}".schema_migrations`),
      auditEvent: await exists(`"${schema}".audit_event`),
      outbox: await exists(`"${schema}".outbox`),
      rls: await owner.execute(`select relrowsecurity from pg_class where oid = ?::regclass`, [`"${schema}".treasury_rule`]),
    }).toEqual({ schemaMigrations: false, auditEvent: false, outbox: false, rls: [{ relrowsecurity: false }] });
  });

  describe('concurrently, on fresh databases', () => {
    const fresh: string[] = [];

    afterAll(async () => {
      const admin = await openOwnerOrm(TEST_PG_URL);
      try {
        for (const name of fresh) await admin.em.getConnection().execute(`drop database if exists ${name} with (force)`);
      } finally {
        await admin.close(true);
      }
    });

    async function freshDatabase(): Promise<string> {
      const name = `abt_test_${randomBytes(6).toString('hex')}`;
      const admin = await openOwnerOrm(TEST_PG_URL);
      try {
        await admin.em.getConnection().execute(`create database ${name}`);
      } finally {
        await admin.close(true);
      }
      fresh.push(name);
      const url = new URL(TEST_PG_URL);
      url.pathname = `/${name}`;
      return url.toString();
    }

    // A race shows up only sometimes, so race on a few fresh databases.
    it.each([1, 2, 3])('succeeds for both of two migrate() calls started together (round %i), applying each migration once', async () => {
      const url = await freshDatabase();
      const results = await Promise.allSettled([migrate(url, db.rolePassword), migrate(url, db.rolePassword)]);
      const failures = results.flatMap((r) => (r.status === 'rejected' ? [String((r.reason as Error).message)] : []));
      expect(failures).toEqual([]);
      const reports = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      // Between them the two runs applied everything exactly once.
      expect(reports.flatMap((r) => r.public).sort()).toEqual(PUBLIC_MIGRATIONS);
      expect(reports.flatMap((r) => r.schemas.pool ?? []).sort()).toEqual([...TENANT_MIGRATIONS].sort());
      expect(reports.map((r) => Object.keys(r.schemas))).toEqual([['pool'], ['pool']]);

      const orm = await openOwnerOrm(url);
      try {
        const sql: Sql = orm.em.getConnection();
        expect(await publicRecords(sql)).toEqual(once(PUBLIC_MIGRATIONS));
        expect(await schemaRecords('pool', sql)).toEqual(once(TENANT_MIGRATIONS));
        expect(
          await sql.execute(
            `select count(*)::int as n from pg_class c join pg_namespace n on n.oid = c.relnamespace
             where n.nspname = 'pool' and c.relname = 'treasury_rule' and c.relrowsecurity and c.relforcerowsecurity`,
          ),
        ).toEqual([{ n: 1 }]);
        expect(
          await sql.execute(`select has_schema_privilege('abt_app', 'pool', 'USAGE') as pool, has_table_privilege('abt_app', 'public.tenant', 'SELECT') as tenant`),
        ).toEqual([{ pool: true, tenant: true }]);
      } finally {
        await orm.close(true);
      }
    });
  });
});
