import type { MikroORM } from '@mikro-orm/postgresql';
import type { TenantTransactions } from '../../../lib/db/tenant-tx';
import { log } from '../../../lib/logger';
import { forEachTenant, PeriodicTask } from '../../../lib/periodic';
import type { JobInfo, JobQueue } from '../../../lib/queue';
import { jobString } from '../../../workers/job-data';
import type { WithdrawalService } from './service';
import { WITHDRAWAL_JOB } from './service';

/** The `purchases` job that evaluates one tenant's auto-withdraw policy for one period (job id per tenant and period). */
export const AUTO_WITHDRAW_JOB = 'withdrawal.auto';

export type WithdrawalSchedulerOptions = {
  /** Platform ORM: lists the tenant ids to visit. */
  orm: MikroORM;
  tenants: TenantTransactions;
  queue: JobQueue;
  intervalMs: number;
  /** An APPROVED withdrawal untouched this long (its job lost) is enqueued again. */
  staleMs: number;
  /** The auto-withdraw period: one evaluation (and at most one withdrawal) per tenant per period. Default a UTC day. */
  autoPeriodMs?: number;
};

/** `auto:<ISO start of the period>`, e.g. `auto:2026-12-02T00:00:00.000Z` for a UTC day. */
export const autoPeriodOf = (now: Date, periodMs: number): string => `auto:${new Date(Math.floor(now.getTime() / periodMs) * periodMs).toISOString()}`;

/**
 * The withdrawals' clock, each pass per tenant: (1) the sweeper — every SUBMITTED or BROADCAST
 * withdrawal not escalated and not leased is given a `withdrawal` job that looks at the rail once
 * and stores what changed (SUBMITTED → BROADCAST → CONFIRMED | FAILED, each stored, audited and
 * published), and an APPROVED one whose job was lost is enqueued again; (2) auto-withdraw — a tenant
 * with an enabled policy gets one `withdrawal.auto` job per period. Job ids are deterministic, so
 * overlapping passes or several workers enqueue once.
 */
export class WithdrawalScheduler {
  private readonly periodic: PeriodicTask;
  private readonly autoPeriodMs: number;

  constructor(private readonly opts: WithdrawalSchedulerOptions) {
    this.autoPeriodMs = opts.autoPeriodMs ?? 24 * 60 * 60 * 1000;
    this.periodic = new PeriodicTask('withdrawal-scheduler', opts.intervalMs, () => this.tick());
  }

  start(): void {
    this.periodic.start();
  }

  stop(): Promise<void> {
    return this.periodic.stop();
  }

  async tick(): Promise<void> {
    await forEachTenant(this.opts.orm, 'withdrawal scheduler', (tenantId) => this.tickTenant(tenantId));
  }

  async tickTenant(tenantId: string): Promise<void> {
    const due = await this.opts.tenants.run(tenantId, async ({ em, now }) => ({
      now,
      open: await em.execute<{ id: string; status: string }[]>(
        `select id, status from withdrawal
          where escalation is null and (lease_until is null or lease_until < clock_timestamp())
            and (status in ('SUBMITTED', 'BROADCAST') or (status = 'APPROVED' and updated_at < clock_timestamp() - make_interval(secs => ?)))
          order by created_at`,
        [this.opts.staleMs / 1000],
      ),
      auto: (await em.execute<{ enabled: boolean }[]>(`select enabled from withdrawal_auto_policy`))[0]?.enabled === true,
    }));
    const bucket = Math.floor(due.now.getTime() / this.opts.intervalMs);
    for (const w of due.open) {
      await this.opts.queue.add('purchases', WITHDRAWAL_JOB, { tenantId, withdrawalId: w.id, sweep: true }, { jobId: `${w.id}:sweep:${bucket}` });
    }
    if (due.auto) {
      const period = autoPeriodOf(due.now, this.autoPeriodMs);
      await this.opts.queue.add('purchases', AUTO_WITHDRAW_JOB, { tenantId, period }, { jobId: `${AUTO_WITHDRAW_JOB}:${tenantId}:${period}` });
    }
  }
}

/** The `withdrawal.auto` handler: the kernel's decision for the tenant and period, in one tenant transaction. */
export function autoWithdrawProcessor(tenants: TenantTransactions, service: WithdrawalService) {
  return async (job: JobInfo): Promise<void> => {
    const tenantId = jobString(job, 'tenantId');
    const period = jobString(job, 'period');
    const decision = await tenants.run(tenantId, (tx) => service.runAutoWithdraw(tx, period));
    log().info({ tenantId, period, withdraw: decision.withdraw, ...(decision.withdraw ? { sats: decision.amountSats.toString() } : { reason: decision.reason }) }, 'auto-withdraw evaluated');
  };
}
