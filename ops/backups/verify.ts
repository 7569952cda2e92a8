import { IsolationLevel } from '@mikro-orm/core';
import { openAppOrm } from '../../lib/db/orm';
import { TenantDirectory } from '../../lib/db/tenant-context';
import { TenantTransactions } from '../../lib/db/tenant-tx';
import { allPublicMigrations } from '../../lib/db/migrate';
import { AuditEvent, AuditHead } from '../../subgraphs/compliance/audit-event.entity';
import { verifyAuditChain } from '../../subgraphs/compliance/audit.service';
import { checkHoldings } from '../../subgraphs/treasury/purchases/holdings-check';
import { BackupError, BackupErrorCode } from './backup.errors';
import { migrationDifferences, readMigrationState, type MigrationState } from './manifest';

export type VerifyReport = {
  tenants: number;
  auditEventsChecked: number;
  holdingsChecked: number;
  /** Public migrations this code has that the restored database has not run (`npm run migrate` applies them). */
  pendingPublicMigrations: number;
};

/**
 * Checks a restored database against its manifest: the migrations tables match, every tenant's
 * audit chain verifies (compliance's own walk, in one REPEATABLE READ snapshot per tenant) and every
 * holding equals what its purchases and sales add up to (treasury's check). Any problem throws a
 * BackupError naming all of them, coded by the first kind found (migrations, then chains, then holdings).
 */
export async function verifyRestoredDatabase(url: string, expected: MigrationState): Promise<VerifyReport> {
  const orm = await openAppOrm(url, [AuditEvent, AuditHead], 2);
  try {
    const em = orm.em.fork();
    const migrationProblems = migrationDifferences(expected, await readMigrationState(em));
    const done = new Set((await em.execute<{ name: string }[]>(`select name from public.mikro_orm_migrations`)).map((r) => r.name));
    const pendingPublicMigrations = allPublicMigrations().filter((m) => !done.has(m.name) && !(m.replaces ?? []).some((r) => done.has(r))).length;
    const tenantIds = (await em.execute<{ id: string }[]>(`select id from public.tenant order by id`)).map((r) => r.id);
    const tenants = new TenantTransactions(orm, new TenantDirectory(orm));
    const chainProblems: string[] = [];
    const holdingProblems: string[] = [];
    let auditEventsChecked = 0;
    let holdingsChecked = 0;
    for (const tenantId of tenantIds) {
      const { chain, holdings } = await tenants.run(
        tenantId,
        async (tx) => ({ chain: await verifyAuditChain(tx.em, tenantId), holdings: await checkHoldings(tx.em, tenantId) }),
        { isolation: IsolationLevel.REPEATABLE_READ },
      );
      auditEventsChecked += chain.eventsChecked;
      holdingsChecked += holdings.exchanges;
      if (!chain.valid) {
        const bad = chain.firstBad;
        chainProblems.push(`tenant ${tenantId}: audit chain breaks at seq ${bad?.seq.toString() ?? '?'} (${bad?.reason ?? 'unknown'}) after ${chain.eventsChecked} good events`);
      }
      for (const d of holdings.differences) {
        const fmt = (h: typeof d.recomputed | null): string => (h ? `${h.sats} sats, cost ${h.costBaseAudCents}c, fees ${h.feesAudCents}c, ${h.purchases} purchases` : 'none');
        holdingProblems.push(`tenant ${tenantId}: holding on ${d.exchange} is ${fmt(d.stored)}; its purchases and sales add up to ${fmt(d.recomputed)}`);
      }
    }
    const problems = [...migrationProblems, ...chainProblems, ...holdingProblems];
    if (problems.length > 0) {
      const code = migrationProblems.length > 0 ? BackupErrorCode.MIGRATIONS_MISMATCH : chainProblems.length > 0 ? BackupErrorCode.AUDIT_CHAIN_BROKEN : BackupErrorCode.HOLDINGS_MISMATCH;
      throw new BackupError(code, `the restored database does not verify: ${problems.join('; ')}`, problems);
    }
    return { tenants: tenantIds.length, auditEventsChecked, holdingsChecked, pendingPublicMigrations };
  } finally {
    await orm.close(true);
  }
}
