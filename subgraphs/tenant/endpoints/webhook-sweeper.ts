import type { MikroORM } from '@mikro-orm/postgresql';
import type { TenantTransactions } from '../../../lib/db/tenant-tx';
import { log } from '../../../lib/logger';
import type { ModuleBackground } from '../../../lib/module';
import { PeriodicTask } from '../../../lib/periodic';
import type { JobQueue } from '../../../lib/queue';
import { WEBHOOK_ATTEMPT_JOB, WEBHOOKS_QUEUE } from './webhook-endpoint.service';

/** A due attempt this long overdue has lost its job (a restart of the in-process runner, an enqueue that failed after commit). */
export const SWEEP_GRACE_MS = 5 * 60 * 1000;

/**
 * Re-enqueues deliveries whose next attempt is overdue by SWEEP_GRACE_MS (deterministic job id, and the
 * processor skips an attempt already logged, so a job that was only late runs once).
 */
export async function sweepWebhookDeliveries(orm: MikroORM, tenants: TenantTransactions, queue: JobQueue): Promise<number> {
  const ids = await orm.em.fork().getConnection().execute<{ id: string }[]>(`select id from public.tenant order by id`);
  let n = 0;
  for (const { id: tenantId } of ids) {
    const due = await tenants.run(tenantId, ({ em }) =>
      em.execute<{ id: string; attempts: number }[]>(
        `select id::text as id, attempts from webhook_delivery
          where (status = 'RETRYING' and next_attempt_at < now() - make_interval(secs => ?))
             or (status = 'PENDING' and attempts = 0 and created_at < now() - make_interval(secs => ?))
          limit 500`,
        [SWEEP_GRACE_MS / 1000, SWEEP_GRACE_MS / 1000],
      ),
    );
    for (const d of due) {
      const attempt = d.attempts + 1;
      await queue.add(WEBHOOKS_QUEUE, WEBHOOK_ATTEMPT_JOB, { tenantId, deliveryId: d.id, attempt }, { jobId: `${d.id}.${attempt}.swept`, attempts: 3 });
      n++;
    }
  }
  if (n > 0) log().warn({ requeued: n }, 'overdue webhook deliveries re-enqueued');
  return n;
}

export function webhookSweeper(orm: MikroORM, tenants: TenantTransactions, queue: JobQueue, intervalMs = SWEEP_GRACE_MS): ModuleBackground {
  const task = new PeriodicTask('webhook-sweeper', intervalMs, () => sweepWebhookDeliveries(orm, tenants, queue));
  return { name: 'webhook-sweeper', start: () => task.start(60_000), stop: () => task.stop() };
}
