import 'reflect-metadata';
import { createBus } from '../lib/bus';
import { loadConfig } from '../lib/config';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../lib/db/embedded';
import { migrate } from '../lib/db/migrate';
import { moveTenant, type MoveTarget } from '../lib/db/tenant-move';
import { configureLogger } from '../lib/logger';
import { loadOrCreateLocalSecrets } from '../lib/secrets';

const USAGE = 'usage: npm run tenant:isolate -- <tenantId>   |   npm run tenant:pool -- <tenantId>';

/**
 * `npm run tenant:isolate -- <id>` moves a tenant into its own schema, `tenant:pool` back into the
 * shared pool (lib/db/tenant-move). Safe under traffic; re-running is a no-op.
 */
async function main(): Promise<void> {
  const [mode, tenantId] = process.argv.slice(2);
  const target: MoveTarget | undefined = mode === 'isolate' ? 'dedicated' : mode === 'pool' ? 'pool' : undefined;
  if (!target || !tenantId) {
    process.stderr.write(`${USAGE}\n`);
    process.exit(2);
  }
  const config = loadConfig();
  configureLogger(config.logLevel);
  // Embedded mode: the running platform's database when it is up (its port is remembered), else start it for this.
  let embedded: EmbeddedDatabase | undefined;
  let ownerUrl = config.databaseUrl;
  const local = loadOrCreateLocalSecrets(config.dataDir);
  if (!ownerUrl) {
    embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, password: local.embeddedPgPassword, port: config.embeddedPg.port, runtimeDir: config.embeddedPg.runtimeDir, reuseRunning: true });
    ownerUrl = embedded.url;
  }
  const bus = createBus(config.redisUrl, config.redisPrefix);
  try {
    // The move needs the current migrations (its write guard among them): the same idempotent step as `npm run migrate`.
    await migrate(ownerUrl, config.appDbPassword ?? local.appDbPassword);
    const report = await moveTenant(ownerUrl, tenantId, target, { bus });
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } finally {
    await bus.close();
    await embedded?.stop();
  }
}

main().catch((err: Error & { code?: string }) => {
  process.stderr.write(`tenant move failed: ${err.code ? `${err.code}: ` : ''}${err.message}\n`);
  process.exit(1);
});
