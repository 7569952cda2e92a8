import 'reflect-metadata';
import { loadConfig } from '../lib/config';
import { startEmbeddedPostgres } from '../lib/db/embedded';
import { migrate } from '../lib/db/migrate';
import { configureLogger } from '../lib/logger';
import { loadOrCreateLocalSecrets } from '../lib/secrets';

/** `npm run migrate`: public, pool and every dedicated tenant schema. Safe to re-run. */
async function main(): Promise<void> {
  const config = loadConfig();
  configureLogger(config.logLevel);
  const local = loadOrCreateLocalSecrets(config.dataDir);
  const embedded = config.databaseUrl
    ? undefined
    : await startEmbeddedPostgres({ dataDir: config.dataDir, password: local.embeddedPgPassword, port: config.embeddedPg.port, runtimeDir: config.embeddedPg.runtimeDir });
  try {
    const report = await migrate(config.databaseUrl ?? embedded!.url, config.appDbPassword ?? local.appDbPassword);
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } finally {
    await embedded?.stop();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`migration failed: ${err.message}\n`);
  process.exit(1);
});
