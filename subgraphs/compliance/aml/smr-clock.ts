import type { TenantTransactions, TenantTx } from '../../../lib/db/tenant-tx';
import { log, withCorrelation } from '../../../lib/logger';
import { deadlineStatus } from './business-days';
import { deadlineOf } from './cases.store';
import { acrossSchemas, type OfficerPath } from './officer';
import { alertEventOfClock, queueAlertEvent } from './alert-feed';

/**
 * The SMR clock (#11): every pass finds the escalated, unreported cases of every tenant on the
 * officer's read-only path, and marks each one that reached NEAR_DUE or OVERDUE (deadlineStatus of
 * business-days.ts) in its own tenant transaction (RLS): `aml_case.smr_clock_level` and one
 * `aml_smr_clock_alert` row per level, whose primary key makes the alert once per level however
 * many workers or passes see it. A case first seen already OVERDUE gets the OVERDUE alert only (the
 * near-due moment has passed). Nothing goes to the tenant's chain or channels (tipping off, s123):
 * the officer sees the rows, the log line, the case's smrDeadline status and, through an outbox job
 * in the same transaction, the `complianceAlerts` feed (alert-feed.ts).
 */

export type SmrClockLevel = 'NEAR_DUE' | 'OVERDUE';
export type SmrClockAlert = { tenantId: string; caseId: string; level: SmrClockLevel; dueAt: Date };

const RANK: Record<SmrClockLevel, number> = { NEAR_DUE: 1, OVERDUE: 2 };

type Row = { tenant_id: string; id: string; escalation: Record<string, unknown>; smr_clock_level: SmrClockLevel | null };

export type SmrClockOptions = {
  officerPath: OfficerPath;
  tenants: TenantTransactions;
  /** Every 60 s by default. */
  intervalMs?: number;
  /** The clock the deadlines are read against (tests move it). */
  now?: () => Date;
};

export class SmrClock {
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  private stopped = false;
  private readonly intervalMs: number;
  private readonly now: () => Date;

  constructor(private readonly opts: SmrClockOptions) {
    this.intervalMs = opts.intervalMs ?? 60_000;
    this.now = opts.now ?? (() => new Date());
  }

  start(): void {
    const loop = (): void => {
      if (this.stopped) return;
      this.running = withCorrelation('smr-clock', {}, () => this.tick())
        .catch((err: Error) => log().warn({ err: err.message }, 'smr clock pass failed'))
        .finally(() => {
          this.running = undefined;
          if (!this.stopped) this.timer = setTimeout(loop, this.intervalMs);
        });
    };
    this.timer = setTimeout(loop, Math.min(this.intervalMs, 1000));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One pass: the alerts raised now (each case and level once, ever). */
  async tick(): Promise<SmrClockAlert[]> {
    const now = this.now();
    const rows = await this.opts.officerPath.read((em, schemas) =>
      em.execute<Row[]>(
        acrossSchemas(
          schemas,
          (t) =>
            `select tenant_id, id, escalation, smr_clock_level from ${t('aml_case')}
              where status = 'ESCALATED' and report is null and escalation is not null and smr_clock_level is distinct from 'OVERDUE'`,
        ),
      ),
    );
    const raised: SmrClockAlert[] = [];
    for (const r of rows) {
      const deadline = deadlineOf(r.escalation.deadline as Record<string, unknown>);
      const { status } = deadlineStatus(deadline, now);
      if (status !== 'NEAR_DUE' && status !== 'OVERDUE') continue;
      if (r.smr_clock_level && RANK[r.smr_clock_level] >= RANK[status]) continue;
      const alert: SmrClockAlert = { tenantId: r.tenant_id, caseId: r.id, level: status, dueAt: deadline.dueAt };
      const fresh = await this.opts.tenants
        .run(r.tenant_id, async (tx) => {
          const fresh = await mark(tx.em, alert, now);
          if (fresh) await queueAlertEvent(tx, alertEventOfClock(alert, now));
          return fresh;
        })
        .catch((err: Error) => {
          log().warn({ tenantId: r.tenant_id, caseId: r.id, err: err.message }, 'smr clock: case skipped');
          return false;
        });
      if (!fresh) continue;
      raised.push(alert);
      log().warn({ tenantId: alert.tenantId, caseId: alert.caseId, level: alert.level, dueAt: alert.dueAt.toISOString() }, `suspicious matter report ${alert.level === 'OVERDUE' ? 'overdue' : 'near due'}`);
    }
    return raised;
  }
}

/** In the case's tenant transaction: the level only moves up; false when this level was already alerted. */
async function mark(em: TenantTx['em'], a: SmrClockAlert, now: Date): Promise<boolean> {
  const inserted = await em.execute<{ level: string }[]>(
    `insert into aml_smr_clock_alert (case_id, level, due_at, raised_at) values (?, ?, ?, ?) on conflict do nothing returning level`,
    [a.caseId, a.level, a.dueAt, now],
  );
  await em.execute(
    `update aml_case set smr_clock_level = ? where id = ? and status = 'ESCALATED' and (smr_clock_level is null or (smr_clock_level = 'NEAR_DUE' and ? = 'OVERDUE'))`,
    [a.level, a.caseId, a.level],
  );
  return inserted.length > 0;
}
