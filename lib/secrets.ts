import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type LocalSecrets = { jwtSecret: string; appDbPassword: string; embeddedPgPassword: string; demoPassword: string; integrationKey: string };

/**
 * Secrets for a machine with no configuration: generated once, kept in DATA_DIR (git-ignored,
 * mode 0600), never logged. Concurrent first starts agree on one file (exclusive create).
 */
export function loadOrCreateLocalSecrets(dataDir: string): LocalSecrets {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, 'secrets.json');
  const fresh: LocalSecrets = {
    jwtSecret: randomBytes(48).toString('base64url'),
    appDbPassword: randomBytes(24).toString('base64url'),
    embeddedPgPassword: randomBytes(24).toString('base64url'),
    // Meets the password policy: upper, lower, digit, symbol, 12+ characters.
    demoPassword: `Seed-${randomBytes(9).toString('hex')}-Aa1`,
    integrationKey: randomBytes(32).toString('base64'),
  };
  try {
    writeFileSync(file, JSON.stringify(fresh), { flag: 'wx', mode: 0o600 });
    return fresh;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  for (let attempt = 0; ; attempt++) {
    try {
      const stored = JSON.parse(readFileSync(file, 'utf8')) as Partial<LocalSecrets>;
      // Files written by an older version lack newer secrets: add them once, keep the rest.
      if ((Object.keys(fresh) as (keyof LocalSecrets)[]).some((k) => !stored[k])) {
        const merged = { ...fresh, ...stored };
        writeFileSync(file, JSON.stringify(merged), { mode: 0o600 });
        return merged;
      }
      return stored as LocalSecrets;
    } catch (err) {
      // Another process may be between create and write; give it a moment.
      if (attempt > 50) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
}
