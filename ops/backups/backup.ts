import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { IsolationLevel } from '@mikro-orm/core';
import { openOwnerOrm } from '../../lib/db/migrate';
import type { ObjectStore } from '../../lib/storage/object-store';
import { BackupError, BackupErrorCode } from './backup.errors';
import { MANIFEST_FORMAT, parseManifest, readMigrationState, type BackupManifest } from './manifest';
import { databaseOf, majorOf, pgConnection, runPgTool, startPgTool } from './pg-tools';

export type BackupTarget = { store: ObjectStore; prefix: string };

const ID = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})\.(\d{3})Z$/;

/** `2026-12-03T09:15:00.123Z` → `20261203T091500.123Z`: sortable, and a safe object-key segment. */
export function backupIdOf(at: Date): string {
  return at.toISOString().replace(/[-:]/g, '');
}

export function timeOfBackupId(id: string): Date | null {
  const m = ID.exec(id);
  return m ? new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.${m[7]}Z`) : null;
}

export const dumpKeyOf = (prefix: string, id: string): string => `${prefix}/${id}/abt.dump`;
export const manifestKeyOf = (prefix: string, id: string): string => `${prefix}/${id}/manifest.json`;

export type BackupOptions = BackupTarget & {
  /** The owner connection of the live database (DATABASE_URL). */
  databaseUrl: string;
  pgDump?: string;
  now?: () => Date;
};

/**
 * `pg_dump -Fc` of the database streamed into the object store (hashed on the way: never held
 * whole), then the manifest. The dump reads the snapshot a REPEATABLE READ transaction exported,
 * and that same transaction reads the migration heads and tenant count, so the manifest describes
 * exactly what was dumped. A failed dump leaves no manifest (and its partial object is removed).
 */
export async function createBackup(opts: BackupOptions): Promise<BackupManifest> {
  const pgDump = opts.pgDump ?? 'pg_dump';
  const started = (opts.now ?? (() => new Date()))();
  const id = backupIdOf(started);
  const key = dumpKeyOf(opts.prefix, id);
  const pgDumpVersion = (await runPgTool(pgDump, ['--version'])).trim();
  const orm = await openOwnerOrm(opts.databaseUrl);
  try {
    return await orm.em.fork().transactional(
      async (em) => {
        const [info] = await em.execute<{ snapshot: string; version: string }[]>(`select pg_export_snapshot() as snapshot, current_setting('server_version') as version`);
        if (!info) throw new BackupError(BackupErrorCode.PG_TOOL_FAILED, 'could not export a snapshot');
        if (majorOf(pgDumpVersion) < majorOf(info.version)) {
          throw new BackupError(BackupErrorCode.PG_VERSION_MISMATCH, `${pgDumpVersion} cannot dump a PostgreSQL ${info.version} server: install the client of version ${majorOf(info.version)} or later`);
        }
        const migrations = await readMigrationState(em);
        const [tenants] = await em.execute<{ n: number }[]>(`select count(*)::int as n from public.tenant`);
        const conn = pgConnection(opts.databaseUrl);
        const dump = startPgTool(pgDump, ['--format=custom', '--no-password', `--snapshot=${info.snapshot}`, `--dbname=${conn.dbArg}`], conn.env);
        const hash = createHash('sha256');
        const hashing = new Transform({
          transform(chunk: Buffer, _enc, done) {
            hash.update(chunk);
            done(null, chunk);
          },
        });
        let stored: { size: number };
        try {
          [stored] = await Promise.all([opts.store.putStream(key, dump.child.stdout.pipe(hashing), 'application/octet-stream'), dump.done]);
        } catch (err) {
          dump.child.kill('SIGTERM');
          await dump.done.catch(() => undefined);
          await opts.store.delete(key).catch(() => undefined);
          throw err;
        }
        const finished = new Date();
        const manifest: BackupManifest = {
          format: MANIFEST_FORMAT,
          id,
          key,
          size: stored.size,
          sha256: hash.digest('hex'),
          database: databaseOf(opts.databaseUrl),
          serverVersion: info.version,
          pgDumpVersion,
          migrations,
          tenants: Number(tenants?.n ?? 0),
          startedAt: started.toISOString(),
          finishedAt: finished.toISOString(),
          durationMs: Math.max(0, finished.getTime() - started.getTime()),
        };
        await opts.store.put(manifestKeyOf(opts.prefix, id), new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`), 'application/json');
        return manifest;
      },
      { isolationLevel: IsolationLevel.REPEATABLE_READ, readOnly: true },
    );
  } finally {
    await orm.close(true);
  }
}

