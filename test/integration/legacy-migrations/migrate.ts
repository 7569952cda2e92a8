/**
 * The migrator as it was before modules owned their migrations (lib/db/migrate.ts at 5f8044f), with
 * the migrations of that time beside it: frozen, to make a database exactly as existing ones are.
 */
import { MikroORM } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { publicMigrations } from './public';
import { tenantMigrations } from './tenant';
import { log } from '../../../lib/logger';
import { APP_ROLE, RELAY_ROLE, assertSchemaName, dedicatedSchemaName } from '../../../lib/db/roles';

type Sql = { execute: (sql: string, params?: unknown[]) => Promise<unknown> };

export async function openOwnerOrm(ownerUrl: string): Promise<MikroORM> {
  return MikroORM.init({
    clientUrl: ownerUrl,
    entities: [],
    discovery: { warnWhenNoEntities: false },
    extensions: [Migrator],
    migrations: { migrationsList: publicMigrations(), transactional: true, allOrNothing: true, snapshot: false, silent: true },
    pool: { min: 0, max: 2 },
    debug: false,
  });
}

const isRace = (err: unknown): boolean => {
  const code = (err as { code?: string }).code;
  // duplicate_object, unique_violation, "tuple concurrently updated"
  return code === '42710' || code === '23505' || code === 'XX000';
};

/** Roles are cluster-wide: create them once, tolerate a concurrent creator, (re)set the password. */
async function ensureRole(sql: Sql, role: string, password: string): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      await sql.execute(`do $$ begin
        if not exists (select 1 from pg_roles where rolname = '${role}') then
          create role ${role} login nosuperuser nocreatedb nocreaterole nobypassrls;
        end if; end $$;`);
      await sql.execute(`alter role ${role} with login nobypassrls password '${password.replace(/'/g, "''")}'`);
      return;
    } catch (err) {
      if (!isRace(err) || attempt === 4) throw err;
      await new Promise((r) => setTimeout(r, 50 * (attempt + 1)));
    }
  }
}

async function grantPublic(sql: Sql): Promise<void> {
  // Usage on pool is granted by migrateTenantSchema, under that schema's lock.
  await sql.execute(`grant usage on schema public to ${APP_ROLE}, ${RELAY_ROLE}`);
  await sql.execute(
    `grant select, insert, update, delete on public.tenant, public.app_user, public.membership, public.refresh_token, public.integration_route to ${APP_ROLE}`,
  );
  await sql.execute(`grant select, insert on public.price_tick to ${APP_ROLE}`);
  await sql.execute(`grant usage, select on sequence public.price_tick_id_seq to ${APP_ROLE}`);
  await sql.execute(`grant select on public.tenant to ${RELAY_ROLE}`);
}

/** Applies tenant-table migrations to one schema; already-applied ones are skipped. */
export async function migrateTenantSchema(orm: MikroORM, schema: string): Promise<string[]> {
  assertSchemaName(schema);
  return orm.em.fork().transactional(async (em) => {
    await em.execute(`select pg_advisory_xact_lock(hashtext('abt-tenant-migrations:' || ?))`, [schema]);
    await em.execute(`create schema if not exists "${schema}"`);
    await em.execute(`grant usage on schema "${schema}" to ${APP_ROLE}, ${RELAY_ROLE}`);
    await em.execute(
      `create table if not exists "${schema}".schema_migrations (name text primary key, applied_at timestamptz not null default now())`,
    );
    const done = new Set(
      (await em.execute<{ name: string }[]>(`select name from "${schema}".schema_migrations`)).map((r) => r.name),
    );
    const applied: string[] = [];
    for (const m of tenantMigrations) {
      if (done.has(m.name)) continue;
      for (const stmt of m.up(schema)) await em.execute(stmt);
      await em.execute(`insert into "${schema}".schema_migrations (name) values (?)`, [m.name]);
      applied.push(m.name);
    }
    return applied;
  });
}

export type MigrationReport = { public: string[]; schemas: Record<string, string[]> };

/** Migrates public, pool and every dedicated tenant schema. Re-running is a no-op. */
export async function migrate(ownerUrl: string, rolePassword: string): Promise<MigrationReport> {
  const orm = await openOwnerOrm(ownerUrl);
  try {
    const conn = orm.em.getConnection();
    await ensureRole(conn, APP_ROLE, rolePassword);
    await ensureRole(conn, RELAY_ROLE, rolePassword);
    // One migrator at a time per database.
    const ran = await orm.em.fork().transactional(async (em) => {
      await em.execute(`select pg_advisory_xact_lock(hashtext('abt-public-migrations'))`);
      const names = (await orm.migrator.up()).map((m) => m.name);
      // Concurrent GRANTs on one object fail ("tuple concurrently updated"): keep them under the lock.
      await grantPublic(em);
      return names;
    });
    const schemas: Record<string, string[]> = { pool: await migrateTenantSchema(orm, 'pool') };
    const dedicated = await conn.execute<{ schema_name: string }[]>(
      `select distinct schema_name from public.tenant where schema_name <> 'pool' order by schema_name`,
    );
    for (const { schema_name } of dedicated) schemas[schema_name] = await migrateTenantSchema(orm, schema_name);
    log().info({ public: ran, schemas }, 'migrations applied');
    return { public: ran, schemas };
  } finally {
    await orm.close(true);
  }
}

/** Moves a (new) tenant to its own schema: creates and migrates it, then points the tenant at it. */
export async function provisionDedicatedSchema(ownerUrl: string, tenantId: string): Promise<string> {
  const schema = dedicatedSchemaName(tenantId);
  const orm = await openOwnerOrm(ownerUrl);
  try {
    await migrateTenantSchema(orm, schema);
    await orm.em
      .getConnection()
      .execute(`update public.tenant set schema_name = ?, plan = 'ISOLATED' where id = ?`, [schema, tenantId]);
    return schema;
  } finally {
    await orm.close(true);
  }
}
