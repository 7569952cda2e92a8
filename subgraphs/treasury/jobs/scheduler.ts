import type { MikroORM } from '@mikro-orm/postgresql';
import { pendingAuditFacts } from '../../../lib/audit';
import type { EventBus } from '../../../lib/bus';
import { TenantDirectory, withTenant } from '../../../lib/db/tenant-context';
import { log, withCorrelation } from '../../../lib/logger';
import type { JobInfo, JobQueue } from '../../../lib/queue';
import { staleReceivedEvents } from '../../tenant/payments/payment-events';
import { readTreasurySettings } from '../purchases/purchase.service';
import { startOfLocalDay, zonedTimeToUtc } from '../purchases/local-time';
import { publishAfterCommit, type PriceReference, type Publication, type TreasuryEngine } from '../purchases/treasury-engine';
import { jobString } from '../../../workers/job-data';

export type SchedulerOptions = {
  orm: MikroORM;
  directory: TenantDirectory;
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
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;

  constructor(private readonly opts: SchedulerOptions) {}

  start(): void {
    const loop = (): void => {
      if (this.stopped) return;
      this.running = withCorrelation('treasury-scheduler', {}, () => this.tick())
        .catch((err: Error) => log().warn({ err: err.message }, 'treasury scheduler pass failed'))
        .finally(() => {
          this.running = undefined;
          if (!this.stopped) this.timer = setTimeout(loop, this.opts.intervalMs);
        });
    };
    this.timer = setTimeout(loop, Math.min(this.opts.intervalMs, 1000));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  async tick(): Promise<void> {
    const tenants = await this.opts.orm.em
      .fork()
      .getConnection()
      .execute<{ id: string; timezone: string }[]>(`select id, timezone from public.tenant order by id`);
    const now = new Date();
    for (const t of tenants) {
      // One tenant's failure (a schema not migrated yet, a lock timeout) must not stop the others.
      await this.tickTenant(t, now).catch((err: Error) => log().warn({ tenantId: t.id, err: err.message }, 'treasury scheduler: tenant skipped'));
    }
  }

  private async tickTenant(t: { id: string; timezone: string }, now: Date): Promise<void> {
    const due = await withTenant(this.opts.orm, this.opts.directory, t.id, async (em) => {
      const stale = await em.execute<{ id: string }[]>(
        `select id from purchase where status in ('PENDING', 'SUBMITTED') and (lease_until is null or lease_until < now())
         and updated_at < now() - (? * interval '1 millisecond') order by updated_at limit 100`,
        [this.opts.staleMs],
      );
      const dca = await em.execute<{ id: string; next_run_at: string | null }[]>(
        `select id, (extract(epoch from next_run_at) * 1000)::bigint::text as next_run_at from treasury_rule where type = 'FIXED_DCA' and enabled and (next_run_at is null or next_run_at <= now())`,
      );
      const priceDrop = await em.execute<{ n: string }[]>(`select count(*)::text as n from treasury_rule where type = 'PRICE_DROP' and enabled`);
      const { cutoffLocalTime } = await readTreasurySettings(em);
      const events = await staleReceivedEvents(em, this.opts.staleMs);
      const audits = await pendingAuditFacts(em, this.opts.staleMs);
      return { stale, events, audits, dca, priceDrop: Number(priceDrop[0].n) > 0, cutoff: cutoffLocalTime };
    });
    const q = this.opts.queue;
    const bucket = Math.floor(now.getTime() / this.opts.staleMs);
    for (const p of due.stale) {
      await q.add('purchases', 'execute', { tenantId: t.id, purchaseId: p.id }, { jobId: `${p.id}:sweep:${bucket}` });
    }
    for (const id of due.events) {
      await q.add('payment-events', 'process', { tenantId: t.id, paymentEventId: id }, { jobId: `${id}:sweep:${bucket}` });
    }
    // A fresh job id per bucket: BullMQ keeps a failed job's id, so re-adding the original would be a no-op.
    if (due.audits.length > 0) {
      await q.addBulk(
        due.audits.map((a) => ({
          queue: 'audit' as const,
          name: 'append',
          data: { ...a.payload, tenantId: t.id, eventId: a.id },
          opts: { jobId: `${a.id}:sweep:${bucket}` },
        })),
      );
    }
    for (const r of due.dca) {
      await q.add('schedules', 'dca', { tenantId: t.id, ruleId: r.id }, { jobId: `dca:${r.id}:${r.next_run_at ?? 'first'}` });
    }
    if (due.priceDrop) {
      await q.add('schedules', 'price-drop', { tenantId: t.id }, { jobId: `price-drop:${t.id}:${Math.floor(now.getTime() / 60_000)}` });
    }
    const day = startOfLocalDay(now, t.timezone);
    const [hh, mm] = due.cutoff.split(':').map(Number);
    const local = new Intl.DateTimeFormat('en-CA', { timeZone: t.timezone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(day);
    const [y, m, d] = local.split('-').map(Number);
    if (now.getTime() >= zonedTimeToUtc(y, m, d, hh, mm, t.timezone).getTime()) {
      await q.add('schedules', 'cutoff', { tenantId: t.id, day: local }, { jobId: `cutoff:${t.id}:${local}` });
    }
  }
}

/** `schedules`: cut-off flushes, FIXED_DCA runs and PRICE_DROP checks, each in its tenant's transaction. */
export function schedulesProcessor(orm: MikroORM, directory: TenantDirectory, engine: TreasuryEngine, bus: EventBus, prices: PriceReference) {
  return async (job: JobInfo): Promise<void> => {
    const tenantId = jobString(job, 'tenantId');
    const result = await withTenant(orm, directory, tenantId, async (em): Promise<{ publications: Publication[] }> => {
      switch (job.name) {
        case 'cutoff':
          return engine.flushAtCutoff(em, tenantId, jobString(job, 'day'));
        case 'dca':
          return engine.runSchedule(em, tenantId, jobString(job, 'ruleId'));
        case 'price-drop':
          return engine.checkPriceDrop(em, tenantId, prices);
        default:
          throw new Error(`unknown schedules job ${job.name}`);
      }
    });
    await publishAfterCommit(bus, result.publications);
  };
}
