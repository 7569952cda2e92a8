/**
 * The workers role exactly as `ops/start.ts workers` runs it, but loaded ahead: it waits for a line
 * on stdin before starting, so the crash-injection harness can replace a SIGKILLed workers process
 * at once instead of waiting seconds for module loading.
 */
import 'reflect-metadata';
import { loadConfig } from '../../lib/config';
import { configureLogger, log } from '../../lib/logger';
import { startPlatform } from '../../ops/platform';
import { WORKERS_UP } from './markers';


process.stdin.once('data', () => {
  const config = loadConfig();
  configureLogger(config.logLevel);
  startPlatform(config, { roles: ['workers'], migrate: false }).then(
    () => process.stdout.write(`${WORKERS_UP}\n`),
    (err: Error) => {
      log().fatal({ err: err.message }, 'failed to start');
      process.exit(1);
    },
  );
});
process.stdout.write('chaos: workers loaded\n');
