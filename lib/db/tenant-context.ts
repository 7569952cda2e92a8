import type { MikroORM, EntityManager } from '@mikro-orm/postgresql';
import { notFound } from '../errors';
import type { EventBus, Unsubscribe } from '../bus';
import { TENANT_SCHEMA_CHANNEL } from '../events';
import { currentCorrelationId } from '../logger';
import { currentTraceparent } from '../tracing';
import { assertSchemaName } from './roles';
import { isUuid } from '../uuid';

type CacheEntry = { schema: string; at: number; epoch: number };

/** Bumped when a tenant moves schema: every directory of this process drops what it cached for that tenant. */
const epochs = new Map<string, number>();
const epochOf = (tenantId: string): number => epochs.get(tenantId) ?? 0;

/** Forgets a tenant's schema in every TenantDirectory of this process (a move committed). */
export function forgetTenantSchema(tenantId: string): void {
  epochs.set(tenantId, epochOf(tenantId) + 1);
}

/** The bus channel a tenant move is announced on (Redis in queue mode: every process hears it). */
export { TENANT_SCHEMA_CHANNEL };

/** Makes this process's directories follow tenant moves announced on the bus. */
export async function followTenantMoves(bus: EventBus): Promise<Unsubscribe> {
  return bus.subscribe(TENANT_SCHEMA_CHANNEL, (_channel, event) => {
    if (typeof event.tenantId === 'string') forgetTenantSchema(event.tenantId);
  });
}

/** Where each tenant's rows live (`pool` or its dedicated schema). Platform data, read-only here. */
export class TenantDirectory {
  private readonly cache = new Map<string, CacheEntry>();
  constructor(
    private readonly orm: MikroORM,
    private readonly ttlMs = 30_000,
  ) {}

  async schemaOf(tenantId: string): Promise<string> {
    const hit = this.cache.get(tenantId);
    if (hit && Date.now() - hit.at < this.ttlMs && hit.epoch === epochOf(tenantId)) return hit.schema;
    const epoch = epochOf(tenantId);
    const rows = await this.orm.em
      .fork()
      .getConnection()
      .execute<{ schema_name: string }[]>('select schema_name from public.tenant where id = ?', [tenantId]);
    const row = rows[0];
    if (row === undefined) throw notFound('tenant');
    const schema = row.schema_name;
    assertSchemaName(schema);
    this.cache.set(tenantId, { schema, at: Date.now(), epoch });
    return schema;
  }

  forget(tenantId: string): void {
    this.cache.delete(tenantId);
  }
}

export { isUuid };

/**
 * Scopes the caller's open transaction to one tenant (search_path and app.tenant_id, both local).
 * It first takes the tenant's schema lock in share mode (held to commit): a tenant move takes it
 * exclusively, so transactions in flight finish before the move and later ones queue behind it. The
 * schema is then read in a second statement (a snapshot taken after the lock), so a transaction that
 * waited for a move uses the new schema, whatever `schema` a stale cache passed in (`null`: none known,
 * e.g. a tenant created earlier in this transaction).
 */
export async function enterTenant(
  em: EntityManager,
  schema: string | null,
  tenantId: string,
  opts: { userId?: string; readOnly?: boolean } = {},
): Promise<{ schema: string; now: Date }> {
  if (schema !== null) assertSchemaName(schema);
  // In the same round trip: the acting user (row-level security of public tables keyed by user) and,
  // for reads, READ ONLY (allowed mid-transaction in this direction), so PostgreSQL refuses any write.
  const { userId, readOnly = false } = opts;
  await em.execute(
    `select pg_advisory_xact_lock_shared(hashtext('abt-tenant-schema'), hashtext(?)),
            set_config('app.tenant_id', ?, true), set_config('app.correlation_id', ?, true), set_config('app.traceparent', ?, true)${
              userId === undefined ? '' : `, set_config('app.user_id', ?, true)`
            }${readOnly ? `, set_config('transaction_read_only', 'on', true)` : ''}`,
    [tenantId.toLowerCase(), tenantId, currentCorrelationId() ?? '', currentTraceparent() ?? '', ...(userId === undefined ? [] : [userId])],
  );
  const rows = await em.execute<{ schema_name: string; now: Date | string }[]>(
    `select t.schema_name, transaction_timestamp() as now, set_config('search_path', '"' || replace(t.schema_name, '"', '""') || '", public', true) from public.tenant t where t.id = ?`,
    [tenantId],
  );
  const row = rows[0];
  if (row === undefined) throw notFound('tenant');
  assertSchemaName(row.schema_name);
  if (schema !== null && row.schema_name !== schema) forgetTenantSchema(tenantId);
  return { schema: row.schema_name, now: new Date(row.now) };
}
