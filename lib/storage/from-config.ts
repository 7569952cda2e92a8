import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config';
import { LocalObjectStore } from './local-store';
import type { ObjectStore } from './object-store';
import { S3ObjectStore } from './s3-store';

/** The files signing secret: configured, else generated once into DATA_DIR (shared by the roles that use it). */
export function filesSigningSecret(config: Config): string {
  if (config.storage.filesSecret) return config.storage.filesSecret;
  const file = path.join(config.dataDir, 'files-signing.secret');
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    mkdirSync(config.dataDir, { recursive: true });
    const secret = randomBytes(32).toString('hex');
    try {
      writeFileSync(file, secret, { mode: 0o600, flag: 'wx' });
      return secret;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return readFileSync(file, 'utf8').trim();
      throw e;
    }
  }
}

export function createLocalObjectStore(config: Config): LocalObjectStore {
  return new LocalObjectStore({ root: config.storage.localDir, secret: filesSigningSecret(config), baseUrl: config.storage.filesBaseUrl });
}

/** The object store the configuration names (OBJECT_STORE=local|s3). */
export function createObjectStore(config: Config): ObjectStore {
  if (config.storage.kind === 's3') return new S3ObjectStore(config.storage.s3);
  return createLocalObjectStore(config);
}
