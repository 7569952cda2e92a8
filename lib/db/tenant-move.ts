import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { EventBus } from '../bus';
import { AppError, ErrorCode } from '../errors';
import { log } from '../logger';
import { migrateTenantSchema, openOwnerOrm } from './migrate';
import { assertSchemaName, dedicatedSchemaName } from './roles';
import { firstRow } from './rows';
import { TENANT_SCHEMA_CHANNEL, forgetTenantSchema, isUuid } from './tenant-context';

export type MoveTarget = 'dedicated' | 'pool';
export type MoveReport = {
  tenantId: string;
  from: string;
  to: string;
  /** Rows moved per table (every table of the schema with a tenant_id column). */
  moved: Record<string, number>;
  /** False when the tenant already lived in the target schema (nothing to do). */
  changed: boolean;
};

/** Tenant tables of a schema, from the catalog: every base table with a tenant_id column (not a hand list). */
export async function tenantTables(em: EntityManager, schema: string): Promise<string[]> {
  assertSchemaName(schema);
  const rows = await em.execute<{ table_name: string }[]>(
    `select c.table_name from information_schema.columns c
     join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name and t.table_type = 'BASE TABLE'
     where c.table_schema = ? and c.column_name = 'tenant_id' order by c.table_name`,
    [schema],
  );
  return rows.map((r) => r.table_name);
}

/** Writable columns of a table (generated ones are recomputed by the target). */
async function columnsOf(em: EntityManager, schema: string, table: string): Promise<string[]> {
  const rows = await em.execute<{ attname: string }[]>(
    `select a.attname from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = ? and c.relname = ? and a.attnum > 0 and not a.attisdropped and a.attgenerated = '' order by a.attnum`,
    [schema, table],
  );
  return rows.map((r) => r.attname);
}

const ident = (name: string): string => {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`unexpected identifier ${name}`);
  return `"${name}"`;
};

/**
 * Installs the write guard (public.abt_tenant_schema_guard) on every tenant table of a schema that
 * lacks it; idempotent. One short transaction per table (a trigger takes a table lock that traffic
 * queues behind), retried when it loses a deadlock or times out against that traffic.
 */
async function guardSchema(orm: MikroORM, schema: string): Promise<void> {
  for (const table of await tenantTables(orm.em.fork(), schema)) {
    for (let attempt = 0; ; attempt++) {
      try {
        await orm.em.fork().transactional(async (em) => {
          await em.execute(`select set_config('lock_timeout', '2s', true)`);
          const present = await em.execute<{ n: number }[]>(
            `select count(*)::int as n from pg_trigger g join pg_class c on c.oid = g.tgrelid join pg_namespace n on n.oid = c.relnamespace
             where n.nspname = ? and c.relname = ? and g.tgname = 'abt_tenant_schema_guard'`,
            [schema, table],
          );
          if (firstRow(present, `${table} schema guard count`).n > 0) return;
          await em.execute(
            `create or replace trigger abt_tenant_schema_guard before insert on ${ident(schema)}.${ident(table)}
             for each row execute function public.abt_tenant_schema_guard()`,
          );
        });
        break;
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (attempt >= 10 || (code !== '40P01' && code !== '55P03')) throw err;
        await new Promise((r) => setTimeout(r, 50 * (attempt + 1)));
      }
    }
  }
}

const notFound = (): AppError => new AppError(ErrorCode.NOT_FOUND, 'tenant not found');

/**
 * Moves every row of one tenant between `pool` and its dedicated `tenant_<uuid>` schema, in one
 * transaction: the target is created and migrated first, the tenant's schema lock is taken
 * exclusively (tenant transactions and guarded writes hold it shared, so those in flight finish
 * first and later ones wait, then follow the move), `public.tenant.schema_name` changes, each tenant table's rows are copied as they are (the
 * audit chain and its head unchanged, so it still verifies) and deleted from the source. After the
 * commit every process forgets its cached schema (the bus; Redis in queue mode).
 */
