import type { MikroORM } from '@mikro-orm/postgresql';
import { pendingAuditFacts } from '../../../lib/audit';
import type { TenantTransactions } from '../../../lib/db/tenant-tx';
import { forEachTenant, PeriodicTask } from '../../../lib/periodic';
import type { JobInfo, JobQueue } from '../../../lib/queue';
import { staleReceivedEvents } from '../../tenant/payments/payment-events';
import { stalePurchases } from '../purchases/purchase.repository';
import type { RuleEngine } from '../rules/rule-engine';
import { dueScheduledRules, hasPriceDropRules } from '../schedules/due';
import type { PricePort } from '../schedules/price.port';
import { cutoffDueDay } from '../schedules/schedule';
import { ScheduleRunner } from '../schedules/schedule-runner';
import { applyTenantProfile, readTreasurySettings } from '../settings/treasury-settings';
import { jobString } from '../../../workers/job-data';

export type SchedulerOptions = {
  /** Platform ORM: lists the tenants (ids only) to visit. */
  orm: MikroORM;
  /** The one way into a tenant. */
  tenants: TenantTransactions;
  queue: JobQueue;
  intervalMs: number;
  /** A PENDING/SUBMITTED purchase untouched this long, with no live lease, is re-enqueued; so is an audit fact published this long ago and not in the chain. */
  staleMs: number;
};

/**
 * The workers' clock. Each pass, per tenant: re-enqueues purchases, payment events and audit facts
 * whose job was lost (crash, a job failed after stalling, in-memory queue, Redis restarted empty)
 * so they reconcile and finish; enqueues the day's cut-off flush once the
 * tenant's local cut-off time has passed; enqueues due FIXED_DCA runs and a PRICE_DROP check.
 * Job ids are deterministic, so overlapping passes or several worker processes enqueue once.
 */
export class TreasuryScheduler {
  private readonly periodic: PeriodicTask;

  constructor(private readonly opts: SchedulerOptions) {
    this.periodic = new PeriodicTask('treasury-scheduler', opts.intervalMs, () => this.tick());
  }

  start(): void {
    this.periodic.start();
  }

  stop(): Promise<void> {
    return this.periodic.stop();
  }

  async tick(): Promise<void> {
    // The platform's tenant directory (ids only); everything treasury decides comes from its own tables.
    await forEachTenant(this.opts.orm, 'treasury scheduler', (tenantId) => this.tickTenant(tenantId));
  }

  private async tickTenant(tenantId: string): Promise<void> {
    const staleMs = this.opts.staleMs;
    // What is due, by the treasury's repositories, on the database's clock (tx.now).
    const due = await this.opts.tenants.run(tenantId, async ({ em, now }) => {
      const settings = await readTreasurySettings(em);
      return {
        now,
        stale: await stalePurchases(em, staleMs),
        events: await staleReceivedEvents(em, staleMs),
        audits: await pendingAuditFacts(em, staleMs),
        dca: await dueScheduledRules(em),
        priceDrop: await hasPriceDropRules(em),
        cutoffDay: cutoffDueDay(now, settings.timezone, settings.cutoffLocalTime),
      };
    });
    const q = this.opts.queue;
    const bucket = Math.floor(due.now.getTime() / staleMs);
    for (const id of due.stale) {
      await q.add('purchases', 'execute', { tenantId, purchaseId: id }, { jobId: `${id}:sweep:${bucket}` });
    }
    for (const id of due.events) {
      await q.add('payment-events', 'process', { tenantId, paymentEventId: id }, { jobId: `${id}:sweep:${bucket}` });
    }
    // A fresh job id per bucket: BullMQ keeps a failed job's id, so re-adding the original would be a no-op.
    if (due.audits.length > 0) {
      await q.addBulk(
        due.audits.map((a) => ({
          queue: 'audit' as const,
          name: 'append',
          data: { ...a.payload, tenantId, eventId: a.id },
          opts: { jobId: `${a.id}:sweep:${bucket}` },
        })),
      );
    }
    for (const r of due.dca) {
      await q.add('schedules', 'dca', { tenantId, ruleId: r.id }, { jobId: `dca:${r.id}:${r.nextRunMs ?? 'first'}` });
    }
    if (due.priceDrop) {
      await q.add('schedules', 'price-drop', { tenantId }, { jobId: `price-drop:${tenantId}:${Math.floor(due.now.getTime() / 60_000)}` });
    }
    if (due.cutoffDay) {
      await q.add('schedules', 'cutoff', { tenantId, day: due.cutoffDay }, { jobId: `cutoff:${tenantId}:${due.cutoffDay}` });
    }
  }
}

/** The `schedules` job the tenant module sends when a tenant's profile (its timezone) changes. */
export const TENANT_PROFILE_JOB = 'tenant.profile';

/**
 * `schedules`: cut-off flushes, FIXED_DCA runs, PRICE_DROP checks (prices through the PricePort) and
 * `tenant.profile` (the timezone treasury keeps), each in its tenant's transaction.
 */
export function schedulesProcessor(tenants: TenantTransactions, engine: RuleEngine, prices: PricePort) {
  const runner = new ScheduleRunner(engine, prices);
  return async (job: JobInfo): Promise<void> => {
    const tenantId = jobString(job, 'tenantId');
    await tenants.run(tenantId, async (tx): Promise<void> => {
      switch (job.name) {
        case 'cutoff':
          await runner.flushAtCutoff(tx, jobString(job, 'day'));
          return;
        case 'dca':
          await runner.runSchedule(tx, jobString(job, 'ruleId'));
          return;
        case 'price-drop':
          await runner.checkPriceDrop(tx);
          return;
        case TENANT_PROFILE_JOB:
          await applyTenantProfile(tx.em, { timezone: jobString(job, 'timezone'), asOf: new Date(jobString(job, 'asOf')) });
          return;
        default:
          throw new Error(`unknown schedules job ${job.name}`);
      }
    });
  };
}
