import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { loadConfig, type Config } from '../lib/config';
import { configureLogger } from '../lib/logger';
import { loadOrCreateLocalSecrets } from '../lib/secrets';
import { createLocalObjectStore } from '../lib/storage/from-config';
import type { ObjectStore } from '../lib/storage/object-store';
import { S3ObjectStore } from '../lib/storage/s3-store';
import { BackupError, BackupErrorCode, redactUrl } from './backups/backup.errors';
import { createBackup, listBackups, pruneBackups } from './backups/backup';
import { restoreBackup } from './backups/restore';

const USAGE = `usage:
  npm run backup                      pg_dump -Fc of DATABASE_URL to object storage, then retention (BACKUP_KEEP days)
  npm run restore -- [--id <id>] [--target <db>] [--keep-failed] [--over-live]
                                      fetch + SHA-256 check, pg_restore into a NEW database, verify
  node -r @swc-node/register ops/backup.ts list | prune`;

/** Backups go to BACKUP_S3_BUCKET (else S3_BUCKET) on S3, or under the local object store. */
export function backupStore(config: Config): ObjectStore {
  if (config.storage.kind === 's3') return new S3ObjectStore({ ...config.storage.s3, bucket: config.backup.s3Bucket ?? config.storage.s3.bucket });
  return createLocalObjectStore(config);
}

async function main(argv: string[]): Promise<void> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { id: { type: 'string' }, target: { type: 'string' }, 'keep-failed': { type: 'boolean' }, 'over-live': { type: 'boolean' } },
  });
  const command = positionals[0];
  const config = loadConfig();
  configureLogger(config.logLevel);
  const out = (o: unknown): void => void process.stdout.write(`${JSON.stringify(o, null, 2)}\n`);
  const store = backupStore(config);
  const target = { store, prefix: config.backup.prefix };
  try {
    if (command === 'list') return out(await listBackups(target));
    if (command === 'prune') return out({ pruned: await pruneBackups({ ...target, keepDays: config.backup.keepDays }) });
    if (command !== 'backup' && command !== 'restore') throw new BackupError(BackupErrorCode.INVALID_ARGUMENT, `unknown command ${JSON.stringify(command ?? '')}\n${USAGE}`);
    // The embedded database ships no pg_dump/pg_restore of its version: backups are of an external server.
    const databaseUrl = config.databaseUrl;
    if (!databaseUrl) throw new BackupError(BackupErrorCode.NO_DATABASE_URL, 'set DATABASE_URL (the owner connection of an external PostgreSQL)');
    if (command === 'backup') {
      const manifest = await createBackup({ ...target, databaseUrl });
      const pruned = await pruneBackups({ ...target, keepDays: config.backup.keepDays });
      return out({ backup: { id: manifest.id, key: manifest.key, size: manifest.size, sha256: manifest.sha256, durationMs: manifest.durationMs, tenants: manifest.tenants }, pruned });
    }
    const report = await restoreBackup({
      ...target,
      databaseUrl,
      id: values.id,
      targetDatabase: values.target,
      overLive: values['over-live'] === true,
      keepFailed: values['keep-failed'] === true,
      rolePassword: config.appDbPassword ?? loadOrCreateLocalSecrets(config.dataDir).appDbPassword,
      jobs: config.backup.restoreJobs,
    });
    out({ restored: report, ok: true });
  } finally {
    if (store instanceof S3ObjectStore) store.close();
  }
}

main(process.argv.slice(2)).catch((err: Error) => {
  // Typed failures print their code and every problem; anything else only its message (URLs redacted).
  const problems = err instanceof BackupError ? err.problems : [];
  process.stderr.write(`${redactUrl(err instanceof BackupError ? err.message : `backup failed: ${err.message}`)}\n`);
  for (const p of problems) process.stderr.write(`  - ${redactUrl(p)}\n`);
  process.exit(1);
});
