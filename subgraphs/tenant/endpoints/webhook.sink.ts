import { randomUUID } from 'node:crypto';
import type { TenantTransactions } from '../../../lib/db/tenant-tx';
import type { Notice, NoticeSink } from '../../../lib/events/notices';
import { log } from '../../../lib/logger';
import { enqueueFirstAttempt } from './webhook-endpoint.service';

/** The body every endpoint gets for a notice: what the notice may show, nothing else. */
export const deliveryBody = (n: Notice): string => JSON.stringify({ id: n.id, type: n.type, occurredAt: n.occurredAt, subjectId: n.subjectId, data: n.data });

/**
 * Outbound webhooks as a notice sink: claims one delivery per (endpoint, notice) and enqueues its
 * first attempt through the outbox, in one transaction. No HTTP here: each delivery is its own job on
 * the `webhooks` queue, so one slow endpoint holds up neither the notices queue nor other endpoints.
 * Idempotent on notice.id (the unique index on (endpoint_id, notice_id) for non-replays).
 */
export class WebhookSink implements NoticeSink {
  readonly name = 'webhooks';

  constructor(private readonly tenants: TenantTransactions) {}

  async handle(notice: Notice): Promise<void> {
    const body = deliveryBody(notice);
    await this.tenants.run(notice.tenantId, async (tx) => {
      const endpoints = await tx.em.execute<{ id: string }[]>(`select id::text as id from webhook_endpoint where enabled and ? = any(event_types)`, [notice.type]);
      for (const ep of endpoints) {
        const claimed = await tx.em.execute<{ id: string }[]>(
          `insert into webhook_delivery (id, endpoint_id, notice_id, event_type, body) values (?, ?, ?, ?, ?)
           on conflict (tenant_id, endpoint_id, notice_id) where replay_of is null do nothing returning id::text as id`,
          [randomUUID(), ep.id, notice.id, notice.type, body],
        );
        if (claimed[0]) await enqueueFirstAttempt(tx, claimed[0].id);
      }
      if (endpoints.length > 0) log().debug({ tenantId: notice.tenantId, noticeId: notice.id, endpoints: endpoints.length }, 'webhook deliveries claimed');
    });
  }
}
