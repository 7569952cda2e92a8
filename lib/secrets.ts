import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, realpathSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { LEGACY_KID, type JwtKeyRing } from './auth/tokens';
import type { KeyRing } from './crypto/secret-box';

/** A key added by rotation (newest first in its list); the original `jwtSecret`/`integrationKey` stay as the oldest. */
export type RotatedKey = { kid: string; secret: string; createdAt: string };

export type LocalSecrets = {
  jwtSecret: string;
  appDbPassword: string;
  embeddedPgPassword: string;
  demoPassword: string;
  integrationKey: string;
  /** HMAC key the gateway signs subgraph requests with (lib/auth/gateway-signature.ts). */
  gatewaySecret: string;
  /** When the original jwtSecret / integrationKey were first seen by a version that rotates (ISO). */
  keysSince?: { jwt: string; integration: string };
  /** Keys added by automated rotation, newest (current) first. Older ones stay: they verify and open. */
  jwtKeys?: RotatedKey[];
  integrationKeys?: RotatedKey[];
};

const RotatedKeySchema = z.object({ kid: z.string(), secret: z.string(), createdAt: z.string() });
// What secrets.json may hold: older versions wrote fewer keys; loose so keys a newer version added survive a rewrite.
const StoredSecretsSchema = z.looseObject({
  jwtSecret: z.string().optional(),
  appDbPassword: z.string().optional(),
  embeddedPgPassword: z.string().optional(),
  demoPassword: z.string().optional(),
  integrationKey: z.string().optional(),
  gatewaySecret: z.string().optional(),
  keysSince: z.object({ jwt: z.string(), integration: z.string() }).optional(),
  jwtKeys: z.array(RotatedKeySchema).optional(),
  integrationKeys: z.array(RotatedKeySchema).optional(),
});
const CompleteSecretsSchema = StoredSecretsSchema.required({
  jwtSecret: true,
  appDbPassword: true,
  embeddedPgPassword: true,
  demoPassword: true,
  integrationKey: true,
  gatewaySecret: true,
});

function readSecrets(file: string): z.infer<typeof StoredSecretsSchema> {
  return StoredSecretsSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
}

/** The kid the generated integration key has always had in the ring (`local:<key>`). */
export const LOCAL_INTEGRATION_KID = 'local';

const generated = (): Omit<LocalSecrets, 'keysSince' | 'jwtKeys' | 'integrationKeys'> => ({
  jwtSecret: randomBytes(48).toString('base64url'),
  appDbPassword: randomBytes(24).toString('base64url'),
  embeddedPgPassword: randomBytes(24).toString('base64url'),
  // Meets the password policy: upper, lower, digit, symbol, 12+ characters.
  demoPassword: `Seed-${randomBytes(9).toString('hex')}-Aa1`,
  integrationKey: randomBytes(32).toString('base64'),
  gatewaySecret: randomBytes(32).toString('base64url'),
});

const sleep = (ms: number): void => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};
/** A lock older than this was left by a process that died holding it. */
const STALE_LOCK_MS = 30_000;

