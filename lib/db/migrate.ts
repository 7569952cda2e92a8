import { MikroORM, type EntityManager } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { join } from 'node:path';
import { MODULES } from '../../ops/modules';
import { log } from '../logger';
import type { PublicMigration, TenantMigration } from '../module';
import { platformTenantMigrations } from './platform-migrations';
import { loadPublicMigrations } from './public-migrations';
import { APP_ROLE, ENSURE_OFFICER_ROLE, RELAY_ROLE, assertSchemaName, dedicatedSchemaName } from './roles';

type Sql = { execute: (sql: string, params?: unknown[]) => Promise<unknown> };

const byName = <M extends { name: string }>(list: M[]): M[] => {
  const sorted = [...list].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const dup = sorted.find((m, i) => i > 0 && sorted[i - 1]?.name === m.name);
  if (dup) throw new Error(`two migrations are named ${dup.name}`);
  return sorted;
};

/** The platform's own public migrations (pgcrypto, pool, the tenant-schema guard) and every module's, by name. */
export function allPublicMigrations(): PublicMigration[] {
  return byName([...loadPublicMigrations(join(__dirname, 'migrations', 'public')), ...MODULES.flatMap((m) => m.publicMigrations())]);
}

/** The platform's tenant migrations (the outbox) and every module's, by name: the order they run in. */
export function allTenantMigrations(): TenantMigration[] {
  return byName([...platformTenantMigrations, ...MODULES.flatMap((m) => m.tenantMigrations)]);
}

/** A migration is done when it, or a migration it replaces, is recorded. */
const isDone = (m: { name: string; replaces?: readonly string[] }, done: ReadonlySet<string>): boolean =>
  done.has(m.name) || (m.replaces ?? []).some((r) => done.has(r));

/**
 * Public migrations whose statements ran under a name they replace are recorded under their own
 * name too, so MikroORM's migrator skips them (it knows only names).
 */
async function recordReplacedPublic(sql: EntityManager): Promise<void> {
  await sql.execute(`select pg_advisory_xact_lock(hashtext('abt-public-migrations'))`);
  const [table] = await sql.execute<{ r: string | null }[]>(`select to_regclass('public.mikro_orm_migrations')::text as r`);
  if (!table?.r) return;
  const done = new Set((await sql.execute<{ name: string }[]>(`select name from public.mikro_orm_migrations`)).map((r) => r.name));
  for (const m of allPublicMigrations()) {
    if (!done.has(m.name) && isDone(m, done)) await sql.execute(`insert into public.mikro_orm_migrations (name, executed_at) values (?, now())`, [m.name]);
  }
}

export async function openOwnerOrm(ownerUrl: string): Promise<MikroORM> {
  return MikroORM.init({
    clientUrl: ownerUrl,
    entities: [],
    discovery: { warnWhenNoEntities: false },
    extensions: [Migrator],
    migrations: { migrationsList: allPublicMigrations(), transactional: true, allOrNothing: true, snapshot: false, silent: true },
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

/**
 * The app, relay and AML officer roles, created if missing: a restore into another cluster needs
 * every role its grants and policies name (pg_restore fails on `role "abt_aml_officer" does not exist`).
 */
export async function ensurePlatformRoles(ownerUrl: string, rolePassword: string): Promise<void> {
  const orm = await openOwnerOrm(ownerUrl);
  try {
    const conn = orm.em.getConnection();
    await ensureRole(conn, APP_ROLE, rolePassword);
    await ensureRole(conn, RELAY_ROLE, rolePassword);
    await conn.execute(ENSURE_OFFICER_ROLE);
  } finally {
    await orm.close(true);
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
    for (const m of allTenantMigrations()) {
      if (done.has(m.name)) continue;
      // Applied under the name it replaces (before modules owned their migrations): record, do not run.
      const replaced = isDone(m, done);
      if (!replaced) for (const stmt of m.up(schema)) await em.execute(stmt);
      await em.execute(`insert into "${schema}".schema_migrations (name) values (?)`, [m.name]);
      if (!replaced) applied.push(m.name);
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
    // Before the migrator reads its records (on a connection of its own): names that replace applied ones.
    await orm.em.fork().transactional((em) => recordReplacedPublic(em));
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
