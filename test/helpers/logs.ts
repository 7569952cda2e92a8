import { Writable } from 'node:stream';
import { configureLogger } from '../../lib/logger';

/**
 * From now on every log line at `level` or above is appended to `lines` (raw JSON, as written), so a
 * test can prove what was and was not logged (no secret, no phone number). `configureLogger('silent')`
 * (or the next capture) ends it.
 */
export function captureLogs(lines: string[], level = 'info'): void {
  configureLogger(
    level,
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString('utf8'));
        cb();
      },
    }),
  );
}
