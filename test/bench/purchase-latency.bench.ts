/**
 * Webhook → purchase FILLED latency on the paper exchange, with real PostgreSQL and Redis (BullMQ
 * and Redis pub/sub), every role in this process as `npm start` runs them with REDIS_URL.
 *
 * Each sample: a Stripe-signed payment_intent.succeeded goes to the webhook endpoint; a 10% rule
 * turns it into a purchase (the payment is large enough to pass the exchange minimum at once); the
 * clock stops when `tenant.<tid>.purchase` carries FILLED for it. Two phases: one payment at a time
 * (pure pipeline latency) and an open-loop load of BENCH_RATE payments/s.
 *
 * Baseline, measured in the same run on the same Redis: a bare HTTP POST answered 200 plus one
 * BullMQ job added and processed (the smallest "accept, then work asynchronously" round trip).
 *
 * Run: npm run bench:latency        Env: BENCH_SAMPLES (200), BENCH_RATE (20 per second)
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Queue, Worker } from 'bullmq';
import { gql } from 'graphql-request';
import Stripe from 'stripe';
import { TEST_REDIS_URL } from '../helpers/db';
import { client, startTestPlatform } from '../helpers/platform';
import { at } from '../helpers/present';

const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 200);
const RATE = Number(process.env.BENCH_RATE ?? 20);
const SECRET = 'whsec_latency_0123456789abcdef';

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return at(s, Math.max(0, Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)), 'samples');
};
const fmt = (ms: number): string => `${ms.toFixed(1)} ms`;

async function baseline(samples: number): Promise<number[]> {
  const prefix = `abt-bench-base-${randomBytes(3).toString('hex')}`;
  const u = new URL(TEST_REDIS_URL);
  const connection = { host: u.hostname, port: Number(u.port || 6379), maxRetriesPerRequest: null };
  const queue = new Queue('baseline', { connection, prefix });
  const waiting = new Map<string, () => void>();
  const worker = new Worker('baseline', async (job) => waiting.get(String(job.id))?.(), { connection, prefix, concurrency: 4 });
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const id = String(req.headers['x-id']);
      res.writeHead(200).end('{"received":true}');
      void queue.add('job', {}, { jobId: id });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const out: number[] = [];
  for (let i = 0; i < samples; i++) {
    const id = `b${i}`;
    const t0 = performance.now();
    const done = new Promise<void>((r) => waiting.set(id, r));
    await fetch(url, { method: 'POST', body: '{}', headers: { 'x-id': id } });
    await done;
    out.push(performance.now() - t0);
  }
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  server.close();
  return out;
}

async function main(): Promise<void> {
  const t = await startTestPlatform({ redis: true, env: { PRICE_TICK_MS: '200', RATE_LIMITS: 'off', PAPER_FEE_BPS: '10' } });
  try {
    const s = await client(t.gateway).request<{ signUp: { accessToken: string; tenant: { id: string } } }>(
      gql`mutation ($i: SignUpInput!) { signUp(input: $i) { accessToken tenant { id } } }`,
      { i: { tenantName: 'Latency Pty Ltd', email: 'latency@x.example', password: 'Correct-Horse-42-Battery' } },
    );
    const c = client(t.gateway, s.signUp.accessToken);
    await c.request(gql`mutation { createTreasuryRule(input: { name: "10%", type: PERCENTAGE_OF_REVENUE, percentageBps: 1000 }) { id } }`);
    const hook = (
      await c.request<{ connectPaymentIntegration: { webhookUrl: string } }>(
        gql`mutation ($s: String!) { connectPaymentIntegration(input: { provider: STRIPE, name: "Stripe", stripeWebhookSecret: $s }) { webhookUrl } }`,
        { s: SECRET },
      )
    ).connectPaymentIntegration.webhookUrl;

    // FILLED events, by purchase id, with the time they arrived.
    const filledAt = new Map<string, number>();
    const onFilled = new Map<string, () => void>();
    await t.platform.bus.subscribe(`tenant.${s.signUp.tenant.id}.purchase`, (_c, e) => {
      if (e.status !== 'FILLED' || typeof e.purchaseId !== 'string') return;
      filledAt.set(e.purchaseId, performance.now());
      onFilled.get(e.purchaseId)?.();
    });
    const sql = t.db.owner.em.getConnection();
    const sent = new Map<string, number>(); // payment intent id → send time
    const send = async (tag: string, i: number): Promise<void> => {
      const pi = `pi_${tag}_${i}`;
      const body = JSON.stringify({
        id: `evt_${tag}_${i}`,
        object: 'event',
        type: 'payment_intent.succeeded',
        created: Math.floor(Date.now() / 1000),
        data: { object: { id: pi, object: 'payment_intent', amount: 10_000, amount_received: 10_000, currency: 'aud', status: 'succeeded' } },
      });
      const headers = { 'content-type': 'application/json', 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload: body, secret: SECRET }) };
      sent.set(pi, performance.now());
      const res = await fetch(hook, { method: 'POST', body, headers });
      if (res.status !== 200) throw new Error(`webhook answered ${res.status}`);
    };
    /** Latency per payment: FILLED time of the (first) purchase that consumed its accrual − send time. */
    const latencies = async (tag: string, n: number): Promise<number[]> => {
      const deadline = Date.now() + 120_000;
      for (;;) {
        const rows = await sql.execute<{ provider_object_id: string; purchase_id: string }[]>(
          `select distinct on (e.provider_object_id) e.provider_object_id, a.purchase_id
           from pool.accrual_entry a join pool.payment_event e on e.id = a.origin_payment_event_id
           where a.kind = 'PURCHASE' and e.provider_object_id like ? order by e.provider_object_id, a.created_at`,
          [`pi_${tag}_%`],
        );
        const done = rows.filter((r) => filledAt.has(r.purchase_id));
        if (done.length >= n) return done.map((r) => filledAt.get(r.purchase_id)! - sent.get(r.provider_object_id)!);
        if (Date.now() > deadline) throw new Error(`only ${done.length}/${n} purchases filled in time`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };

    // Warm up the whole path, then one payment at a time.
    for (let i = 0; i < 20; i++) await send('warm', i);
    await latencies('warm', 20);
    for (let i = 0; i < SAMPLES; i++) {
      await send('seq', i);
      await latencies('seq', i + 1);
    }
    const sequential = await latencies('seq', SAMPLES);

    // Open loop at RATE payments per second.
    const start = performance.now();
    const fired: Promise<void>[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      const due = start + (i * 1000) / RATE;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      fired.push(send('load', i));
    }
    await Promise.all(fired);
    const loaded = await latencies('load', SAMPLES);

    const base = await baseline(SAMPLES);
    const line = (name: string, xs: number[]): string =>
      `${name.padEnd(34)} p50 ${fmt(pct(xs, 50)).padStart(9)}   p95 ${fmt(pct(xs, 95)).padStart(9)}   p99 ${fmt(pct(xs, 99)).padStart(9)}   (n=${xs.length})`;
    process.stdout.write(
      [
        `webhook → purchase FILLED (paper exchange), PostgreSQL + Redis/BullMQ, ${new Date().toISOString()}`,
        line('one payment at a time', sequential),
        line(`open loop, ${RATE} payments/s`, loaded),
        line('baseline: bare POST + 1 BullMQ job', base),
        `ratio p95 (one at a time / baseline):  ${(pct(sequential, 95) / pct(base, 95)).toFixed(1)}x`,
        `ratio p95 (${RATE}/s / baseline):        ${(pct(loaded, 95) / pct(base, 95)).toFixed(1)}x`,
        `target p95 < 500 ms: ${pct(sequential, 95) < 500 && pct(loaded, 95) < 500 ? 'met' : 'NOT met'}`,
        '',
      ].join('\n'),
    );
  } finally {
    await t.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    process.stderr.write(`${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
