import { performance } from 'node:perf_hooks';
import type { TenantTransactions } from '../../../lib/db/tenant-tx';
import { open, type KeyRing } from '../../../lib/crypto/secret-box';
import { log } from '../../../lib/logger';
import type { JobHandler, JobQueue } from '../../../lib/queue';
import { RETRY_WINDOW_MS, retryDelayMs } from './webhook-backoff';
import { SIGNATURE_HEADER, signatureHeader } from './webhook-signing';
import { WEBHOOK_ATTEMPT_JOB, WEBHOOKS_QUEUE, secretAad } from './webhook-endpoint.service';

export const REQUEST_TIMEOUT_MS = 10_000;

export type DeliveryProcessorOptions = {
  tenants: TenantTransactions;
  queue: JobQueue;
  keys: KeyRing;
  timeoutMs?: number;
  /** Tests shrink the schedule; production uses webhook-backoff.ts as is. */
  delayMs?: (attempt: number) => number;
  post?: typeof fetch;
};

type Due = { url: string; body: string; eventType: string; noticeId: string; secrets: string[]; firstAttemptAt: Date };
export type AttemptOutcome = { statusCode: number | null; latencyMs: number; error: string | null; ok: boolean };

/**
 * One attempt of one delivery (job `webhook.attempt` on `webhooks`): sign with the endpoint's live
 * secrets, POST with a timeout, log the attempt, then succeed, schedule the next attempt (own
 * schedule, webhook-backoff.ts; each attempt is a job of its own with a deterministic id) or give up.
 * The handler itself fails only on database trouble, which the queue retries; an attempt already
 * logged is not sent again.
 */
export function webhookDeliveryProcessor(opts: DeliveryProcessorOptions): JobHandler {
  const timeoutMs = opts.timeoutMs ?? REQUEST_TIMEOUT_MS;
  const delay = opts.delayMs ?? retryDelayMs;
  const post = opts.post ?? fetch;
  return async (job) => {
    if (job.name !== WEBHOOK_ATTEMPT_JOB) throw new Error(`webhooks queue: unknown job ${job.name}`);
    const { tenantId, deliveryId, attempt } = job.data as { tenantId: string; deliveryId: string; attempt: number };
    const due = await opts.tenants.run(tenantId, async ({ em, now }): Promise<Due | null> => {
      const [d] = await em.execute<
        { url: string; body: string; event_type: string; notice_id: string; status: string; attempts: number; enabled: boolean; first_attempt_at: Date | null; endpoint_id: string; secret_sealed: string; previous_secret_sealed: string | null; previous_secret_until: Date | null }[]
      >(
        `select e.url, d.body, d.event_type, d.notice_id::text as notice_id, d.status, d.attempts, e.enabled, d.first_attempt_at,
                e.id::text as endpoint_id, e.secret_sealed, e.previous_secret_sealed, e.previous_secret_until
           from webhook_delivery d join webhook_endpoint e on e.tenant_id = d.tenant_id and e.id = d.endpoint_id
          where d.id = ? for update of d`,
        [deliveryId],
      );
      if (!d || d.status === 'SUCCEEDED' || d.status === 'FAILED' || d.attempts >= attempt) return null; // deleted endpoint, or done already
      if (!d.enabled) {
        await em.execute(`update webhook_delivery set status = 'FAILED', next_attempt_at = null where id = ?`, [deliveryId]);
        return null;
      }
      const aad = secretAad(tenantId, d.endpoint_id);
      const secrets = [open(opts.keys, d.secret_sealed, aad)];
      if (d.previous_secret_sealed && d.previous_secret_until && new Date(d.previous_secret_until) > now) secrets.push(open(opts.keys, d.previous_secret_sealed, aad));
      else if (d.previous_secret_sealed) {
        // The overlap is over: the old secret is dropped, not kept sealed forever.
        await em.execute(`update webhook_endpoint set previous_secret_sealed = null, previous_secret_until = null where id = ?`, [d.endpoint_id]);
      }
      const firstAttemptAt = d.first_attempt_at ? new Date(d.first_attempt_at) : now;
      if (!d.first_attempt_at) await em.execute(`update webhook_delivery set first_attempt_at = ? where id = ?`, [firstAttemptAt, deliveryId]);
      return { url: d.url, body: d.body, eventType: d.event_type, noticeId: d.notice_id, secrets, firstAttemptAt };
    });
    if (!due) return;

    const outcome = await attemptOnce(post, due, deliveryId, timeoutMs);
    const next = outcome.ok ? null : nextAttempt(due.firstAttemptAt, attempt, delay);
    const status = outcome.ok ? 'SUCCEEDED' : next ? 'RETRYING' : 'FAILED';
    await opts.tenants.run(tenantId, async ({ em }) => {
      await em.execute(`insert into webhook_attempt (delivery_id, attempt, status_code, latency_ms, error) values (?, ?, ?, ?, ?) on conflict do nothing`, [
        deliveryId,
        attempt,
        outcome.statusCode,
        outcome.latencyMs,
        outcome.error,
      ]);
      await em.execute(`update webhook_delivery set status = ?, attempts = greatest(attempts, ?), next_attempt_at = ? where id = ?`, [status, attempt, next, deliveryId]);
    });
    log()[outcome.ok ? 'info' : 'warn']({ tenantId, deliveryId, attempt, statusCode: outcome.statusCode, latencyMs: outcome.latencyMs, err: outcome.error ?? undefined, status }, 'webhook attempt');
    if (next) {
      await opts.queue.add(WEBHOOKS_QUEUE, WEBHOOK_ATTEMPT_JOB, { tenantId, deliveryId, attempt: attempt + 1 }, { jobId: `${deliveryId}.${attempt + 1}`, delayMs: Math.max(0, next.getTime() - Date.now()), attempts: 3 });
    }
  };
}

/** The next attempt's time, or null past the 3-day window from the first attempt (whatever the delays). */
function nextAttempt(first: Date, attempt: number, delay: (attempt: number) => number): Date | null {
  const at = new Date(Date.now() + delay(attempt));
  return at.getTime() - first.getTime() > RETRY_WINDOW_MS ? null : at;
}

/** One signed POST; never throws. The error text names what failed, never the secret or the body. */
export async function attemptOnce(post: typeof fetch, due: Pick<Due, 'url' | 'body' | 'eventType' | 'noticeId' | 'secrets'>, deliveryId: string, timeoutMs: number): Promise<AttemptOutcome> {
  const started = performance.now();
  const latency = (): number => Math.round(performance.now() - started);
  try {
    const res = await post(due.url, {
      method: 'POST',
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
      headers: {
        'content-type': 'application/json',
        'user-agent': 'LiquidABT-Webhooks/1',
        [SIGNATURE_HEADER]: signatureHeader(due.secrets, due.body, Math.floor(Date.now() / 1000)),
        'Liquid-Event-Id': due.noticeId,
        'Liquid-Delivery-Id': deliveryId,
        'Liquid-Event-Type': due.eventType,
      },
      body: due.body,
    });
    await res.body?.cancel().catch(() => undefined);
    const ok = res.status >= 200 && res.status < 300;
    return { statusCode: res.status, latencyMs: latency(), error: ok ? null : `HTTP ${res.status}`, ok };
  } catch (err) {
    const e = err as Error;
    const error = e.name === 'TimeoutError' ? `timed out after ${timeoutMs} ms` : `${e.name}: ${(e.cause as Error | undefined)?.message ?? e.message}`.slice(0, 500);
    return { statusCode: null, latencyMs: latency(), error, ok: false };
  }
}
