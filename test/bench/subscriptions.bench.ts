/**
 * Subscriber load: N graphql-ws clients subscribed to `btcPrice` on one gateway process, ticks
 * published on the event bus at 1/s and 10/s, compared in the same run with a bare `ws` server that
 * broadcasts the same bytes (serialised once per tick) to the same N clients.
 *
 * Three processes, so each server is measured alone: this one orchestrates; a forked "server" child
 * (a fresh one per phase) runs either the gateway (`startGateway`, in-process bus unless --redis;
 * the bus publisher runs inside it, stamping `at` with the send time) or the bare server; a forked
 * "clients" child holds the N sockets and measures lag = receive time − `at` (same machine clock).
 *
 * Run:  ulimit -n 65536   # each process holds N sockets (the default 1024 stops at ~1000)
 *       node -r @swc-node/register test/bench/subscriptions.bench.ts [--clients 1000,5000,10000] [--rates 1,10] [--seconds 10] [--redis]
 * Prints per N and rate: lag p50/p99/max and delivery, heap and RSS per connection (after GC, over a
 * baseline taken before connecting), server CPU %, and gateway ÷ bare ratios.
 */
import 'reflect-metadata';
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setFlagsFromString, writeHeapSnapshot } from 'node:v8';
import { runInNewContext } from 'node:vm';
import WebSocket, { WebSocketServer } from 'ws';
import { startGateway } from '../../gateway/gateway';
import { createBus } from '../../lib/bus';
import { configureLogger } from '../../lib/logger';
import { SUPERGRAPH_PATH } from '../../schema/compose';
import { at as itemAt } from '../helpers/present';

type Kind = 'gateway' | 'bare';
type ServerCommand = { cmd: 'start'; kind: Kind; redis: boolean } | { cmd: 'measure' } | { cmd: 'run'; rate: number; seconds: number } | { cmd: 'stats' };
type ClientCommand =
  | { cmd: 'connect'; kind: Kind; url: string; n: number }
  | { cmd: 'reset' }
  | { cmd: 'report' }
  | { cmd: 'close' };
type Memory = { heapUsed: number; rss: number };
type RunResult = { ticks: number; cpuMs: number; wallMs: number };
type LagReport = { received: number; p50: number; p99: number; max: number; clientCpuMs: number };

const QUERY = 'subscription { btcPrice(currency: AUD) { price source at } }';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? itemAt(process.argv, i + 1) : fallback;
}
const numbers = (s: string): number[] => s.split(',').map((x) => Number(x.trim())).filter((x) => x > 0);

/** Request/response over a child's IPC channel, one at a time. */
function rpc<T>(child: ChildProcess, message: object): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: { ok: boolean; value?: T; error?: string }): void => {
      child.off('exit', onExit);
      if (m.ok) resolve(m.value as T);
      else reject(new Error(m.error));
    };
    const onExit = (code: number | null): void => {
      child.off('message', onMessage);
      reject(new Error(`child exited (${code})`));
    };
    child.once('message', onMessage);
    child.once('exit', onExit);
    child.send(message);
  });
}

