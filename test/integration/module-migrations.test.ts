import { randomBytes, randomUUID } from 'node:crypto';
import type { AbstractSqlConnection } from '@mikro-orm/postgresql';
import { allPublicMigrations, allTenantMigrations, migrate, openOwnerOrm, provisionDedicatedSchema } from '../../lib/db/migrate';
import { configureLogger } from '../../lib/logger';
import { loadOrCreateLocalSecrets } from '../../lib/secrets';
import { TEST_PG_URL } from '../helpers/db';
import * as legacy from './legacy-migrations/migrate';
import { publicMigrations as legacyPublic } from './legacy-migrations/public';
import { tenantMigrations as legacyTenant } from './legacy-migrations/tenant';

/**
 * Modules own their migrations now (split out of schema/migrations): a database migrated by the old
 * code (the frozen copy in ./legacy-migrations) and a fresh one end with the same schema, the old one
 * running nothing again, and a second run is a no-op on both.
 */

type Sql = Pick<AbstractSqlConnection, 'execute'>;

/** Everything that makes a schema's shape, with the schema's own name written as S. */
async function shapeOf(sql: Sql, schema: string): Promise<Record<string, unknown[]>> {
  const q = async (text: string): Promise<unknown[]> =>
    JSON.parse(JSON.stringify(await sql.execute(text, [schema])).replaceAll(schema, 'S')) as unknown[];
  return {
    columns: await q(
      `select table_name, column_name, ordinal_position, data_type, column_default, is_nullable, is_identity, identity_generation
       from information_schema.columns where table_schema = ? order by table_name, ordinal_position`,
    ),
    indexes: await q(`select tablename, indexname, indexdef from pg_indexes where schemaname = ? order by tablename, indexname`),
    constraints: await q(
      `select c.relname as table_name, k.conname, pg_get_constraintdef(k.oid) as def
       from pg_constraint k join pg_class c on c.oid = k.conrelid join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = ? order by 1, 2, 3`,
    ),
    policies: await q(`select tablename, policyname, roles::text, cmd, qual, with_check from pg_policies where schemaname = ? order by tablename, policyname`),
    rls: await q(
      `select c.relname, c.relrowsecurity, c.relforcerowsecurity from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = ? and c.relkind = 'r' order by 1`,
    ),
    grants: await q(
      `select table_name, grantee, privilege_type from information_schema.role_table_grants
       where table_schema = ? and grantee in ('abt_app', 'abt_relay') order by 1, 2, 3`,
    ),
    columnGrants: await q(
      `select table_name, column_name, grantee, privilege_type from information_schema.column_privileges
       where table_schema = ? and grantee in ('abt_app', 'abt_relay') order by 1, 2, 3, 4`,
    ),
    functions: await q(`select p.proname, p.prosrc from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = ? order by 1`),
    schemaGrants: await q(`select has_schema_privilege('abt_app', ?, 'USAGE') as app`),
  };
}

/** Migrations written after the split (neither a legacy name nor a part of one): they run on the old database too. */
const legacyNames = new Set([...legacyTenant.map((m) => m.name), ...legacyPublic().map((m) => m.name)]);
const isNewSinceSplit = (m: { name: string; replaces?: readonly string[] }): boolean =>
  !legacyNames.has(m.name) && !(m.replaces ?? []).some((r) => legacyNames.has(r));

