import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { AppError, ErrorCode } from '../../../lib/errors';
import type { GateContext } from '../../../lib/access';
import { assertSchemaName } from '../../../lib/db/roles';
import type { TenantTransactions } from '../../../lib/db/tenant-tx';
import { AML_OFFICER_ROLE } from '../migrations/aml';

/**
 * The compliance officer (#11): a PLATFORM role (public.platform_role), not a tenant role. This is
 * the one controlled path that reads across tenants: a read-only transaction of its own that does
 * `set local role abt_aml_officer` (migration 0072_aml_officer_role), the database role that alone
 * holds the AML tables' cross-tenant SELECT policy and has no other privilege (no writes, no other
 * tenant or platform table). Tenant transactions stay the app role. Every read and every action is audited in the
 * platform's chain — the audit chain of the operator's own tenant, the one the officer signed in
 * to — never in the chain of the tenant concerned (tenants read their chain: tipping off, s123).
 */

export type Officer = { userId: string; tenantId: string };

export const OFFICER_ROLE = 'COMPLIANCE_OFFICER';

export class OfficerPath {
  constructor(
    private readonly orm: MikroORM,
    readonly transactions: TenantTransactions,
  ) {}

  /** FORBIDDEN for anyone without the platform role (tenant OWNERs included); UNAUTHENTICATED for no one. */
  async require(ctx: GateContext): Promise<Officer> {
    const p = ctx.principal;
    if (p.kind === 'anonymous') throw new AppError(ErrorCode.UNAUTHENTICATED, 'authentication required');
    if (p.kind !== 'user') throw new AppError(ErrorCode.FORBIDDEN, 'compliance cases are for the platform’s compliance officer', { reason: 'NOT_COMPLIANCE_OFFICER' });
    const rows = await this.orm.em.fork().getConnection().execute<{ ok: number }[]>(`select 1 as ok from public.platform_role where user_id = ? and role = ?`, [p.userId, OFFICER_ROLE]);
    if (rows.length === 0) throw new AppError(ErrorCode.FORBIDDEN, 'compliance cases are for the platform’s compliance officer', { reason: 'NOT_COMPLIANCE_OFFICER' });
    return { userId: p.userId, tenantId: p.tenantId };
  }

  /** Every tenant schema (pool and the dedicated ones). */
  private async schemas(): Promise<string[]> {
    const rows = await this.orm.em.fork().getConnection().execute<{ schema_name: string }[]>(`select distinct schema_name from public.tenant order by schema_name`);
    const out = [...new Set(['pool', ...rows.map((r) => r.schema_name)])];
    for (const s of out) assertSchemaName(s);
    return out;
  }

  /** A read across tenants as the officer role; `fn` gets the schemas to union over. */
  async read<T>(fn: (em: EntityManager, schemas: string[]) => Promise<T>): Promise<T> {
    const schemas = await this.schemas();
    return this.orm.em.fork({ clear: true }).transactional(async (em) => {
      // Read-only: the officer path never writes across tenants (changes go through the case's tenant).
      await em.execute(`set transaction read only`);
      await em.execute(`select set_config('app.tenant_id', '', true)`);
      await em.execute(`set local role ${AML_OFFICER_ROLE}`);
      return fn(em, schemas);
    });
  }

  /** One fact in the platform chain (the officer's tenant), committed before the answer is returned. */
  async audit(o: Officer, eventType: string, subjectType: string, subjectId: string, data: Record<string, unknown>): Promise<void> {
    await this.transactions.run(o.tenantId, (tx) => tx.audit({ eventType, actorId: o.userId, subjectType, subjectId, data }));
  }
}

/** `select … from "<schema>".<table> …` for every schema, joined with union all. */
export function acrossSchemas(schemas: readonly string[], build: (q: (table: string) => string) => string): string {
  return schemas.map((s) => `(${build((t) => `"${s}".${t}`)})`).join(' union all ');
}
