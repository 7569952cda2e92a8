import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { BackupError, BackupErrorCode, redactUrl } from './backup.errors';

/** libpq arguments for a URL: the URL without its password (argv is visible to `ps`), the password in PGPASSWORD. */
export function pgConnection(url: string): { dbArg: string; env: NodeJS.ProcessEnv } {
  const u = new URL(url);
  const password = decodeURIComponent(u.password);
  u.password = '';
  return { dbArg: u.toString(), env: password ? { PGPASSWORD: password } : {} };
}

/** The database a URL names. */
export function databaseOf(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, '')) || 'postgres';
}

/** The URL with another database. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

/** `pg_dump (PostgreSQL) 15.20 (Debian …)` → 15. */
export function majorOf(version: string): number {
  const m = /(\d+)(?:\.(\d+))?/.exec(version);
  if (!m) throw new BackupError(BackupErrorCode.PG_VERSION_MISMATCH, `cannot read a PostgreSQL version from ${JSON.stringify(version.slice(0, 80))}`);
  return Number(m[1]);
}

export type PgProcess = { child: ChildProcessByStdio<Writable | null, Readable, Readable>; done: Promise<void> };

/** Starts a client tool; `done` rejects with PG_TOOL_FAILED (stderr tail, URLs redacted) on a non-zero exit. */
export function startPgTool(bin: string, args: string[], env: NodeJS.ProcessEnv): PgProcess {
  const child = spawn(bin, args, { env: { ...process.env, ...env, PGCONNECT_TIMEOUT: process.env.PGCONNECT_TIMEOUT ?? '10' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString('utf8')).slice(-4000);
  });
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', (err) => reject(new BackupError(BackupErrorCode.PG_TOOL_FAILED, `${bin} could not start: ${err.message}`)));
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new BackupError(BackupErrorCode.PG_TOOL_FAILED, `${bin} exited ${code ?? signal}: ${redactUrl(stderr.trim()) || '(no output)'}`));
    });
  });
  return { child, done };
}

/** Runs a tool to completion and returns its stdout. */
export async function runPgTool(bin: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const p = startPgTool(bin, args, env);
  let out = '';
  p.child.stdout.on('data', (c: Buffer) => {
    out += c.toString('utf8');
  });
  await p.done;
  return out;
}
