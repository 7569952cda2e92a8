import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './roles';

export type LocalRedisCluster = {
  /** `redis+cluster://127.0.0.1:<first>?nodes=…` (lib/redis's cluster URL). */
  url: string;
  ports: number[];
  stop: () => Promise<void>;
};

/**
 * Six local `redis-server --cluster-enabled yes` nodes on free ports in a temp dir, joined by
 * `redis-cli --cluster create … --cluster-replicas 1` (three masters, three replicas). stop() kills
 * them and removes the dir; a failure while starting stops what did start.
 */
export async function startRedisCluster(): Promise<LocalRedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'abt-redis-cluster-'));
  const nodes: ChildProcess[] = [];
  const ports: number[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(
      nodes.map(
        (n) =>
          new Promise<void>((resolve) => {
            if (n.exitCode !== null || n.signalCode !== null) return resolve();
            n.once('exit', () => resolve());
            n.kill('SIGKILL');
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < 6; i++) {
      // The cluster bus listens on port + 10000: both must be free.
      let port = await freePort();
      while (port + 10000 > 65535) port = await freePort();
      ports.push(port);
      const nodeDir = join(dir, String(port));
      spawnSync('mkdir', ['-p', nodeDir]);
      const child = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000', '--appendonly', 'no', '--save', '', '--dir', nodeDir, '--daemonize', 'no'],
        { stdio: 'ignore' },
      );
      nodes.push(child);
    }
    for (const port of ports) await until(async () => (await ping(port)) === 'PONG', `redis node ${port}`);
    const created = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes'], { encoding: 'utf8', timeout: 30_000 });
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
    for (const port of ports) await until(async () => (await clusterState(port)) === 'ok', `cluster_state:ok on ${port}`);
    const [first, ...rest] = ports;
    return { url: `redis+cluster://127.0.0.1:${first}?nodes=${rest.map((p) => `127.0.0.1:${p}`).join(',')}`, ports, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function withNode<T>(port: number, fn: (r: Redis) => Promise<T>): Promise<T | undefined> {
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return await fn(r);
  } catch {
    return undefined;
  } finally {
    r.disconnect();
  }
}

const ping = (port: number): Promise<string | undefined> => withNode(port, (r) => r.ping());
const clusterState = (port: number): Promise<string | undefined> =>
  withNode(port, async (r) => /cluster_state:(\w+)/.exec(String(await r.cluster('INFO')))?.[1]);

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