function serve<T>(handle: (m: T) => Promise<unknown>): void {
  process.on('message', (m) => {
    handle(m as T).then(
      (value) => process.send?.({ ok: true, value }),
      (err: unknown) => process.send?.({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
    );
  });
}

// ---------------------------------------------------------------- server child
async function serverChild(): Promise<void> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  configureLogger(process.env.LOG_LEVEL ?? 'warn');
  let publish: (at: string, seq: number) => Promise<void> | void = () => undefined;
  let url = '';
  let kind: Kind = 'gateway';
  let subscribers = (): number => 0;

  const memory = async (): Promise<Memory> => {
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 50));
    }
    const m = process.memoryUsage();
    return { heapUsed: m.heapUsed, rss: m.rss };
  };

  serve(async (m: ServerCommand) => {
    switch (m.cmd) {
      case 'start': {
        kind = m.kind;
        if (m.kind === 'gateway') {
          const bus = createBus(m.redis ? (process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379') : undefined, `abt-bench-${randomBytes(4).toString('hex')}`);
          const gw = await startGateway({
            host: '127.0.0.1',
            port: 0,
            supergraphSdl: readFileSync(SUPERGRAPH_PATH, 'utf8'),
            subgraphUrls: {},
            jwtSecret: randomBytes(32).toString('hex'),
            bus,
            explorer: false,
          });
          url = `ws://127.0.0.1:${gw.port}/graphql`;
          subscribers = () => gw.subscriptions?.stats().subscribers ?? 0;
          publish = (at, seq) =>
            bus.publish('price.btc.aud', { __typename: 'BtcPrice', version: 1, currency: 'AUD', price: `${150000 + (seq % 1000)}.00`, source: 'BENCH', sources: ['BENCH'], at });
        } else {
          const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
          await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
          url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
          subscribers = () => wss.clients.size;
          // The same bytes graphql-ws would send, serialised once per tick.
          publish = (at, seq) => {
            const data = JSON.stringify({
              id: '1',
              type: 'next',
              payload: { data: { btcPrice: { price: `${150000 + (seq % 1000)}.00`, source: 'BENCH', at } } },
            });
            for (const c of wss.clients) c.send(data);
          };
        }
        return { url, baseline: await memory() };
      }
      case 'stats':
        return { subscribers: subscribers() };
      case 'measure': {
        const m = await memory();
        // BENCH_HEAP_SNAPSHOT=<dir>: a heap snapshot of each server once its clients are connected (for profiling).
        if (process.env.BENCH_HEAP_SNAPSHOT) writeHeapSnapshot(join(process.env.BENCH_HEAP_SNAPSHOT, `${kind}-${subscribers()}.heapsnapshot`));
        return m;
      }
      case 'run': {
        // BENCH_CPU_PROF=<dir>: a CPU profile of each server's measured runs (open in Chrome DevTools).
        const profile = process.env.BENCH_CPU_PROF && m.seconds > 1 ? new Session() : undefined;
        if (profile) {
          profile.connect();
          await new Promise<void>((resolve) => profile.post('Profiler.enable', () => profile.post('Profiler.start', () => resolve())));
        }
        const interval = 1000 / m.rate;
        const total = Math.round(m.rate * m.seconds);
        const cpu = process.cpuUsage();
        const started = performance.now();
        let seq = 0;
        await new Promise<void>((resolve) => {
          const tick = (): void => {
            void publish(new Date().toISOString(), seq);
            seq++;
            if (seq >= total) {
              clearInterval(timer);
              resolve();
            }
          };
          const timer = setInterval(tick, interval);
        });
        // Let the last tick drain before the CPU window closes.
        await new Promise((r) => setTimeout(r, Math.max(500, interval)));
        const used = process.cpuUsage(cpu);
        if (profile) {
          const file = join(process.env.BENCH_CPU_PROF ?? '.', `${kind}-${subscribers()}-${m.rate}.cpuprofile`);
          await new Promise<void>((resolve) =>
            profile.post('Profiler.stop', (err, res) => {
              if (!err) writeFileSync(file, JSON.stringify(res.profile));
              profile.disconnect();
              resolve();
            }),
          );
        }
        return { ticks: total, cpuMs: (used.user + used.system) / 1000, wallMs: performance.now() - started } satisfies RunResult;
      }
    }
  });
}

// ---------------------------------------------------------------- clients child
async function clientsChild(): Promise<void> {
  let sockets: WebSocket[] = [];
  let lags: number[] = [];
  let cpu = process.cpuUsage();

  /** A frame's text, whichever of ws's shapes it arrives in. */
  const rawText = (data: WebSocket.RawData): string =>
    Buffer.isBuffer(data) ? data.toString() : Array.isArray(data) ? Buffer.concat(data).toString() : Buffer.from(data).toString();
  const onData = (data: WebSocket.RawData): void => {
    const now = Date.now();
    const s = rawText(data);
    const i = s.indexOf('"at":"');
    if (i < 0) return;
    lags.push(now - Date.parse(s.slice(i + 6, i + 30)));
  };

  function open(kind: Kind, url: string): Promise<WebSocket> {
    return new Promise((resolve, reject) => {
      const ws = kind === 'gateway' ? new WebSocket(url, 'graphql-transport-ws') : new WebSocket(url);
      ws.once('error', reject);
      ws.once('open', () => {
        if (kind === 'bare') {
          ws.on('message', onData);
          resolve(ws);
          return;
        }
        ws.send('{"type":"connection_init","payload":{}}');
        ws.once('message', (first) => {
          if (!rawText(first).includes('connection_ack')) {
            reject(new Error(`expected connection_ack, got ${rawText(first).slice(0, 200)}`));
            return;
          }
          ws.on('message', onData);
          ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: QUERY } }));
          resolve(ws);
        });
      });
    });
  }

  serve(async (m: ClientCommand) => {
    switch (m.cmd) {
      case 'connect': {
        const started = Date.now();
        let failed = 0;
        let lastError = '';
        for (let i = 0; i < m.n; i += 250) {
          const batch = await Promise.allSettled(Array.from({ length: Math.min(250, m.n - i) }, () => open(m.kind, m.url)));
          for (const r of batch) {
            if (r.status === 'fulfilled') sockets.push(r.value);
            else {
              failed++;
              lastError = String(r.reason);
            }
          }
        }
        return { connected: sockets.length, failed, lastError, ms: Date.now() - started };
      }
      case 'reset':
        lags = [];
        cpu = process.cpuUsage();
        return null;
      case 'report': {
        const used = process.cpuUsage(cpu);
        const sorted = Float64Array.from(lags).sort();
        const q = (p: number): number => (sorted.length ? itemAt(sorted, Math.min(sorted.length - 1, Math.floor(p * sorted.length))) : NaN);
        return { received: sorted.length, p50: q(0.5), p99: q(0.99), max: sorted.length ? itemAt(sorted, sorted.length - 1) : NaN, clientCpuMs: (used.user + used.system) / 1000 } satisfies LagReport;
      }
      case 'close': {
        const closing = sockets.map((ws) => new Promise<void>((resolve) => (ws.readyState === WebSocket.CLOSED ? resolve() : (ws.once('close', () => resolve()), ws.terminate()))));
        await Promise.all(closing);
        sockets = [];
        return null;
      }
    }
  });
}

