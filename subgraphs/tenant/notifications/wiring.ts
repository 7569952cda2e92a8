import type { NoticeSink } from '../../../lib/events/notices';
import type { ModuleBackground, ModuleDeps, ModuleProcessor } from '../../../lib/module';
import { NOTICES_QUEUE } from '../../../lib/events/notices';
import { EmailSink } from './email.sink';
import { mailTransportFor } from './mail-transport';
import { noticesProcessor } from './notices.processor';

export { NOTIFICATION_TENANT_TABLES, notificationTenantMigrations } from './notifications.migrations';
export { NotificationPreferenceService } from './notification-preferences';
export { NotificationResolver, type NotificationServices } from './notification.resolver';

/** The notices processor and the sinks it fans out to (email now; SMS and outbound webhooks register here). */
export function notificationJobs({ tenants, config }: ModuleDeps): { processor: ModuleProcessor; background: ModuleBackground } {
  const transport = mailTransportFor(config.mail);
  const sinks: NoticeSink[] = [new EmailSink({ tenants, transport, from: config.mail.from })];
  return {
    processor: { queue: NOTICES_QUEUE, handler: noticesProcessor(sinks), concurrency: 2 },
    background: { name: 'mail-transport', start: () => undefined, stop: () => Promise.resolve(transport.close()) },
  };
}
