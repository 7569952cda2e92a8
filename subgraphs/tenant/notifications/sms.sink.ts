import type { TenantTransactions } from '../../../lib/db/tenant-tx';
import type { Notice, NoticeSink } from '../../../lib/events/notices';
import { log } from '../../../lib/logger';
import { smsRecipients } from './notification-preferences';
import { SmsSendError, type SmsProvider } from './sms-provider';
import { renderNoticeSms } from './sms-templates';

export type SmsSinkOptions = { tenants: TenantTransactions; provider: SmsProvider };

/**
 * SMS to the notice's tenant's members who opted in and set a number. Idempotent on notice.id as the
 * email sink is: each (notice, member, 'sms') is claimed by a notification_delivery row committed only
 * once the provider accepted the message. A number the provider refuses as invalid is recorded as
 * delivered-with-error (not retried forever); throttling and outages fail the job, whose retry sends
 * only what is missing. Logs name the member's id, never the number or the text.
 */
export class SmsSink implements NoticeSink {
  readonly name = 'sms';

  constructor(private readonly opts: SmsSinkOptions) {}

  async handle(notice: Notice): Promise<void> {
    const { tenants, provider } = this.opts;
    const { recipients, tenantName } = await tenants.run(notice.tenantId, async ({ em, tenantId }) => {
      const [t] = await em.execute<{ name: string }[]>(`select name from public.tenant where id = ?`, [tenantId]);
      return { recipients: await smsRecipients(em, tenantId, notice.type), tenantName: t?.name ?? 'your business' };
    });
    if (recipients.length === 0) return;
    const body = renderNoticeSms(notice, { tenantName });
    if (!body) return;
    let failed: Error | undefined;
    for (const r of recipients) {
      try {
        await tenants.run(notice.tenantId, async ({ em }) => {
          const claimed = await em.execute<{ user_id: string }[]>(
            `insert into notification_delivery (notice_id, user_id, channel, notice_type) values (?, ?, 'sms', ?)
             on conflict do nothing returning user_id`,
            [notice.id, r.userId, notice.type],
          );
          if (claimed.length === 0) return;
          let messageId: string;
          try {
            messageId = (await provider.send({ to: r.number, body }, `${notice.occurredAt.replace(/[^0-9A-Za-z]/g, '')}-${notice.type}-${notice.id}-${r.userId}`)).messageId;
          } catch (err) {
            // An invalid number will not become valid on retry: keep the claim, with the reason instead of a message id.
            if (err instanceof SmsSendError && err.code === 'SMS_INVALID_NUMBER') messageId = `error:${err.code}:${err.providerCode ?? ''}`;
            else throw err;
          }
          await em.execute(`update notification_delivery set message_id = ? where notice_id = ? and user_id = ? and channel = 'sms'`, [messageId, notice.id, r.userId]);
          log().info({ noticeId: notice.id, type: notice.type, userId: r.userId, via: provider.kind, sent: !messageId.startsWith('error:') }, 'notification SMS');
        });
      } catch (err) {
        log().warn({ noticeId: notice.id, userId: r.userId, err: (err as Error).message }, 'notification SMS not sent');
        failed ??= err as Error;
      }
    }
    if (failed) throw failed;
  }
}
