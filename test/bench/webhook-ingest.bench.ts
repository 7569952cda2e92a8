/**
 * Webhook ingest throughput: verify (Stripe signature) → persist → outbox → relay → BullMQ, against
 * real PostgreSQL and Redis, compared in the same run with a bare HTTP handler that only answers 200.
 *
 * Two processes: this one runs the platform (every role, as in the e2e tests) and the bare handler;
 * a forked child generates the load (signs every event before the clock starts, then fires them
 * over keep-alive connections) and polls for the relayed outbox rows, so the client's CPU is not
 * charged to the server process. Rounds alternate bare → ingest so both see the same machine noise.
 * The payment-events queue is paused (jobs are counted at the end, none is processed): processing is
 * downstream of what is measured here.
 *
 * Run: npm run bench:webhooks
 * Env: BENCH_EVENTS (per round, 4000), BENCH_CONCURRENCY (64), BENCH_ROUNDS (3),
 *      BENCH_CPU_PROF=<file.cpuprofile> (profile the server process during the first ingest round).
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
import { Session } from 'node:inspector';
import type { AddressInfo } from 'node:net';
import { MikroORM } from '@mikro-orm/postgresql';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { gql } from 'graphql-request';
import Stripe from 'stripe';
import { TEST_REDIS_URL } from '../helpers/db';
import { client, startTestPlatform } from '../helpers/platform';
import { at } from '../helpers/present';
import { forkLoadGenerator, serveLoadGenerator, type LoadGenerator } from './harness';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 4000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WARMUP = 500;
const SECRET = 'whsec_bench_0123456789abcdef';
const QUEUE_TIMEOUT_MS = 120_000;

/**
 * Parent → child: fire `count` events (ids `evt_<tag>_<i>`) at `url`; optionally wait until
 * `expectPublished` outbox rows of `payment-events` are published (the relay marks a row in the
 * transaction it commits only after Redis accepted the job, so published = reached the queue).
 */
type FireCommand = {
  url: string;
  tag: string;
  count: number;
  queue?: { ownerUrl: string; expectPublished: number };
};
type FireResult = { seconds: number; statuses: Record<string, number>; queuedSeconds: number | null; clientCpuMs: number };

// ---------------------------------------------------------------------------------------------
// Load generator (child process)
// ---------------------------------------------------------------------------------------------

function stripeBody(tag: string, i: number): string {
  return JSON.stringify({
    id: `evt_${tag}_${i}`,
    object: 'event',
    type: 'payment_intent.succeeded',
    created: Math.floor(Date.now() / 1000),
    data: { object: { id: `pi_${tag}_${i}`, object: 'payment_intent', amount: 1000 + i, amount_received: 1000 + i, currency: 'aud', status: 'succeeded' } },
  });
}

async function countJobs(q: Queue): Promise<number> {
  const counts = await q.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized', 'waiting-children');
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

async function countPublished(orm: MikroORM): Promise<number> {
  const rows = await orm.em
    .fork()
    .getConnection()
    .execute<{ n: string }[]>(`select count(*) as n from pool.outbox where queue = 'payment-events' and published_at is not null`);
  return Number(at(rows, 0).n);
}

async function fire(cmd: FireCommand): Promise<FireResult> {
  const url = new URL(cmd.url);
  // Signed up front so the HMAC work is not in the measured window.
  const reqs = Array.from({ length: cmd.count }, (_, i) => {
    const body = stripeBody(cmd.tag, i);
    return { body, signature: Stripe.webhooks.generateTestHeaderString({ payload: body, secret: SECRET }) };
  });
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const db = cmd.queue
    ? await MikroORM.init({ clientUrl: cmd.queue.ownerUrl, entities: [], discovery: { warnWhenNoEntities: false }, pool: { min: 1, max: 1 }, debug: false })
    : undefined;
  const statuses: Record<string, number> = {};
  let next = 0;
  const one = (r: { body: string; signature: string }): Promise<number> =>
    new Promise((resolve, reject) => {
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(r.body), 'stripe-signature': r.signature },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(r.body);
    });
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  const elapsed = (): number => Number(process.hrtime.bigint() - started) / 1e9;
  let sent = false;
  const queued = db
    ? (async (): Promise<number | null> => {
        const deadline = Date.now() + QUEUE_TIMEOUT_MS;
        for (;;) {
          const n = await countPublished(db);
          if (n >= cmd.queue!.expectPublished) return elapsed();
          if (Date.now() > deadline) return null;
          // Poll lightly while requests are in flight, tightly once they are all answered.
          await new Promise((r) => setTimeout(r, sent ? 5 : 25));
        }
      })()
    : Promise.resolve(null);
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < reqs.length) {
        const status = await one(at(reqs, next++));
        statuses[status] = (statuses[status] ?? 0) + 1;
      }
    }),
  );
  const seconds = elapsed();
  sent = true;
  const queuedSeconds = await queued;
  const used = process.cpuUsage(cpu);
  agent.destroy();
  await db?.close(true);
  return { seconds, statuses, queuedSeconds, clientCpuMs: (used.user + used.system) / 1000 };
}

