import 'reflect-metadata';
import { loadConfig } from '../lib/config';
import { configureLogger, log } from '../lib/logger';
import { loadOrCreateLocalSecrets } from '../lib/secrets';
import { ROLES, startPlatform, type Platform, type ProcessRole } from './platform';
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

  // Installed before anything starts, so a signal during start-up still stops what did start.
  const started: { platform?: Platform } = {};
  let signalled: NodeJS.Signals | undefined;
  const stop = (p: Platform): void => {
    const t0 = Date.now();
    p.stop().then(
      () => {
        log().info({ durationMs: Date.now() - t0 }, 'stopped');
        process.exit(0);
      },
      (err: Error) => {
        log().error({ err: err.message }, 'stop failed');
        process.exit(1);
      },
    );
  };
  const shutdown = (signal: NodeJS.Signals): void => {
    // Ctrl-C under npm arrives twice (from the terminal and forwarded by npm): one stop, bounded below.
    if (signalled) return;
    signalled = signal;
    log().info({ signal, timeoutMs: config.shutdownTimeoutMs }, 'stopping');
    const deadline = setTimeout(() => {
      log().fatal({ timeoutMs: config.shutdownTimeoutMs, step: started.platform?.stopStep() ?? 'starting' }, 'shutdown deadline exceeded');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    deadline.unref();
    if (started.platform) stop(started.platform); // else main() stops it as soon as startPlatform returns
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));

  // `npm start` migrates; a role alone migrates when the database lacks something, so any role starts alone.
  const platform = (started.platform = await startPlatform(config, { roles, migrate: all ? true : 'if-needed' }));
  if (signalled) return stop(platform);
  log().info({ roles, urls: platform.urls }, 'started');

  if (all && platform.gatewayUrl && platform.services.auth) {
    const demoPassword = loadOrCreateLocalSecrets(config.dataDir).demoPassword;
    if (config.seedDemo) {
      const seeded = await seedDemoTenant(platform.services.auth, platform.gatewayUrl, demoPassword);
      log().info({ seeded }, 'demo tenant');
    }
    process.stdout.write(
      `\nLiquid ABT is running. Gateway: ${platform.gatewayUrl}\n` +
        `Dashboard: ${new URL('/', platform.gatewayUrl).href}` +
        (config.seedDemo ? ` (demo login: ${DEMO_EMAIL} / ${demoPassword})` : '') +
        `\n` +
        (config.seedDemo ? `Or in GraphQL: mutation { login(input: { email: "${DEMO_EMAIL}", password: "${demoPassword}" }) { accessToken } }\n` : '') +
        `Stop with Ctrl-C.\n\n`,
    );
  }
}

main().catch((err: Error) => {
  log().fatal({ err: err.message }, 'failed to start');
  process.exit(1);
});
