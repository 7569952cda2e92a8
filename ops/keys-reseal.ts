import 'reflect-metadata';
import { loadConfig } from '../lib/config';
import { openAppOrm } from '../lib/db/orm';
import { configureLogger, log } from '../lib/logger';
import { loadOrCreateLocalSecrets } from '../lib/secrets';
import { IntegrationService } from '../subgraphs/tenant/payments/integration.service';
import { LoginThrottle } from '../subgraphs/tenant/identity/login-throttle';
import { MfaService } from '../subgraphs/tenant/identity/mfa.service';
import { KeyMaintenance } from '../subgraphs/tenant/jobs/keys-reseal';
import { resealWebhookSecrets } from '../subgraphs/tenant/endpoints/webhook-reseal';
import { TenantDirectory } from '../lib/db/tenant-context';
import { TenantTransactions } from '../lib/db/tenant-tx';
import { platformKeys, startPlatform } from './platform';

/**
 * `npm run keys:reseal`: one pass of the workers' key job now (e.g. right after adding a key to
 * INTEGRATION_KEYS), then prints what it did: counts and key ids, never a value.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  configureLogger(config.logLevel);
  // No roles: only the database (embedded when DATABASE_URL is unset) and the bus the audit outbox is kicked on.
  const platform = await startPlatform(config, { roles: [], migrate: false });
  const orm = await openAppOrm(platform.appUrl, [], 2);
  try {
    const keys = platformKeys(config, loadOrCreateLocalSecrets(config.dataDir), []);
    const job = new KeyMaintenance({
      integrations: new IntegrationService(orm, platform.bus, keys.sealing, { paypalApiBaseUrl: config.paypalApiBaseUrl }),
      mfa: new MfaService(orm, platform.bus, keys.sealing, new LoginThrottle(orm)),
      webhooks: { resealSecrets: () => resealWebhookSecrets(orm, new TenantTransactions(orm, new TenantDirectory(orm), platform.bus), keys.sealing) },
      intervalMs: config.keys.resealIntervalMs,
    });
    const report = await job.runOnce();
    process.stdout.write(`${JSON.stringify({ currentKeyId: keys.sealing.current, ...report })}\n`);
    process.exitCode = report.integrations.failed + report.mfa.failed + (report.webhooks?.failed ?? 0) > 0 ? 1 : 0;
  } finally {
    await orm.close(true);
    await platform.stop();
  }
}

main().catch((err: Error) => {
  log().fatal({ err: err.message }, 'key re-seal failed');
  process.exit(1);
});