export type BackupEntry = { id: string; at: Date; complete: boolean; keys: string[] };

/** The backups under the prefix, oldest first; complete = its manifest is there. */
export async function listBackups(t: BackupTarget): Promise<BackupEntry[]> {
  const byId = new Map<string, BackupEntry>();
  for (const o of await t.store.list(`${t.prefix}/`)) {
    const [id, file] = o.key.slice(t.prefix.length + 1).split('/');
    const at = id ? timeOfBackupId(id) : null;
    if (!id || !at || !file) continue;
    const e = byId.get(id) ?? { id, at, complete: false, keys: [] };
    e.keys.push(o.key);
    if (file === 'manifest.json') e.complete = true;
    byId.set(id, e);
  }
  return [...byId.values()].sort((a, b) => a.at.getTime() - b.at.getTime());
}

export async function readManifest(t: BackupTarget, id: string): Promise<BackupManifest> {
  if (!ID.test(id)) throw new BackupError(BackupErrorCode.INVALID_ARGUMENT, `${JSON.stringify(id)} is not a backup id (like 20261203T091500.123Z)`);
  const bytes = await t.store.get(manifestKeyOf(t.prefix, id));
  if (!bytes) throw new BackupError(BackupErrorCode.BACKUP_NOT_FOUND, `no backup ${id} under ${t.prefix}/ (or it never completed: no manifest)`);
  const m = parseManifest(bytes);
  if (m.id !== id || m.key !== dumpKeyOf(t.prefix, id)) throw new BackupError(BackupErrorCode.MANIFEST_INVALID, `manifest of ${id} names another backup (${m.id})`);
  return m;
}

export async function latestBackupId(t: BackupTarget): Promise<string> {
  const latest = (await listBackups(t)).filter((b) => b.complete).at(-1);
  if (!latest) throw new BackupError(BackupErrorCode.BACKUP_NOT_FOUND, `no complete backup under ${t.prefix}/`);
  return latest.id;
}

const DAY_MS = 86_400_000;

/**
 * Which backups retention keeps: every one of the last 24 h (the half-hourly ones that make the RPO),
 * and the newest of each of the newest `keepDays` UTC days that have a complete backup. Incomplete
 * ones older than 24 h go (a dump that never got its manifest).
 */
export function planRetention(backups: BackupEntry[], now: Date, keepDays: number): { keep: BackupEntry[]; drop: BackupEntry[] } {
  const dayOf = (b: BackupEntry): string => b.at.toISOString().slice(0, 10);
  const newestPerDay = new Map<string, BackupEntry>();
  for (const b of backups) {
    if (!b.complete) continue;
    const prior = newestPerDay.get(dayOf(b));
    if (!prior || prior.at < b.at) newestPerDay.set(dayOf(b), b);
  }
  const days = [...newestPerDay.keys()].sort().reverse().slice(0, keepDays);
  const daily = new Set(days.map((d) => newestPerDay.get(d)?.id));
  const keep: BackupEntry[] = [];
  const drop: BackupEntry[] = [];
  for (const b of backups) (now.getTime() - b.at.getTime() < DAY_MS || daily.has(b.id) ? keep : drop).push(b);
  return { keep, drop };
}

/** Deletes what retention does not keep; returns the ids removed. */
export async function pruneBackups(t: BackupTarget & { keepDays: number; now?: Date }): Promise<string[]> {
  const { drop } = planRetention(await listBackups(t), t.now ?? new Date(), t.keepDays);
  for (const b of drop) {
    // The manifest first: a half-deleted backup is then incomplete, never a restorable-looking broken one.
    const ordered = [...b.keys].sort((x, y) => Number(y.endsWith('/manifest.json')) - Number(x.endsWith('/manifest.json')));
    for (const key of ordered) await t.store.delete(key);
  }
  return drop.map((b) => b.id);
}
