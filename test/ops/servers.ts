import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Real servers for the operations tests (PgBouncer, a PostgreSQL replica). Both refuse to run as
 * root, so they run as the `postgres` OS user (spawn with its uid/gid), in temp dirs it owns, on
 * free ports; `stop()` kills them and removes the dirs.
 */

/** A port nobody listens on right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => (port ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

export type OsUser = { uid: number; gid: number };

/** The `postgres` OS user (Debian's PostgreSQL packages create it). */
export function postgresOsUser(): OsUser {
  const id = (flag: string): number => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

/** A temp dir owned by the postgres user (mode 0700, as PostgreSQL wants its data dir). */
export function tempDirFor(user: OsUser, prefix: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  if (process.getuid?.() === 0) chownSync(path, user.uid, user.gid);
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Whether an executable answers `--version`. */
export function hasExecutable(cmd: string): boolean {
  try {
    execFileSync(cmd, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export type Daemon = {
  child: ChildProcess;
  output: () => string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  kill: (signal?: NodeJS.Signals, graceMs?: number) => Promise<void>;
};

/** Runs a server in the foreground as `user` (root drops to it), collecting what it prints. */
export function spawnAs(user: OsUser, cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Daemon {
  const asRoot = process.getuid?.() === 0;
  const child = spawn(cmd, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH, LANG: 'C', ...env },
    ...(asRoot ? { uid: user.uid, gid: user.gid } : {}),
  });
  let text = '';
  child.stdout?.on('data', (d: Buffer) => void (text += d.toString()));
  child.stderr?.on('data', (d: Buffer) => void (text += d.toString()));
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  return {
    child,
    output: () => text,
    async kill(signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Polls until `ready` resolves true, or fails with `what` and the server's output. */
export async function waitFor(ready: () => Promise<boolean>, what: string, daemon?: Daemon, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (daemon && (daemon.child.exitCode !== null || daemon.child.signalCode !== null)) {
      throw new Error(`${what}: the server exited (${daemon.child.exitCode ?? daemon.child.signalCode}):\n${daemon.output()}`);
    }
    if (await ready().catch(() => false)) return;
    if (Date.now() > until) throw new Error(`${what}: not ready within ${timeoutMs} ms:\n${daemon?.output() ?? ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