export async function moveTenant(ownerUrl: string, tenantId: string, target: MoveTarget, opts: { bus?: EventBus; lockTimeoutMs?: number } = {}): Promise<MoveReport> {
  if (!isUuid(tenantId)) throw notFound();
  const id = tenantId.toLowerCase();
  const orm = await openOwnerOrm(ownerUrl);
  try {
    const conn = orm.em.getConnection();
    const current = await conn.execute<{ schema_name: string }[]>(`select schema_name from public.tenant where id = ?`, [id]);
    const tenantRow = current[0];
    if (tenantRow === undefined) throw notFound();
    const from = tenantRow.schema_name;
    const to = target === 'dedicated' ? dedicatedSchemaName(id) : 'pool';
    assertSchemaName(from);
    if (from === to) return { tenantId: id, from, to, moved: {}, changed: false };

    // Both ends at the same migration level, and guarded, before anything moves.
    await migrateTenantSchema(orm, from);
    await migrateTenantSchema(orm, to);
    await guardSchema(orm, from);
    await guardSchema(orm, to);

    // The exclusive lock waits for the tenant's transactions in flight and makes new ones wait: bounded, and retried.
    const attemptMove = (): Promise<Record<string, number>> =>
      orm.em.fork().transactional(async (em) => {
        await em.execute(`select set_config('lock_timeout', ?, true)`, [`${opts.lockTimeoutMs ?? 5000}ms`]);
        // Tables keep RLS forced even for their owner: this transaction acts as the tenant.
        await em.execute(`select set_config('app.tenant_id', ?, true)`, [id]);
        // Exclusive: tenant transactions and guarded writes hold it shared, the ones in flight finish first, new ones queue behind.
        await em.execute(`select pg_advisory_xact_lock(hashtext('abt-tenant-schema'), hashtext(?))`, [id]);
        const locked = await em.execute<{ schema_name: string }[]>(`select schema_name from public.tenant where id = ? for update`, [id]);
        if (locked[0]?.schema_name !== from) throw new AppError(ErrorCode.CONFLICT, 'the tenant moved meanwhile; run the command again');
        await em.execute(`update public.tenant set schema_name = ?, plan = ? where id = ?`, [to, to === 'pool' ? 'STANDARD' : 'ISOLATED', id]);

        const source = await tenantTables(em, from);
        const targetTables = new Set(await tenantTables(em, to));
        const missing = source.filter((t) => !targetTables.has(t));
        if (missing.length > 0) throw new Error(`schema ${to} lacks tenant tables ${missing.join(', ')}; run npm run migrate`);
        const counts: Record<string, number> = {};
        for (const table of source) {
          const cols = (await columnsOf(em, to, table)).map(ident).join(', ');
          const src = `${ident(from)}.${ident(table)}`;
          const dst = `${ident(to)}.${ident(table)}`;
          const inserted = await em.execute<{ n: number }[]>(
            `with c as (insert into ${dst} (${cols}) select ${cols} from ${src} where tenant_id = ? returning 1) select count(*)::int as n from c`,
            [id],
          );
          const deleted = await em.execute<{ n: number }[]>(
            `with d as (delete from ${src} where tenant_id = ? returning 1) select count(*)::int as n from d`,
            [id],
          );
          const copied = firstRow(inserted, `${table} copy count`).n;
          const removed = firstRow(deleted, `${table} delete count`).n;
          if (copied !== removed) throw new Error(`${table}: copied ${copied} rows but removed ${removed}`);
          counts[table] = copied;
        }
        return counts;
      });
    let moved: Record<string, number> | undefined;
    for (let attempt = 1; !moved; attempt++) {
      try {
        moved = await attemptMove();
      } catch (err) {
        if ((err as { code?: string }).code !== '55P03' || attempt >= 5) throw err;
        log().warn({ tenantId: id, attempt }, 'tenant move: the tenant stayed busy past lock_timeout; trying again');
      }
    }

    forgetTenantSchema(id);
    await opts.bus?.publish(TENANT_SCHEMA_CHANNEL, { __typename: 'TenantSchemaChanged', version: 1, tenantId: id, schema: to });
    log().info({ tenantId: id, from, to, moved }, 'tenant moved');
    return { tenantId: id, from, to, moved, changed: true };
  } finally {
    await orm.close(true);
  }
}
