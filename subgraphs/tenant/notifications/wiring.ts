import type { TwilioConfig } from '../../../lib/config';
import type { NoticeSink } from '../../../lib/events/notices';
import type { ModuleBackground, ModuleDeps, ModuleProcessor } from '../../../lib/module';
import { NOTICES_QUEUE } from '../../../lib/events/notices';
import { EmailSink } from './email.sink';
import { mailTransportFor } from './mail-transport';
import { noticesProcessor } from './notices.processor';
import { localSmsOutbox, type SmsProvider } from './sms-provider';
import { SmsSink } from './sms.sink';
import { TwilioClient } from './twilio.client';
import { WebhookSink } from '../endpoints/webhook.sink';
import { createObjectStore } from '../../../lib/storage/from-config';

export { NOTIFICATION_TENANT_TABLES, notificationTenantMigrations } from './notifications.migrations';
export { NotificationPreferenceService } from './notification-preferences';
export { NotificationResolver, type NotificationServices } from './notification.resolver';

/** Twilio when configured (SMS_PROVIDER=twilio), else the local SMS outbox folder (`npm start`). */
export const smsProviderFor = (sms: { twilio?: TwilioConfig; outboxDir: string }): SmsProvider =>
  sms.twilio ? new TwilioClient(sms.twilio) : localSmsOutbox(sms.outboxDir);

/** The notices processor and the sinks it fans out to: email, SMS, and outbound webhooks (which only claim deliveries; the `webhooks` queue sends them). */
export function notificationJobs({ tenants, config }: ModuleDeps): { processor: ModuleProcessor; background: ModuleBackground } {
  const transport = mailTransportFor(config.mail);
  const sinks: NoticeSink[] = [
    // The statement PDF (compliance stores it) is read from the same object store to be attached.
    new EmailSink({ tenants, transport, from: config.mail.from, files: createObjectStore(config) }),
    new SmsSink({ tenants, provider: smsProviderFor(config.sms) }),
    new WebhookSink(tenants),
  ];
  return {
    processor: { queue: NOTICES_QUEUE, handler: noticesProcessor(sinks), concurrency: 2 },
    background: { name: 'mail-transport', start: () => undefined, stop: () => Promise.resolve(transport.close()) },
  };
}