function redisConnection(redisUrl: string): { host: string; port: number; maxRetriesPerRequest: null } {
  const u = new URL(redisUrl);
  return { host: u.hostname, port: Number(u.port || 6379), maxRetriesPerRequest: null };
}

function runLoadGenerator(): void {
  serveLoadGenerator(fire);
}

// ---------------------------------------------------------------------------------------------
// Server side (this process)
// ---------------------------------------------------------------------------------------------

function loadGenerator(): LoadGenerator<FireCommand, FireResult> {
  return forkLoadGenerator<FireCommand, FireResult>(__filename);
}

type Measured = FireResult & { serverCpuMs: number; pgCpuMs: number | null };

/** CPU ms used so far by each PostgreSQL backend of the bench database (Linux /proc; null elsewhere). */
type PgCpu = () => Promise<Map<number, number> | null>;

function pgCpuReader(query: (sql: string) => Promise<{ pid: number }[]>): PgCpu {
  return async () => {
    const pids = (await query('select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()')).map((r) => r.pid);
    const out = new Map<number, number>();
    try {
      for (const pid of pids) {
        // Fields after the ")" of the command name: utime and stime are the 12th and 13th.
        const fields = at(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') '), 1, `/proc/${pid}/stat`).split(' ');
        out.set(pid, ((Number(fields[11]) + Number(fields[12])) * 1000) / 100);
      }
    } catch {
      return null;
    }
    return out;
  };
}

async function measured(gen: ReturnType<typeof loadGenerator>, cmd: FireCommand, pgCpu: PgCpu): Promise<Measured> {
  const pgBefore = await pgCpu();
  const cpu = process.cpuUsage();
  const r = await gen.send(cmd);
  const used = process.cpuUsage(cpu);
  const pgAfter = await pgCpu();
  // Backends that did not exist before the round count from zero.
  const pgCpuMs = pgBefore && pgAfter ? [...pgAfter].reduce((sum, [pid, ms]) => sum + ms - (pgBefore.get(pid) ?? 0), 0) : null;
  return { ...r, serverCpuMs: (used.user + used.system) / 1000, pgCpuMs };
}

async function profiled<T>(file: string | undefined, fn: () => Promise<T>): Promise<T> {
  if (!file) return fn();
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object): Promise<unknown> =>
    new Promise((resolve, reject) => session.post(method, params, (err, res) => (err ? reject(err) : resolve(res))));
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 200 });
  await post('Profiler.start');
  try {
    return await fn();
  } finally {
    const { profile } = (await post('Profiler.stop')) as { profile: object };
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? at(s, (s.length - 1) / 2) : (at(s, s.length / 2 - 1) + at(s, s.length / 2)) / 2;
};