/** Replaces the file in one step (a reader never sees half of it), mode 0600; a symlinked file stays a symlink. */
function writeAtomically(file: string, value: LocalSecrets): void {
  const target = realpathSync(file);
  const tmp = `${target}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, JSON.stringify(value), { mode: 0o600 });
  renameSync(tmp, target);
}

/** Runs fn holding `<file>.lock` (exclusive create), so concurrent starts never write over each other's keys. */
function withLock<T>(file: string, fn: () => T): T {
  const lock = `${file}.lock`;
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx', mode: 0o600 });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 250) throw err;
      try {
        if (Date.now() - statSync(lock).mtimeMs > STALE_LOCK_MS) unlinkSync(lock);
      } catch {
        // Released meanwhile.
      }
      sleep(20);
    }
  }
  try {
    return fn();
  } finally {
    unlinkSync(lock);
  }
}

/**
 * Secrets for a machine with no configuration: generated once, kept in DATA_DIR (git-ignored,
 * mode 0600), never logged. Concurrent first starts agree on one file (exclusive create).
 */
export function loadOrCreateLocalSecrets(dataDir: string): LocalSecrets {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, 'secrets.json');
  const fresh = generated();
  try {
    writeFileSync(file, JSON.stringify(fresh), { flag: 'wx', mode: 0o600 });
    return fresh;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  for (let attempt = 0; ; attempt++) {
    try {
      const stored = readSecrets(file);
      // Files written by an older version lack newer secrets: add them once, keep the rest (re-read under the lock).
      if ((Object.keys(fresh) as (keyof typeof fresh)[]).some((k) => !stored[k])) {
        return withLock(file, () => {
          const current = readSecrets(file);
          const merged: LocalSecrets = { ...fresh, ...current };
          writeAtomically(file, merged);
          return merged;
        });
      }
      // Every generated key is present in `stored`, so `fresh` contributes nothing here.
      return { ...fresh, ...stored };
    } catch (err) {
      // Another process may be between create and write; give it a moment.
      if (attempt > 50) throw err;
      sleep(20);
    }
  }
}

/** The JWT ring from the file: the newest rotated key signs; the original secret is kid "default". */
export function localJwtKeyRing(s: LocalSecrets): JwtKeyRing {
  const keys: Record<string, string> = { [LEGACY_KID]: s.jwtSecret };
  for (const k of s.jwtKeys ?? []) keys[k.kid] = k.secret;
  return { current: s.jwtKeys?.[0]?.kid ?? LEGACY_KID, keys };
}

/** The integration/MFA sealing ring from the file: the newest rotated key seals; the original is kid "local". */
export function localIntegrationKeyRing(s: LocalSecrets): KeyRing {
  const keys: Record<string, Buffer> = { [LOCAL_INTEGRATION_KID]: Buffer.from(s.integrationKey, 'base64') };
  for (const k of s.integrationKeys ?? []) keys[k.kid] = Buffer.from(k.secret, 'base64');
  return { current: s.integrationKeys?.[0]?.kid ?? LOCAL_INTEGRATION_KID, keys };
}

export type Rotation = { secrets: LocalSecrets; rotated: ('jwt' | 'integration')[] };

/**
 * Automated rotation of the generated keys: a new JWT signing key and a new sealing key once the
 * current one is older than `maxAgeMs`. Old keys are kept (old tokens verify until they expire;
 * sealed values open until the re-seal job has moved them). Idempotent and safe to race.
 */
export function rotateLocalKeys(dataDir: string, maxAgeMs: number, kinds: { jwt: boolean; integration: boolean }, now = new Date()): Rotation {
  const file = join(dataDir, 'secrets.json');
  loadOrCreateLocalSecrets(dataDir);
  return withLock(file, () => {
    const s: LocalSecrets = CompleteSecretsSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
    const rotated: Rotation['rotated'] = [];
    const since = s.keysSince ?? { jwt: now.toISOString(), integration: now.toISOString() };
    const age = (list: RotatedKey[] | undefined, original: string): number => now.getTime() - Date.parse(list?.[0]?.createdAt ?? original);
    const kid = (p: string): string => `${p}${now.toISOString().slice(0, 10).replace(/-/g, '')}${randomBytes(3).toString('hex')}`;
    const next: LocalSecrets = { ...s, keysSince: since };
    if (kinds.jwt && age(s.jwtKeys, since.jwt) >= maxAgeMs) {
      next.jwtKeys = [{ kid: kid('j'), secret: randomBytes(48).toString('base64url'), createdAt: now.toISOString() }, ...(s.jwtKeys ?? [])];
      rotated.push('jwt');
    }
    if (kinds.integration && age(s.integrationKeys, since.integration) >= maxAgeMs) {
      next.integrationKeys = [{ kid: kid('i'), secret: randomBytes(32).toString('base64'), createdAt: now.toISOString() }, ...(s.integrationKeys ?? [])];
      rotated.push('integration');
    }
    if (rotated.length || !s.keysSince) writeAtomically(file, next);
    return { secrets: next, rotated };
  });
}