describe('module migrations: a database of the old code and a fresh one (real PostgreSQL)', () => {
  const rolePassword = loadOrCreateLocalSecrets('.data').appDbPassword;
  const created: string[] = [];
  const tenant = randomUUID();

  async function freshDatabase(): Promise<string> {
    const name = `abt_test_${randomBytes(6).toString('hex')}`;
    const admin = await openOwnerOrm(TEST_PG_URL);
    try {
      await admin.em.getConnection().execute(`create database ${name}`);
    } finally {
      await admin.close(true);
    }
    created.push(name);
    const url = new URL(TEST_PG_URL);
    url.pathname = `/${name}`;
    return url.toString();
  }

  async function withOwner<T>(url: string, fn: (sql: Sql) => Promise<T>): Promise<T> {
    const orm = await openOwnerOrm(url);
    try {
      return await fn(orm.em.getConnection());
    } finally {
      await orm.close(true);
    }
  }

  const shapes = (url: string, dedicated: string) =>
    withOwner(url, async (sql) => ({ public: await shapeOf(sql, 'public'), pool: await shapeOf(sql, 'pool'), dedicated: await shapeOf(sql, dedicated) }));
  const records = (url: string, dedicated: string) =>
    withOwner(url, async (sql) => ({
      public: await sql.execute(`select name, executed_at::text from public.mikro_orm_migrations order by name`),
      pool: await sql.execute(`select name, applied_at::text from pool.schema_migrations order by name`),
      dedicated: await sql.execute(`select name, applied_at::text from "${dedicated}".schema_migrations order by name`),
    }));

  let oldUrl: string;
  let newUrl: string;
  let oldDedicated: string;
  let newDedicated: string;

  beforeAll(async () => {
    configureLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
    oldUrl = await freshDatabase();
    newUrl = await freshDatabase();
    // The old code, as existing databases ran it: public, pool and a dedicated schema.
    await legacy.migrate(oldUrl, rolePassword);
    await withOwner(oldUrl, (sql) => sql.execute(`insert into public.tenant (id, name) values (?, 'Old Pty Ltd')`, [tenant]));
    oldDedicated = await legacy.provisionDedicatedSchema(oldUrl, tenant);
    await migrate(newUrl, rolePassword);
    await withOwner(newUrl, (sql) => sql.execute(`insert into public.tenant (id, name) values (?, 'New Pty Ltd')`, [tenant]));
    newDedicated = await provisionDedicatedSchema(newUrl, tenant);
  });

  afterAll(async () => {
    await withOwner(TEST_PG_URL, async (sql) => {
      for (const name of created) await sql.execute(`drop database if exists ${name} with (force)`);
    });
  });

  it('runs nothing of the old on the old database (only what came after the split): it records the modules’ names for what the old names applied', async () => {
    const newPublic = allPublicMigrations().filter(isNewSinceSplit).map((m) => m.name);
    const newTenant = allTenantMigrations().filter(isNewSinceSplit).map((m) => m.name);
    expect(await migrate(oldUrl, rolePassword)).toEqual({ public: newPublic, schemas: { pool: newTenant, [oldDedicated]: newTenant } });
    const r = await records(oldUrl, oldDedicated);
    const names = (rows: unknown[]): string[] => (rows as { name: string }[]).map((x) => x.name);
    const expectPublic = [...new Set([...legacyPublic().map((m) => m.name), ...allPublicMigrations().map((m) => m.name)])].sort();
    const expectTenant = [...new Set([...legacyTenant.map((m) => m.name), ...allTenantMigrations().map((m) => m.name)])].sort();
    expect(names(r.public)).toEqual(expectPublic);
    expect(names(r.pool)).toEqual(expectTenant);
    expect(names(r.dedicated)).toEqual(expectTenant);
  });

  it('ends with the same schema (columns, indexes, constraints, policies, RLS, grants, functions) as a fresh database', async () => {
    const [oldShape, newShape] = [await shapes(oldUrl, oldDedicated), await shapes(newUrl, newDedicated)];
    // Same tenant id on both: the dedicated schemas have the same name too.
    expect(oldDedicated).toBe(newDedicated);
    for (const part of ['public', 'pool', 'dedicated'] as const) {
      for (const key of Object.keys(newShape[part])) expect({ part, key, shape: oldShape[part][key] }).toEqual({ part, key, shape: newShape[part][key] });
    }
    expect((newShape.pool.columns as unknown[]).length).toBeGreaterThan(50);
  });

  it('is a no-op when run again on either database', async () => {
    for (const [url, dedicated] of [
      [oldUrl, oldDedicated],
      [newUrl, newDedicated],
    ] as const) {
      const before = await records(url, dedicated);
      expect(await migrate(url, rolePassword)).toEqual({ public: [], schemas: { pool: [], [dedicated]: [] } });
      expect(await records(url, dedicated)).toEqual(before);
    }
  });

  it('keeps every legacy statement: the modules’ tenant migrations together hold exactly the old statements', () => {
    const statements = (list: ReadonlyArray<{ up: (s: string) => string[] }>): string[] => list.flatMap((m) => m.up('S')).sort();
    expect(statements(allTenantMigrations().filter((m) => !isNewSinceSplit(m)))).toEqual(statements(legacyTenant));
  });
});
