import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { writeFileSync, chownSync } from 'node:fs';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { renderPgbouncerIni, renderUserlist } from '../../ops/pgbouncer/config';
import { freePort, hasExecutable, postgresOsUser, spawnAs, tempDirFor, waitFor, type Daemon } from './servers';

export type Pgbouncer = {
  port: number;
  /** `url` with host and port swapped for this PgBouncer's (same user, password, database). */
  via: (url: string) => string;
  /** SHOW <what> on the admin console, as rows. */
  show: (what: 'POOLS' | 'SERVERS' | 'CLIENTS' | 'STATS') => Promise<Record<string, string>[]>;
  daemon: Daemon;
  stop: () => Promise<void>;
};

export const PGBOUNCER_BIN = process.env.PGBOUNCER_BIN ?? 'pgbouncer';

/** Fails loudly (never skips) when the binary is missing: .ci/run installs it (ensure_pgbouncer). */
export function requirePgbouncer(): void {
  if (!hasExecutable(PGBOUNCER_BIN)) {
    throw new Error(`pgbouncer is not installed: \`apt-get install -y pgbouncer\` (Debian; .ci/run installs it when missing via ensure_pgbouncer)`);
  }
}

/**
 * A PgBouncer in transaction mode (the committed ops/pgbouncer/pgbouncer.ini) on a free port, in
 * front of `upstream`, with SCRAM logins for `users` (name → password) and an admin user of its own.
 */
export async function startPgbouncer(opts: { upstream: string; users: Record<string, string>; poolSize: number; maxClientConn?: number }): Promise<Pgbouncer> {
  requirePgbouncer();
  const user = postgresOsUser();
  const dir = tempDirFor(user, 'abt-pgbouncer-');
  const up = new URL(opts.upstream);
  const admin = { name: 'pgbouncer_admin', password: randomBytes(12).toString('hex') };
  let daemon: Daemon | undefined;
  try {
    const port = await freePort();
    const authFile = join(dir.path, 'userlist.txt');
    writeFileSync(authFile, renderUserlist({ ...opts.users, [admin.name]: admin.password }), { mode: 0o600 });
    const ini = join(dir.path, 'pgbouncer.ini');
    writeFileSync(
      ini,
      renderPgbouncerIni({
        pgHost: up.hostname,
        pgPort: Number(up.port || 5432),
        listenAddr: '127.0.0.1',
        listenPort: port,
        runDir: dir.path,
        authFile,
        authType: 'scram-sha-256',
        adminUser: admin.name,
        poolSize: opts.poolSize,
        maxClientConn: opts.maxClientConn ?? 500,
      }),
      { mode: 0o600 },
    );
    if (process.getuid?.() === 0) for (const f of [authFile, ini]) chownSync(f, user.uid, user.gid);
    const started = spawnAs(user, PGBOUNCER_BIN, [ini]);
    daemon = started;
    // The admin console speaks the simple protocol only: psql, as an operator would.
    const adminQuery = async (sql: string): Promise<Record<string, string>[]> => {
      const { stdout } = await promisify(execFile)('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', admin.name, '-d', 'pgbouncer', '-X', '-A', '-F', '\t', '-P', 'footer=off', '-c', sql], {
        env: { ...process.env, PGPASSWORD: admin.password, PGCONNECT_TIMEOUT: '5' },
      });
      const [head, ...rows] = stdout.trimEnd().split('\n');
      const cols = (head ?? '').split('\t');
      return rows.map((r) => Object.fromEntries(r.split('\t').map((v, i) => [cols[i] ?? String(i), v])));
    };
    await waitFor(async () => (await adminQuery('SHOW VERSION')).length > 0, 'pgbouncer', started, 15_000);
    return {
      port,
      via: (url) => {
        const u = new URL(url);
        u.hostname = '127.0.0.1';
        u.port = String(port);
        return u.toString();
      },
      show: (what) => adminQuery(`SHOW ${what}`),
      daemon: started,
      async stop() {
        await started.kill('SIGINT');
        dir.remove();
      },
    };
  } catch (err) {
    await daemon?.kill('SIGKILL');
    dir.remove();
    throw err;
  }
}
