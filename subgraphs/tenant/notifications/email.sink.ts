import type { TenantTransactions } from '../../../lib/db/tenant-tx';
import type { Notice, NoticeSink } from '../../../lib/events/notices';
import { deliverToEach, noticeAudience } from './claimed-delivery';
import { renderNoticeEmail } from './email-templates';
import type { MailTransport } from './mail-transport';
import { emailRecipients } from './notification-preferences';

export type EmailSinkOptions = { tenants: TenantTransactions; transport: MailTransport; from: string };

/** Email to the notice's tenant's members who want it, once per member (claimed-delivery.ts). */
export class EmailSink implements NoticeSink {
  readonly name = 'email';

  constructor(private readonly opts: EmailSinkOptions) {}

  async handle(notice: Notice): Promise<void> {
    const { tenants, transport, from } = this.opts;
    const { recipients, tenantName } = await noticeAudience(tenants, notice, emailRecipients);
    const rendered = renderNoticeEmail(notice, { tenantName });
    if (!rendered) return;
    await deliverToEach({
      tenants,
      notice,
      channel: 'email',
      via: transport.kind,
      logs: { sent: 'notification emailed', notSent: 'notification email not sent' },
      recipients,
      send: async (r, key) => (await transport.send({ from, to: r.email, ...rendered, headers: { 'X-Liquid-Notice-Id': notice.id } }, key)).messageId,
    });
  }
}
