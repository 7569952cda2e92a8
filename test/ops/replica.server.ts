import { execFile } from 'node:child_process';
import { chownSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, postgresOsUser, spawnAs, tempDirFor, waitFor, type Daemon } from './servers';

export const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';

export type Replica = {
  port: number;
  /** `url` pointed at the replica (same user, password, database). */
  via: (url: string) => string;
  /** Stops the server (fast shutdown) and keeps the data dir, for tests of an unreachable replica. */
  halt: () => Promise<void>;
  daemon: Daemon;
  stop: () => Promise<void>;
};

/**
 * A hot-standby streaming replica of `primary` (pg_basebackup -R), started in the foreground as the
 * postgres user on a free port in a temp dir. The primary must allow replication from 127.0.0.1.
 */
export async function startReplica(primary: string): Promise<Replica> {
  const user = postgresOsUser();
  const dir = tempDirFor(user, 'abt-replica-');
  const data = join(dir.path, 'data');
  const p = new URL(primary);
  let daemon: Daemon | undefined;
  const run = promisify(execFile);
  try {
    await run(join(PG_BIN, 'pg_basebackup'), ['-h', p.hostname, '-p', p.port || '5432', '-U', p.username || 'postgres', '-D', data, '-R', '-X', 'stream', '-c', 'fast'], {
      uid: user.uid,
      gid: user.gid,
      env: { PATH: process.env.PATH },
    }).catch((err: { stderr?: string }) => {
      throw new Error(`pg_basebackup from ${p.hostname}:${p.port} failed (does pg_hba.conf allow "host replication all 127.0.0.1/32"? .ci/run adds it): ${err.stderr ?? ''}`);
    });
    // Debian keeps postgresql.conf and pg_hba.conf in /etc: the copy gets its own.
    const files: Record<string, string> = {
      'postgresql.conf': 'hot_standby = on\nlisten_addresses = \'127.0.0.1\'\nmax_connections = 100\nshared_buffers = 32MB\n',
      'pg_hba.conf': 'local all all trust\nhost all all 127.0.0.1/32 trust\n',
    };
    for (const [f, text] of Object.entries(files)) {
      writeFileSync(join(data, f), text);
      if (process.getuid?.() === 0) chownSync(join(data, f), user.uid, user.gid);
    }
    const port = await freePort();
    const started = spawnAs(user, join(PG_BIN, 'postgres'), ['-D', data, '-p', String(port), '-k', dir.path]);
    daemon = started;
    await waitFor(
      async () => {
        const { stdout } = await run('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-XAtc', 'select pg_is_in_recovery()']);
        return stdout.trim() === 't';
      },
      'replica',
      started,
      60_000,
    );
    await waitFor(
      async () => {
        const { stdout } = await run('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-XAtc', "select coalesce((select status from pg_stat_wal_receiver), 'none')"]);
        return stdout.trim() === 'streaming';
      },
      'replica streaming',
      started,
      60_000,
    );
    return {
      port,
      via: (url) => {
        const u = new URL(url);
        u.hostname = '127.0.0.1';
        u.port = String(port);
        return u.toString();
      },
      halt: () => started.kill('SIGINT'),
      daemon: started,
      async stop() {
        await started.kill('SIGINT', 10_000);
        dir.remove();
      },
    };
  } catch (err) {
    await daemon?.kill('SIGKILL');
    dir.remove();
    throw err;
  }
}

export type Cluster = { port: number; url: (database: string) => string; stop: () => Promise<void> };

/**
 * A new, empty PostgreSQL cluster (initdb, trust auth, C.UTF-8) on a free port in a temp dir:
 * none of the platform's roles exist in it, as on a machine a backup is restored to after a loss.
 */
export async function startCluster(): Promise<Cluster> {
  const user = postgresOsUser();
  const dir = tempDirFor(user, 'abt-cluster-');
  const data = join(dir.path, 'data');
  const run = promisify(execFile);
  let daemon: Daemon | undefined;
  try {
    await run(join(PG_BIN, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '--locale=C.UTF-8', '-E', 'UTF8'], {
      ...(process.getuid?.() === 0 ? { uid: user.uid, gid: user.gid } : {}),
      env: { PATH: process.env.PATH, LANG: 'C' },
    });
    const conf = join(data, 'postgresql.auto.conf');
    writeFileSync(conf, "listen_addresses = '127.0.0.1'\nmax_connections = 50\nshared_buffers = 32MB\n");
    if (process.getuid?.() === 0) chownSync(conf, user.uid, user.gid);
    const port = await freePort();
    const started = spawnAs(user, join(PG_BIN, 'postgres'), ['-D', data, '-p', String(port), '-k', dir.path]);
    daemon = started;
    await waitFor(
      async () => {
        const { stdout } = await run('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-XAtc', 'select 1']);
        return stdout.trim() === '1';
      },
      'new cluster',
      started,
      60_000,
    );
    return {
      port,
      url: (database) => `postgres://postgres@127.0.0.1:${port}/${database}`,
      async stop() {
        await started.kill('SIGINT', 10_000);
        dir.remove();
      },
    };
  } catch (err) {
    await daemon?.kill('SIGKILL');
    dir.remove();
    throw err;
  }
}
