import { randomUUID } from 'node:crypto';
import type { TenantTx } from '../../../lib/db/tenant-tx';
import type { AmlOperationFact } from '../../../lib/events/aml-facts';
import { fileAlert, type Alert } from './cases';
import { insertAlert, openCases, saveCase } from './cases.store';
import { DEFAULT_MONITORING_CONFIG, destinationKey, evaluateOperation, type MonitoredOperation, type MonitoringConfig } from './monitoring';
import type { ScreeningList } from './screening-list';
import { alertEventOfHit, queueAlertEvent } from './alert-feed';

/**
 * Monitoring of one operation (#11), in its tenant's transaction: the operation is recorded once by
 * id, the kernel's rules run over the tenant's recent history, and each hit becomes an alert that
 * joins the tenant's open case or opens one, and is queued (outbox) for the officer's live feed
 * (alert-feed.ts). Nothing goes to the tenant's audit chain or channels: a tenant never learns it
 * raised an alert (tipping off, AML/CTF Act s123).
 */

type Tx = Pick<TenantTx, 'em' | 'tenantId' | 'outbox'>;

type OpRow = { id: string; kind: MonitoredOperation['kind']; amount_aud_cents: string; at: Date; destination: MonitoredOperation['destination'] | null };

const opOf = (tenantId: string, r: OpRow): MonitoredOperation => ({
  id: r.id,
  tenantId,
  kind: r.kind,
  amountAudCents: BigInt(r.amount_aud_cents),
  at: r.at instanceof Date ? r.at : new Date(String(r.at)),
  destination: r.destination ?? null,
});

/** How far back history matters: the longest window of any rule (the spike baseline, plus a day). */
const historyDays = (c: MonitoringConfig): number => c.spike.baselineDays + 1;

export async function monitorOperation(
  tx: Tx,
  fact: AmlOperationFact,
  ctx: { config?: MonitoringConfig; screeningList?: ScreeningList } = {},
): Promise<{ recorded: boolean; alerts: Alert[] }> {
  const { em } = tx;
  const config = ctx.config ?? DEFAULT_MONITORING_CONFIG;
  // One evaluation at a time per tenant: history and case state are consistent.
  await em.execute(`select pg_advisory_xact_lock(hashtext('aml-monitoring:' || ?))`, [tx.tenantId]);
  const op: MonitoredOperation = {
    id: fact.id,
    tenantId: tx.tenantId,
    kind: fact.kind,
    amountAudCents: BigInt(fact.amountAudCents),
    at: new Date(fact.at),
    destination: fact.destination ?? null,
  };
  const inserted = await em.execute<{ id: string }[]>(
    `insert into aml_operation (id, kind, amount_aud_cents, at, destination) values (?, ?, ?, ?, ?::jsonb) on conflict (tenant_id, id) do nothing returning id`,
    [op.id, op.kind, op.amountAudCents.toString(), op.at, op.destination ? JSON.stringify(op.destination) : null],
  );
  if (inserted.length === 0) return { recorded: false, alerts: [] };
  const since = new Date(op.at.getTime() - historyDays(config) * 86_400_000);
  const history = (
    await em.execute<OpRow[]>(`select id, kind, amount_aud_cents::text, at, destination from aml_operation where at > ? and at <= ? and id <> ?`, [since, op.at, op.id])
  ).map((r) => opOf(tx.tenantId, r));
  const known =
    op.kind === 'WITHDRAWAL'
      ? (await em.execute<{ destination: NonNullable<MonitoredOperation['destination']> }[]>(`select distinct destination from aml_operation where kind = 'WITHDRAWAL' and destination is not null and id <> ?`, [op.id])).map(
          (r) => destinationKey(r.destination),
        )
      : [];
  const hits = evaluateOperation(op, history, { config, screeningList: ctx.screeningList, knownDestinations: known });
  const alerts: Alert[] = [];
  let cases = await openCases(em);
  for (const hit of hits) {
    const filed = fileAlert(hit, { alertId: randomUUID(), newCaseId: randomUUID() }, cases);
    const prior = cases.find((c) => c.id === filed.case.id);
    await saveCase(em, filed.case, prior?.assignedTo ?? null);
    if (await insertAlert(em, filed.alert)) {
      alerts.push(filed.alert);
      await queueAlertEvent(tx, alertEventOfHit(filed.alert), filed.alert.id);
    }
    cases = [...cases.filter((c) => c.id !== filed.case.id), { ...filed.case, assignedTo: prior?.assignedTo ?? null, updatedAt: new Date() }];
  }
  return { recorded: true, alerts };
}
