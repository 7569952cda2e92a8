import type { ModuleBackground, ModuleDeps } from '../../../../lib/module';
import { PeriodicTask } from '../../../../lib/periodic';
import type { IntegrationService } from '../integration.service';
import { PaymentOAuthService } from './oauth.service';

export { PAYMENT_OAUTH_TENANT_TABLES, paymentOAuthTenantMigrations } from './oauth.migrations';
export { PaymentOAuthResolver, type PaymentOAuthServices } from './oauth.resolver';
export { paymentOAuthRouter } from './oauth.router';
export { PaymentOAuthService } from './oauth.service';

export function paymentOAuthService({ orm, tenants, keys, config }: ModuleDeps, integrations: IntegrationService): PaymentOAuthService {
  return new PaymentOAuthService(orm, tenants, keys.sealing, integrations, config.paymentOAuth);
}

/** The workers' pass that refreshes OAuth access tokens before they expire. */
export function paymentOAuthRefresher(oauth: PaymentOAuthService, intervalMs: number): ModuleBackground {
  const task = new PeriodicTask('payment-oauth-refresh', intervalMs, () => oauth.refreshDue());
  return { name: 'payment-oauth-refresh', start: () => task.start(5000), stop: () => task.stop() };
}
