import type { EntityManager } from '@mikro-orm/postgresql';
import { rls, tenantIdColumn } from '../../../lib/db/tenant-sql';
import type { TenantTransactions } from '../../../lib/db/tenant-tx';
import { KYB_STATUS_JOB, KybStatusChangedV1, type KybStatusChanged } from '../../../lib/events/aml-facts';
import { log } from '../../../lib/logger';
import type { TenantMigration } from '../../../lib/module';
import type { JobInfo } from '../../../lib/queue';
import { assertTradingAllowed, type GatedOperation, type VerificationStatus } from '../../compliance/aml/kyb';
import { resolveRoute, type RoutingPolicy } from '../exchanges/exchange-router';

/**
 * The KYB trading gate (#11): real-exchange purchases, sales and withdrawals need a VERIFIED
 * business; paper stays open. Treasury keeps its own copy of the status (`treasury_kyb_status`),
 * fed by compliance's `kyb.status` facts on the `kyb` queue, so it never reads compliance's tables.
 * Fail closed: no row means not verified.
 */

export const KYB_GATE_TABLES = ['treasury_kyb_status'] as const;

export const kybGateMigrations: TenantMigration[] = [
  {
    name: '0061_treasury_kyb_status',
    up: (s) => [
      `create table if not exists "${s}".treasury_kyb_status (
        ${tenantIdColumn} primary key,
        status text not null check (status in ('PENDING', 'VERIFIED', 'REJECTED', 'NEEDS_INFO')),
        seq int not null,
        changed_at timestamptz not null,
        updated_at timestamptz not null default now()
      )`,
      ...rls(s, 'treasury_kyb_status'),
      `grant select, insert, update on "${s}".treasury_kyb_status to abt_app`,
    ],
  },
];

/** The tenant's KYB status as treasury last heard it (null: never submitted). */
export async function kybStatus(em: EntityManager): Promise<VerificationStatus | null> {
  const [row] = await em.execute<{ status: VerificationStatus }[]>(`select status from treasury_kyb_status`);
  return row?.status ?? null;
}

/** Applies a status fact unless a newer one (higher seq) is already there. */
export async function applyKybStatus(em: EntityManager, fact: KybStatusChanged): Promise<boolean> {
  const rows = await em.execute<{ seq: number }[]>(
    `insert into treasury_kyb_status (status, seq, changed_at) values (?, ?, ?)
     on conflict (tenant_id) do update set status = excluded.status, seq = excluded.seq, changed_at = excluded.changed_at, updated_at = now()
       where treasury_kyb_status.seq < excluded.seq
     returning seq`,
    [fact.status, fact.seq, fact.at],
  );
  return rows.length > 0;
}

/**
 * The gate over a routing policy: every exchange the route may use must be allowed. FORBIDDEN
 * (reason KYB_NOT_VERIFIED) when a real exchange is in the route and the tenant is not VERIFIED.
 */
export async function assertRouteAllowed(em: EntityManager, policy: Partial<RoutingPolicy> | null, operation: GatedOperation): Promise<void> {
  const route = resolveRoute(policy);
  const real = route.filter((e) => e !== 'paper');
  if (real.length === 0) return;
  const status = await kybStatus(em);
  for (const exchange of real) assertTradingAllowed({ exchange, operation, tenantIsDemo: false, kybStatus: status });
}

/** One exchange (a withdrawal's or a sale's): the same rule. */
export async function assertExchangeAllowed(em: EntityManager, exchange: string, operation: GatedOperation): Promise<void> {
  if (exchange === 'paper') return;
  assertTradingAllowed({ exchange, operation, tenantIsDemo: false, kybStatus: await kybStatus(em) });
}

/** `kyb` queue: compliance's status facts into treasury's copy, in the tenant's transaction. */
export function kybStatusProcessor(tenants: TenantTransactions) {
  return async (job: JobInfo): Promise<void> => {
    if (job.name !== KYB_STATUS_JOB) throw new Error(`kyb queue: unknown job ${job.name}`);
    const fact = KybStatusChangedV1.parse(job.data);
    const applied = await tenants.run(fact.tenantId, (tx) => applyKybStatus(tx.em, fact));
    log().debug({ tenantId: fact.tenantId, status: fact.status, seq: fact.seq, applied }, 'kyb status');
  };
}
