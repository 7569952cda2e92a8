import type { TenantTransactions } from '../../../lib/db/tenant-tx';
import type { Notice, NoticeSink } from '../../../lib/events/notices';
import { deliverToEach, noticeAudience } from './claimed-delivery';
import { smsRecipients } from './notification-preferences';
import { SmsSendError, type SmsProvider } from './sms-provider';
import { renderNoticeSms } from './sms-templates';

export type SmsSinkOptions = { tenants: TenantTransactions; provider: SmsProvider };

/**
 * SMS to the notice's tenant's members who opted in and set a number, once per member
 * (claimed-delivery.ts). A number the provider refuses as invalid is recorded as delivered-with-error
 * (not retried forever); throttling and outages fail the job, whose retry sends only what is missing.
 * Logs name the member's id, never the number or the text.
 */
export class SmsSink implements NoticeSink {
  readonly name = 'sms';

  constructor(private readonly opts: SmsSinkOptions) {}

  async handle(notice: Notice): Promise<void> {
    const { tenants, provider } = this.opts;
    const { recipients, tenantName } = await noticeAudience(tenants, notice, smsRecipients);
    if (recipients.length === 0) return;
    const body = renderNoticeSms(notice, { tenantName });
    if (!body) return;
    await deliverToEach({
      tenants,
      notice,
      channel: 'sms',
      via: provider.kind,
      logs: { sent: 'notification SMS', notSent: 'notification SMS not sent' },
      recipients,
      send: async (r, key) => {
        try {
          return (await provider.send({ to: r.number, body }, key)).messageId;
        } catch (err) {
          // An invalid number will not become valid on retry: keep the claim, with the reason instead of a message id.
          if (err instanceof SmsSendError && err.code === 'SMS_INVALID_NUMBER') return `error:${err.code}:${err.providerCode ?? ''}`;
          throw err;
        }
      },
    });
  }
}