async function main(): Promise<void> {
  const prefix = `abt-bench-${randomBytes(4).toString('hex')}`;
  const t = await startTestPlatform({ env: { DB_POOL_MAX: '10', REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: prefix } });
  const gen = loadGenerator();
  // Processing is downstream of this measurement (and its own engineer's benchmark): pause it so the
  // payment-events processor does not compete for the two cores, and every job stays countable.
  const paymentEvents = new Queue('payment-events', { connection: redisConnection(TEST_REDIS_URL), prefix });
  await paymentEvents.pause();
  const bare = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"received":true}'));
  });
  try {
    const s = await client(t.gateway).request<{ signUp: { accessToken: string } }>(
      gql`mutation ($i: SignUpInput!) { signUp(input: $i) { accessToken } }`,
      { i: { tenantName: 'Bench Pty Ltd', email: 'bench@x.example', password: 'Correct-Horse-42-Battery' } },
    );
    const integration = await client(t.gateway, s.signUp.accessToken).request<{ connectPaymentIntegration: { webhookUrl: string } }>(
      gql`mutation ($i: ConnectPaymentIntegrationInput!) { connectPaymentIntegration(input: $i) { webhookUrl } }`,
      { i: { provider: 'STRIPE', name: 'Bench', stripeWebhookSecret: SECRET } },
    );
    // Users are given the gateway's address (it relays to the tenant); the rounds measure the tenant's own endpoint, the relay is measured after.
    const viaGateway = integration.connectPaymentIntegration.webhookUrl;
    const hook = `${t.platform.urls.tenant!.replace(/\/graphql$/, '')}${new URL(viaGateway).pathname}`;
    await new Promise<void>((r) => bare.listen(0, '127.0.0.1', r));
    const bareUrl = `http://127.0.0.1:${(bare.address() as AddressInfo).port}/webhooks/stripe/bare`;
    const queue = (expectPublished: number): FireCommand['queue'] => ({ ownerUrl: t.db.ownerUrl, expectPublished });
    const pgCpu = pgCpuReader((sql) => t.db.owner.em.getConnection().execute<{ pid: number }[]>(sql));

    // Warm-up: JIT, connection pools, prepared statements, the resolved-integration cache.
    await gen.send({ url: bareUrl, tag: 'warm', count: WARMUP });
    let jobs = WARMUP;
    await gen.send({ url: hook, tag: 'warm', count: WARMUP, queue: queue(jobs) });

    const rounds: { bare: Measured; ingest: Measured }[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const b = await measured(gen, { url: bareUrl, tag: `bare${round}`, count: EVENTS }, pgCpu);
      jobs += EVENTS;
      const cmd: FireCommand = { url: hook, tag: `r${round}`, count: EVENTS, queue: queue(jobs) };
      const i = await profiled(round === 0 ? process.env.BENCH_CPU_PROF : undefined, () => measured(gen, cmd, pgCpu));
      rounds.push({ bare: b, ingest: i });
    }

    jobs += EVENTS;
    const relayed = await measured(gen, { url: viaGateway, tag: 'gateway', count: EVENTS, queue: queue(jobs) }, pgCpu);

    const conn = t.db.owner.em.getConnection();
    const n = async (sql: string): Promise<number> => Number(at(await conn.execute<{ n: string }[]>(sql), 0).n);
    const storedRows = await n(`select count(*) as n from pool.payment_event`);
    const outboxRows = await n(`select count(*) as n from pool.outbox where queue = 'payment-events'`);
    const published = await n(`select count(*) as n from pool.outbox where queue = 'payment-events' and published_at is not null`);
    const queuedJobs = await countJobs(paymentEvents);

    const rate = (r: FireResult): number => EVENTS / r.seconds;
    const us = (ms: number): string => `${((ms * 1000) / EVENTS).toFixed(0)} µs`;
    const qrate = (r: FireResult): number => (r.queuedSeconds === null ? 0 : EVENTS / r.queuedSeconds);
    const out: string[] = [
      `webhook ingest benchmark: ${ROUNDS} rounds x ${EVENTS} distinct Stripe events, ${CONCURRENCY} keep-alive connections,`,
      `real PostgreSQL + Redis (BullMQ), load generator in a separate process (pid ${gen.child.pid}), server pid ${process.pid}`,
      '',
      'round  bare/s  persisted/s  queued/s  persisted:bare  queued:bare  CPU/event: server (bare)  postgres  load gen  statuses',
    ];
    rounds.forEach((r, k) => {
      const bareRate = rate(r.bare);
      out.push(
        [
          String(k + 1).padStart(5),
          bareRate.toFixed(0).padStart(7),
          rate(r.ingest).toFixed(0).padStart(12),
          qrate(r.ingest).toFixed(0).padStart(9),
          (rate(r.ingest) / bareRate).toFixed(3).padStart(15),
          (qrate(r.ingest) / bareRate).toFixed(3).padStart(12),
          `${us(r.ingest.serverCpuMs)} (${us(r.bare.serverCpuMs)})`.padStart(25),
          (r.ingest.pgCpuMs === null ? 'n/a' : us(r.ingest.pgCpuMs)).padStart(9),
          us(r.ingest.clientCpuMs).padStart(9),
          ` ${JSON.stringify(r.ingest.statuses)}`,
        ].join(' '),
      );
    });
    const med = (f: (r: { bare: Measured; ingest: Measured }) => number): number => median(rounds.map(f));
    const mPersist = med((r) => rate(r.ingest));
    const mQueued = med((r) => qrate(r.ingest));
    const mBare = med((r) => rate(r.bare));
    out.push(
      '',
      `median: bare ${mBare.toFixed(0)}/s, persisted ${mPersist.toFixed(0)}/s (ratio ${(mPersist / mBare).toFixed(3)}), ` +
        `reached the queue ${mQueued.toFixed(0)}/s (ratio ${(mQueued / mBare).toFixed(3)})`,
      `through the gateway's relay (the URL users are given): persisted ${rate(relayed).toFixed(0)}/s (ratio to the tenant's own endpoint ${(rate(relayed) / mPersist).toFixed(3)}), statuses ${JSON.stringify(relayed.statuses)}`,
      `stored rows: ${storedRows} payment_event, ${outboxRows} outbox (${published} published); ${queuedJobs} jobs in payment-events (${jobs} expected, processing paused)`,
      `target >= 1000 events/s persisted and queued: ${mPersist >= 1000 && mQueued >= 1000 ? 'MET' : 'NOT MET'}`,
      '',
    );
    process.stdout.write(out.join('\n'));
    if (storedRows !== jobs || outboxRows !== jobs || published !== jobs || queuedJobs < jobs) throw new Error('row or job counts do not match the events sent');
  } finally {
    bare.close();
    gen.child.kill();
    await paymentEvents.close();
    await t.stop();
    // Every key of this run (queues, bus channels) lives under its own prefix.
    const redis = new Redis(TEST_REDIS_URL);
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
    await redis.quit();
  }
}

if (process.argv.includes('--load-generator')) {
  runLoadGenerator();
} else {
  main().catch((err: Error) => {
    process.stderr.write(`${err.stack}\n`);
    process.exit(1);
  });
}
