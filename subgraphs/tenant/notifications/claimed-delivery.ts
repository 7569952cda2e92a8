import type { EntityManager } from '@mikro-orm/postgresql';
import type { TenantTransactions } from '../../../lib/db/tenant-tx';
import type { Notice } from '../../../lib/events/notices';
import { log } from '../../../lib/logger';

/** The tenant's name for the templates ('your business' when unknown) and the members a channel reaches for this notice, in one read. */
export async function noticeAudience<R>(
  tenants: TenantTransactions,
  notice: Notice,
  recipientsOf: (em: EntityManager, tenantId: string, type: Notice['type']) => Promise<R[]>,
): Promise<{ recipients: R[]; tenantName: string }> {
  return tenants.run(notice.tenantId, async ({ em, tenantId }) => {
    const [t] = await em.execute<{ name: string }[]>(`select name from public.tenant where id = ?`, [tenantId]);
    return { recipients: await recipientsOf(em, tenantId, notice.type), tenantName: t?.name ?? 'your business' };
  });
}

export type ClaimedDelivery<R> = {
  tenants: TenantTransactions;
  notice: Notice;
  channel: 'email' | 'sms';
  /** The transport or provider kind, for the log. */
  via: string;
  /** The log messages of a delivery made and of one that failed. */
  logs: { sent: string; notSent: string };
  recipients: readonly R[];
  /**
   * Sends to one member with the delivery's idempotency key; returns the message id to record
   * (`error:…` for a refusal that a retry would not change).
   */
  send: (recipient: R, idempotencyKey: string) => Promise<string>;
};

/**
 * Each (notice, member, channel) is claimed by a notification_delivery row in the transaction that
 * sends it, committed only once the message was accepted; a re-run (or a concurrent run, which waits
 * on the row) finds it and sends nothing. A crash between acceptance and commit is the one window
 * that can send again. One member's failure does not stop the others; the first failure is thrown
 * after all were tried, so the job's retry sends only what is missing.
 */
export async function deliverToEach<R extends { userId: string }>(d: ClaimedDelivery<R>): Promise<void> {
  const { tenants, notice, channel } = d;
  let failed: Error | undefined;
  for (const r of d.recipients) {
    try {
      await tenants.run(notice.tenantId, async ({ em }) => {
        const claimed = await em.execute<{ user_id: string }[]>(
          `insert into notification_delivery (notice_id, user_id, channel, notice_type) values (?, ?, ?, ?)
           on conflict do nothing returning user_id`,
          [notice.id, r.userId, channel, notice.type],
        );
        if (claimed.length === 0) return;
        const messageId = await d.send(r, `${notice.occurredAt.replace(/[^0-9A-Za-z]/g, '')}-${notice.type}-${notice.id}-${r.userId}`);
        await em.execute(`update notification_delivery set message_id = ? where notice_id = ? and user_id = ? and channel = ?`, [messageId, notice.id, r.userId, channel]);
        log().info({ noticeId: notice.id, type: notice.type, userId: r.userId, via: d.via, sent: !messageId.startsWith('error:') }, d.logs.sent);
      });
    } catch (err) {
      log().warn({ noticeId: notice.id, userId: r.userId, err: (err as Error).message }, d.logs.notSent);
      failed ??= err as Error;
    }
  }
  if (failed) throw failed;
}
