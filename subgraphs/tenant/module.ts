import { join } from 'node:path';
import { loadPublicMigrations } from '../../lib/db/public-migrations';
import type { PlatformModule } from '../../lib/module';
import { AuthService } from './identity/auth.service';
import { buildTenantSchema, tenantEntities } from './index';
import { IntegrationService } from './payments/integration.service';
import { KeyMaintenance } from './jobs/keys-reseal';
import { LoginThrottle } from './identity/login-throttle';
import { MfaService } from './identity/mfa.service';
import { tenantTenantMigrations } from './migrations/tenant';
import type { TenantServices } from './identity/tenant.resolver';
import { webhookRouter } from './payments/webhook.router';
import { resealWebhookSecrets } from './endpoints/webhook-reseal';
import { ENDPOINT_TENANT_TABLES, WebhookEndpointService, endpointTenantMigrations, webhookJobs } from './endpoints/wiring';
import { PAYMENT_OAUTH_TENANT_TABLES, paymentOAuthRefresher, paymentOAuthRouter, paymentOAuthService, paymentOAuthTenantMigrations } from './payments/oauth/wiring';
import { NOTIFICATION_TENANT_TABLES, NotificationPreferenceService, notificationJobs, notificationTenantMigrations } from './notifications/wiring';

/** tenant: identity (tenants, users, members, MFA, API keys), payments (integrations, webhooks, payment events) notifications and outbound webhooks (#12). */
export const tenantModule: PlatformModule<TenantServices> = {
  name: 'tenant',
  entities: tenantEntities,
  tables: {
    tenant: ['payment_integration', 'payment_event', ...PAYMENT_OAUTH_TENANT_TABLES, ...NOTIFICATION_TENANT_TABLES, ...ENDPOINT_TENANT_TABLES],
    public: ['tenant', 'app_user', 'membership', 'refresh_token', 'mfa_recovery_code', 'invitation', 'api_key', 'login_throttle', 'integration_route', 'payment_account_route'],
  },
  publicMigrations: () => loadPublicMigrations(join(__dirname, 'migrations', 'public')),
  tenantMigrations: [...tenantTenantMigrations, ...paymentOAuthTenantMigrations, ...notificationTenantMigrations, ...endpointTenantMigrations],
  buildSchema: buildTenantSchema,
  createServices(deps) {
    const { orm, bus, keys, config } = deps;
    // One AES-256-GCM key ring (INTEGRATION_KEYS, rotatable) seals integration credentials and MFA secrets.
    const auth = new AuthService(orm, bus, keys.jwt, { mfaKeyRing: keys.sealing });
    const integrations = new IntegrationService(orm, bus, keys.sealing, {
      publicWebhookBaseUrl: config.publicWebhookBaseUrl,
      paypalApiBaseUrl: config.paypalApiBaseUrl,
    });
    // Processors connected by OAuth (#12): Square; tokens sealed with the same ring.
    const paymentOAuth = paymentOAuthService(deps, integrations);
    return { auth, integrations, paymentOAuth, notifications: new NotificationPreferenceService(), webhooks: new WebhookEndpointService(keys.sealing, config.env) };
  },
  // The OAuth callback and app-level webhooks first: their fast route must see /webhooks/connect/* before the per-integration one.
  mount: (app, { integrations, paymentOAuth }) => {
    app.use(paymentOAuthRouter(paymentOAuth));
    app.use(webhookRouter(integrations));
  },
  // Webhook URLs shown to users: the subgraph's own, then the gateway's (which relays /webhooks/*) when it runs here.
  published: ({ integrations }, { url, via }) => integrations.setDefaultWebhookBaseUrl(url, via === 'gateway' ? 'gateway' : 'tenant'),
  jobs(deps) {
    const { orm, bus, keys, config, tenants } = deps;
    const jobIntegrations = new IntegrationService(orm, bus, keys.sealing, { paypalApiBaseUrl: config.paypalApiBaseUrl });
    const keyJob = new KeyMaintenance({
      integrations: jobIntegrations,
      mfa: new MfaService(orm, bus, keys.sealing, new LoginThrottle(orm)),
      webhooks: { resealSecrets: () => resealWebhookSecrets(orm, tenants, keys.sealing) },
      rotate: keys.rotate,
      intervalMs: config.keys.resealIntervalMs,
    });
    // Notifications (#12): notices from every module's outbox, fanned out to the sinks (email).
    const notices = notificationJobs(deps);
    // Outbound webhooks (#12): each delivery attempt is a job of its own on `webhooks`.
    const webhooks = webhookJobs(deps);
    // OAuth access tokens (#12) refreshed before they expire.
    const refresher = paymentOAuthRefresher(paymentOAuthService(deps, jobIntegrations), config.paymentOAuth.refreshIntervalMs);
    return { processors: [notices.processor, webhooks.processor], background: [keyJob, notices.background, webhooks.background, refresher] };
  },
};