// ---------------------------------------------------------------- orchestrator
type PhaseResult = {
  kind: Kind;
  n: number;
  connectMs: number;
  heapPerConn: number;
  rssPerConn: number;
  runs: { rate: number; lag: LagReport; expected: number; cpuPct: number }[];
};

const spawnChild = (role: 'server' | 'clients'): ChildProcess =>
  fork(__filename, process.argv.slice(2), { env: { ...process.env, BENCH_ROLE: role }, execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function phase(kind: Kind, n: number, rates: number[], seconds: number, redis: boolean, clients: ChildProcess): Promise<PhaseResult> {
  const server = spawnChild('server');
  try {
    const { url, baseline } = await rpc<{ url: string; baseline: Memory }>(server, { cmd: 'start', kind, redis });
    const conn = await rpc<{ connected: number; failed: number; lastError: string; ms: number }>(clients, { cmd: 'connect', kind, url, n });
    if (conn.failed) throw new Error(`${conn.failed} of ${n} ${kind} connections failed (raise ulimit -n?): ${conn.lastError}`);
    await until(async () => (await rpc<{ subscribers: number }>(server, { cmd: 'stats' })).subscribers >= n, `${n} ${kind} subscribers`);
    const after = await rpc<Memory>(server, { cmd: 'measure' });
    const result: PhaseResult = {
      kind,
      n,
      connectMs: conn.ms,
      heapPerConn: (after.heapUsed - baseline.heapUsed) / n,
      rssPerConn: (after.rss - baseline.rss) / n,
      runs: [],
    };
    // Warm-up (JIT, first-event paths), not counted.
    await rpc<RunResult>(server, { cmd: 'run', rate: 5, seconds: 1 });
    for (const rate of rates) {
      await rpc(clients, { cmd: 'reset' });
      const run = await rpc<RunResult>(server, { cmd: 'run', rate, seconds });
      const lag = await rpc<LagReport>(clients, { cmd: 'report' });
      result.runs.push({ rate, lag, expected: run.ticks * n, cpuPct: (100 * run.cpuMs) / run.wallMs });
    }
    await rpc(clients, { cmd: 'close' });
    return result;
  } finally {
    server.kill();
  }
}

const kb = (bytes: number): string => `${(bytes / 1024).toFixed(2)} KB`;
const ms = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(0)} ms` : '—');
const ratio = (a: number, b: number): string => (b > 0 && Number.isFinite(a) ? `${(a / b).toFixed(2)}×` : '—');

async function orchestrate(): Promise<void> {
  const counts = numbers(arg('clients', '1000'));
  const rates = numbers(arg('rates', '1,10'));
  const seconds = Number(arg('seconds', '10'));
  const redis = process.argv.includes('--redis');
  console.log(`subscriptions bench: clients ${counts.join(', ')}; rates ${rates.join(', ')}/s for ${seconds}s each; bus ${redis ? 'Redis' : 'in-process'}; node ${process.version}`);
  const clients = spawnChild('clients');
  try {
    for (const n of counts) {
      const gw = await phase('gateway', n, rates, seconds, redis, clients);
      const bare = await phase('bare', n, rates, seconds, redis, clients);
      console.log(`\nN = ${n} (connect: gateway ${ms(gw.connectMs)}, bare ${ms(bare.connectMs)})`);
      console.log(`  memory / connection   gateway heap ${kb(gw.heapPerConn)}, RSS ${kb(gw.rssPerConn)}   bare heap ${kb(bare.heapPerConn)}, RSS ${kb(bare.rssPerConn)}   ratio heap ${ratio(gw.heapPerConn, bare.heapPerConn)}, RSS ${ratio(gw.rssPerConn, bare.rssPerConn)}`);
      for (let i = 0; i < rates.length; i++) {
        const g = itemAt(gw.runs, i);
        const b = itemAt(bare.runs, i);
        const pct = (r: PhaseResult['runs'][number]): string => `${((100 * r.lag.received) / r.expected).toFixed(1)}%`;
        console.log(
          `  ${String(g.rate).padStart(2)} tick/s  gateway p50 ${ms(g.lag.p50)} p99 ${ms(g.lag.p99)} max ${ms(g.lag.max)} delivered ${pct(g)} CPU ${g.cpuPct.toFixed(0)}%` +
            `   bare p50 ${ms(b.lag.p50)} p99 ${ms(b.lag.p99)} max ${ms(b.lag.max)} delivered ${pct(b)} CPU ${b.cpuPct.toFixed(0)}%` +
            `   ratio p50 ${ratio(g.lag.p50, b.lag.p50)} p99 ${ratio(g.lag.p99, b.lag.p99)} CPU ${ratio(g.cpuPct, b.cpuPct)}`,
        );
      }
    }
  } finally {
    clients.kill();
  }
}

const role = process.env.BENCH_ROLE;
const main = role === 'server' ? serverChild : role === 'clients' ? clientsChild : orchestrate;
main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
