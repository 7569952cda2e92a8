import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ensurePlatformRoles, openOwnerOrm } from '../../lib/db/migrate';
import { BackupError, BackupErrorCode } from './backup.errors';
import { latestBackupId, readManifest, type BackupTarget } from './backup';
import { databaseOf, majorOf, pgConnection, runPgTool, withDatabase } from './pg-tools';
import { verifyRestoredDatabase, type VerifyReport } from './verify';

export type RestoreOptions = BackupTarget & {
  /** The owner connection of the live database; the target is created on the same server. */
  databaseUrl: string;
  /** Which backup; default the newest complete one. */
  id?: string;
  /** The database to create; default `<live>_restore_<id>`. */
  targetDatabase?: string;
  /** Restore over the live database itself (pg_restore --clean). Never without this. */
  overLive?: boolean;
  /** Keep a target that failed to restore or verify (to look into it); default: dropped. */
  keepFailed?: boolean;
  /** Creates the app and relay roles first (a new cluster has none: the dump's grants need them). */
  rolePassword?: string;
  jobs?: number;
  pgRestore?: string;
};

export type RestoreReport = {
  id: string;
  database: string;
  bytes: number;
  timings: { downloadMs: number; restoreMs: number; verifyMs: number; totalMs: number };
  verified: VerifyReport;
};

const DB_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** A database name for a restore of `id` from `live`: lower case, at most 63 bytes. */
export function restoreNameOf(live: string, id: string): string {
  const suffix = `_restore_${id.toLowerCase().replace(/[^a-z0-9]/g, '')}`;
  const base = live.toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, 63 - suffix.length);
  return `${/^[a-z_]/.test(base) ? base : `db_${base}`.slice(0, 63 - suffix.length)}${suffix}`;
}

/**
 * Fetches a backup and checks its SHA-256 and size against the manifest before anything is
 * created, restores it into a NEW database (the live one only with `overLive`), then verifies it
 * (verify.ts). Throws a BackupError with a stable code on any mismatch.
 */
export async function restoreBackup(opts: RestoreOptions): Promise<RestoreReport> {
  const t0 = Date.now();
  const id = opts.id ?? (await latestBackupId(opts));
  const manifest = await readManifest(opts, id);
  const live = databaseOf(opts.databaseUrl);
  const target = opts.overLive ? live : (opts.targetDatabase ?? restoreNameOf(live, id));
  if (!DB_NAME.test(target)) throw new BackupError(BackupErrorCode.INVALID_ARGUMENT, `${JSON.stringify(target)} is not a database name this restore creates (lower case letters, digits, _)`);
  if (!opts.overLive && target === live) throw new BackupError(BackupErrorCode.TARGET_IS_LIVE, `${target} is the live database: restore into a new one, or pass --over-live to replace it`);
  const pgRestore = opts.pgRestore ?? 'pg_restore';

  const work = await mkdtemp(path.join(tmpdir(), 'abt-restore-'));
  const file = path.join(work, 'abt.dump');
  try {
    // pg_restore wants a seekable file (and the checksum must pass before anything is restored).
    const body = await opts.store.getStream(manifest.key);
    if (!body) throw new BackupError(BackupErrorCode.BACKUP_NOT_FOUND, `backup ${id} has a manifest but no dump (${manifest.key})`);
    const hash = createHash('sha256');
    let size = 0;
    await pipeline(
      body,
      new Transform({
        transform(chunk: Buffer, _enc, done) {
          hash.update(chunk);
          size += chunk.length;
          done(null, chunk);
        },
      }),
      createWriteStream(file, { mode: 0o600 }),
    );
    const sha256 = hash.digest('hex');
    if (sha256 !== manifest.sha256 || size !== manifest.size) {
      throw new BackupError(
        BackupErrorCode.BACKUP_CHECKSUM_MISMATCH,
        `backup ${id} is not what was stored: SHA-256 ${sha256} (${size} bytes), manifest says ${manifest.sha256} (${manifest.size} bytes); nothing was restored`,
      );
    }
    const tDownload = Date.now();

    const toolVersion = (await runPgTool(pgRestore, ['--version'])).trim();
    if (majorOf(toolVersion) < majorOf(manifest.pgDumpVersion)) {
      throw new BackupError(BackupErrorCode.PG_VERSION_MISMATCH, `${toolVersion} cannot read a dump made by ${manifest.pgDumpVersion}`);
    }
    const admin = await openOwnerOrm(opts.databaseUrl);
    let created = false;
    try {
      const conn = admin.em.getConnection();
      const [server] = await conn.execute<{ v: string }[]>(`select current_setting('server_version') as v`);
      if (majorOf(server?.v ?? '0') < majorOf(manifest.serverVersion)) {
        throw new BackupError(BackupErrorCode.PG_VERSION_MISMATCH, `the backup is of PostgreSQL ${manifest.serverVersion}; this server is ${server?.v ?? 'unknown'} (restore onto the same major version or later)`);
      }
      if (!opts.overLive) {
        const [exists] = await conn.execute<{ n: number }[]>(`select count(*)::int as n from pg_database where datname = ?`, [target]);
        if (Number(exists?.n ?? 0) > 0) throw new BackupError(BackupErrorCode.TARGET_EXISTS, `database ${target} already exists: choose another --target or drop it`);
        await conn.execute(`create database "${target}"`);
        created = true;
      }
    } finally {
      await admin.close(true);
    }
    const targetUrl = withDatabase(opts.databaseUrl, target);
    try {
      if (opts.rolePassword) await ensurePlatformRoles(targetUrl, opts.rolePassword);
      const c = pgConnection(targetUrl);
      const jobs = Math.max(1, opts.jobs ?? 1);
      await runPgTool(
        pgRestore,
        ['--no-password', '--no-owner', '--exit-on-error', `--jobs=${jobs}`, ...(opts.overLive ? ['--clean', '--if-exists'] : []), `--dbname=${c.dbArg}`, file],
        c.env,
      );
      const tRestore = Date.now();
      const verified = await verifyRestoredDatabase(targetUrl, manifest.migrations);
      const tVerify = Date.now();
      return {
        id,
        database: target,
        bytes: size,
        timings: { downloadMs: tDownload - t0, restoreMs: tRestore - tDownload, verifyMs: tVerify - tRestore, totalMs: tVerify - t0 },
        verified,
      };
    } catch (err) {
      if (created && !opts.keepFailed) await dropDatabase(opts.databaseUrl, target).catch(() => undefined);
      throw err;
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Drops a database (a restore's; never the live one through this path). */
export async function dropDatabase(databaseUrl: string, name: string): Promise<void> {
  if (!DB_NAME.test(name)) throw new BackupError(BackupErrorCode.INVALID_ARGUMENT, `${JSON.stringify(name)} is not a database name`);
  if (name === databaseOf(databaseUrl)) throw new BackupError(BackupErrorCode.TARGET_IS_LIVE, `${name} is the live database`);
  const admin = await openOwnerOrm(databaseUrl);
  try {
    await admin.em.getConnection().execute(`drop database if exists "${name}" with (force)`);
  } finally {
    await admin.close(true);
  }
}
