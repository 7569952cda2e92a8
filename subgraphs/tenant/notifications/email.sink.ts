import type { TenantTransactions } from '../../../lib/db/tenant-tx';
import type { Notice, NoticeSink } from '../../../lib/events/notices';
import { log } from '../../../lib/logger';
import { renderNoticeEmail } from './email-templates';
import type { MailTransport } from './mail-transport';
import { emailRecipients } from './notification-preferences';

export type EmailSinkOptions = { tenants: TenantTransactions; transport: MailTransport; from: string };

/**
 * Email to the notice's tenant's members who want it. Idempotent on notice.id: each (notice, member,
 * 'email') is claimed by a row in notification_delivery in the transaction that sends it, committed
 * only once the message was accepted; a re-run (or a concurrent run, which waits on the row) finds it
 * and sends nothing. A crash between acceptance and commit is the one window that can send again.
 */
export class EmailSink implements NoticeSink {
  readonly name = 'email';

  constructor(private readonly opts: EmailSinkOptions) {}

  async handle(notice: Notice): Promise<void> {
    const { tenants } = this.opts;
    const { recipients, tenantName } = await tenants.run(notice.tenantId, async ({ em, tenantId }) => {
      const [t] = await em.execute<{ name: string }[]>(`select name from public.tenant where id = ?`, [tenantId]);
      return { recipients: await emailRecipients(em, tenantId, notice.type), tenantName: t?.name ?? 'your business' };
    });
    const rendered = renderNoticeEmail(notice, { tenantName });
    if (!rendered) return;
    let failed: Error | undefined;
    for (const r of recipients) {
      try {
        await tenants.run(notice.tenantId, async ({ em }) => {
          const claimed = await em.execute<{ user_id: string }[]>(
            `insert into notification_delivery (notice_id, user_id, channel, notice_type) values (?, ?, 'email', ?)
             on conflict do nothing returning user_id`,
            [notice.id, r.userId, notice.type],
          );
          if (claimed.length === 0) return;
          const sent = await this.opts.transport.send(
            { from: this.opts.from, to: r.email, ...rendered, headers: { 'X-Liquid-Notice-Id': notice.id } },
            `${notice.occurredAt.replace(/[^0-9A-Za-z]/g, '')}-${notice.type}-${notice.id}-${r.userId}`,
          );
          await em.execute(`update notification_delivery set message_id = ? where notice_id = ? and user_id = ? and channel = 'email'`, [sent.messageId, notice.id, r.userId]);
          log().info({ noticeId: notice.id, type: notice.type, userId: r.userId, via: this.opts.transport.kind }, 'notification emailed');
        });
      } catch (err) {
        // The others still get theirs; the job fails and its retry sends only what is missing.
        log().warn({ noticeId: notice.id, userId: r.userId, err: (err as Error).message }, 'notification email not sent');
        failed ??= err as Error;
      }
    }
    if (failed) throw failed;
  }
}
