import type { ModuleBackground, ModuleDeps, ModuleProcessor } from '../../../lib/module';
import { webhookDeliveryProcessor } from './webhook-delivery.processor';
import { WEBHOOKS_QUEUE } from './webhook-endpoint.service';
import { webhookSweeper } from './webhook-sweeper';

export { ENDPOINT_TENANT_TABLES, endpointTenantMigrations } from './endpoints.migrations';
export { WebhookEndpointService } from './webhook-endpoint.service';
export { WebhookEndpointResolver, type WebhookServices } from './webhook.resolver';
export { WebhookSink } from './webhook.sink';

/** The `webhooks` queue: one job per attempt of one delivery; concurrency so a slow endpoint (10 s timeout) never holds up the rest. */
export function webhookJobs({ orm, tenants, queue, keys }: ModuleDeps): { processor: ModuleProcessor; background: ModuleBackground } {
  return {
    processor: { queue: WEBHOOKS_QUEUE, handler: webhookDeliveryProcessor({ tenants, queue, keys: keys.sealing }), concurrency: 8 },
    // Attempts whose job was lost (restart, failed enqueue) are found by their next_attempt_at.
    background: webhookSweeper(orm, tenants, queue),
  };
}
