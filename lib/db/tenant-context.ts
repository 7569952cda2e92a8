import type { MikroORM, EntityManager } from '@mikro-orm/postgresql';
import { notFound } from '../errors';
import { currentCorrelationId } from '../logger';
import { assertSchemaName } from './roles';

type CacheEntry = { schema: string; at: number };

/** Where each tenant's rows live (`pool` or its dedicated schema). Platform data, read-only here. */
export class TenantDirectory {
  private readonly cache = new Map<string, CacheEntry>();
  constructor(
    private readonly orm: MikroORM,
    private readonly ttlMs = 30_000,
  ) {}

  async schemaOf(tenantId: string): Promise<string> {
    const hit = this.cache.get(tenantId);
    if (hit && Date.now() - hit.at < this.ttlMs) return hit.schema;
    const rows = await this.orm.em
      .fork()
      .getConnection()
      .execute<{ schema_name: string }[]>('select schema_name from public.tenant where id = ?', [tenantId]);
    if (rows.length === 0) throw notFound('tenant');
    const schema = rows[0].schema_name;
    assertSchemaName(schema);
    this.cache.set(tenantId, { schema, at: Date.now() });
    return schema;
  }

  forget(tenantId: string): void {
    this.cache.delete(tenantId);
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (v: string): boolean => UUID.test(v);

/**
 * Runs fn in one transaction scoped to a tenant: search_path to the tenant's schema and
 * app.tenant_id set locally, so row-level security holds even if a query forgets its filter.
 */
export async function withTenant<T>(
  orm: MikroORM,
  directory: TenantDirectory,
  tenantId: string,
  fn: (em: EntityManager) => Promise<T>,
): Promise<T> {
  if (!isUuid(tenantId)) throw notFound('tenant');
  const schema = await directory.schemaOf(tenantId);
  return orm.em.fork({ clear: true }).transactional(async (em) => {
    await enterTenant(em, schema, tenantId);
    return fn(em);
  });
}

/** Scopes the caller's open transaction to one tenant (search_path and app.tenant_id, both local). */
export async function enterTenant(em: EntityManager, schema: string, tenantId: string): Promise<void> {
  assertSchemaName(schema);
  await em.execute(`select set_config('search_path', ?, true), set_config('app.tenant_id', ?, true), set_config('app.correlation_id', ?, true)`, [
    `"${schema}", public`,
    tenantId,
    currentCorrelationId() ?? '',
  ]);
}
