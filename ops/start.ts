import 'reflect-metadata';
import { loadConfig } from '../lib/config';
import { configureLogger, log } from '../lib/logger';
import { loadOrCreateLocalSecrets } from '../lib/secrets';
import { ROLES, startPlatform, type ProcessRole } from './platform';
import { DEMO_EMAIL, seedDemoTenant } from './seed';

/** `npm start` runs every role; `npm run start:<role>` (or `start.ts <role>`) runs one. */
async function main(): Promise<void> {
  const config = loadConfig();
  configureLogger(config.logLevel);
  const arg = process.argv[2] ?? 'all';
  const roles: readonly ProcessRole[] = arg === 'all' ? ROLES : [arg as ProcessRole];
  if (!roles.every((r) => ROLES.includes(r))) {
    process.stderr.write(`unknown role "${arg}"; one of: all, ${ROLES.join(', ')}\n`);
    process.exit(2);
  }
  const all = arg === 'all';
  const platform = await startPlatform(config, { roles, migrate: all });

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log().info({ signal }, 'stopping');
    platform.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));

  if (all && platform.gatewayUrl && platform.services.auth) {
    const demoPassword = loadOrCreateLocalSecrets(config.dataDir).demoPassword;
    if (config.seedDemo) {
      const seeded = await seedDemoTenant(platform.services.auth, platform.gatewayUrl, demoPassword);
      log().info({ seeded }, 'demo tenant');
    }
    process.stdout.write(
      `\nLiquid ABT is running. Gateway: ${platform.gatewayUrl}\n` +
        (config.seedDemo ? `Log in with: mutation { login(input: { email: "${DEMO_EMAIL}", password: "${demoPassword}" }) { accessToken } }\n` : '') +
        `Stop with Ctrl-C.\n\n`,
    );
  }
}

main().catch((err: Error) => {
  log().fatal({ err: err.message }, 'failed to start');
  process.exit(1);
});
