import type { ModuleDeps, ModuleProcessor } from '../../../lib/module';
import { webhookDeliveryProcessor } from './webhook-delivery.processor';
import { WEBHOOKS_QUEUE } from './webhook-endpoint.service';

export { ENDPOINT_TENANT_TABLES, endpointTenantMigrations } from './endpoints.migrations';
export { WebhookEndpointService } from './webhook-endpoint.service';
export { WebhookEndpointResolver, type WebhookServices } from './webhook.resolver';
export { WebhookSink } from './webhook.sink';

/** The `webhooks` queue: one job per attempt of one delivery; concurrency so a slow endpoint (10 s timeout) never holds up the rest. */
export function webhookJobs({ tenants, queue, keys }: ModuleDeps): ModuleProcessor {
  return { queue: WEBHOOKS_QUEUE, handler: webhookDeliveryProcessor({ tenants, queue, keys: keys.sealing }), concurrency: 8 };
}
