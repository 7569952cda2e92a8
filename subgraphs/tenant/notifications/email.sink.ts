import type { TenantTransactions } from '../../../lib/db/tenant-tx';
import type { Notice, NoticeSink } from '../../../lib/events/notices';
import { deliverToEach, noticeAudience } from './claimed-delivery';
import { renderNoticeEmail } from './email-templates';
import type { ObjectStore } from '../../../lib/storage/object-store';
import type { MailAttachment, MailTransport } from './mail-transport';
import { emailRecipients } from './notification-preferences';

export type EmailSinkOptions = {
  tenants: TenantTransactions;
  transport: MailTransport;
  from: string;
  /** Where generated files live (the monthly statement PDF the `statement.ready` email attaches). */
  files?: ObjectStore;
};

/**
 * The files a notice's email carries: the statement PDF named by `data.pdfKey`, only from the notice's
 * own tenant's statements folder. A missing file throws, so the job retries rather than mailing without it.
 */
export async function noticeAttachments(notice: Notice, files: ObjectStore | undefined): Promise<MailAttachment[]> {
  if (notice.type !== 'statement.ready') return [];
  const key = notice.data.pdfKey;
  if (typeof key !== 'string' || !key.startsWith(`${notice.tenantId}/statements/`) || !key.endsWith('.pdf')) throw new Error(`notice ${notice.id}: no statement file of this tenant`);
  if (!files) throw new Error('notifications: no object store for the statement attachment');
  const bytes = await files.get(key);
  if (!bytes) throw new Error(`notice ${notice.id}: statement file not found`);
  return [{ filename: key.slice(key.lastIndexOf('/') + 1), content: Buffer.from(bytes), contentType: 'application/pdf' }];
}

/** Email to the notice's tenant's members who want it, once per member (claimed-delivery.ts). */
export class EmailSink implements NoticeSink {
  readonly name = 'email';

  constructor(private readonly opts: EmailSinkOptions) {}

  async handle(notice: Notice): Promise<void> {
    const { tenants, transport, from } = this.opts;
    const { recipients, tenantName } = await noticeAudience(tenants, notice, emailRecipients);
    const rendered = renderNoticeEmail(notice, { tenantName });
    if (!rendered || recipients.length === 0) return;
    const attachments = await noticeAttachments(notice, this.opts.files);
    await deliverToEach({
      tenants,
      notice,
      channel: 'email',
      via: transport.kind,
      logs: { sent: 'notification emailed', notSent: 'notification email not sent' },
      recipients,
      send: async (r, key) => (await transport.send({ from, to: r.email, ...rendered, headers: { 'X-Liquid-Notice-Id': notice.id }, ...(attachments.length > 0 ? { attachments } : {}) }, key)).messageId,
    });
  }
}
