/**
 * Webhook ingest throughput: verify (Stripe signature) → persist → outbox → enqueue, against real
 * PostgreSQL and Redis, compared in the same run with a bare HTTP handler that only answers 200.
 * Run: npm run bench:webhooks   (env BENCH_EVENTS, BENCH_CONCURRENCY)
 */
import 'reflect-metadata';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'node:http';
import { gql } from 'graphql-request';
import Stripe from 'stripe';
import { client, startTestPlatform } from '../helpers/platform';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 4000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const SECRET = 'whsec_bench_0123456789abcdef';

type Req = { path: string; body: string; headers: Record<string, string> };

async function fire(base: string, reqs: Req[]): Promise<{ seconds: number; statuses: Map<number, number> }> {
  const url = new URL(base);
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const statuses = new Map<number, number>();
  let next = 0;
  const one = (r: Req): Promise<number> =>
    new Promise((resolve, reject) => {
      const req = request(
        { host: url.hostname, port: url.port, path: r.path, method: 'POST', agent, headers: { 'content-type': 'application/json', ...r.headers } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(r.body);
    });
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < reqs.length) {
        const status = await one(reqs[next++]);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    }),
  );
  agent.destroy();
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, statuses };
}

async function main(): Promise<void> {
  const t = await startTestPlatform({ redis: true, env: { DB_POOL_MAX: '10' } });
  try {
    const s = await client(t.gateway).request<{ signUp: { accessToken: string } }>(
      gql`mutation ($i: SignUpInput!) { signUp(input: $i) { accessToken } }`,
      { i: { tenantName: 'Bench Pty Ltd', email: 'bench@x.example', password: 'Correct-Horse-42-Battery' } },
    );
    const integration = await client(t.gateway, s.signUp.accessToken).request<{ connectPaymentIntegration: { webhookUrl: string } }>(
      gql`mutation ($i: ConnectPaymentIntegrationInput!) { connectPaymentIntegration(input: $i) { webhookUrl } }`,
      { i: { provider: 'STRIPE', name: 'Bench', stripeWebhookSecret: SECRET } },
    );
    const hook = new URL(integration.connectPaymentIntegration.webhookUrl);
    // Signed up front so the client's HMAC work is not in the measured window.
    const reqs: Req[] = Array.from({ length: EVENTS }, (_, i) => {
      const body = JSON.stringify({
        id: `evt_bench_${i}`,
        object: 'event',
        type: 'payment_intent.succeeded',
        created: Math.floor(Date.now() / 1000),
        data: { object: { id: `pi_bench_${i}`, object: 'payment_intent', amount: 1000 + i, amount_received: 1000 + i, currency: 'aud', status: 'succeeded' } },
      });
      return { path: hook.pathname, body, headers: { 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload: body, secret: SECRET }) } };
    });

    const bare = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"received":true}'));
    });
    await new Promise<void>((r) => bare.listen(0, '127.0.0.1', r));
    const bareUrl = `http://127.0.0.1:${(bare.address() as AddressInfo).port}`;

    await fire(bareUrl, reqs.slice(0, 500)); // warm-up
    const baseline = await fire(bareUrl, reqs);
    bare.close();
    const ingest = await fire(hook.origin, reqs);
    const storedRows = Number(
      (await t.db.owner.em.getConnection().execute<{ n: string }[]>(`select count(*) as n from pool.payment_event`))[0].n,
    );

    const rate = EVENTS / ingest.seconds;
    const bareRate = EVENTS / baseline.seconds;
    const line = (label: string, r: { seconds: number; statuses: Map<number, number> }): string =>
      `${label.padEnd(28)} ${(EVENTS / r.seconds).toFixed(0).padStart(7)} events/s  (${r.seconds.toFixed(2)} s, statuses ${JSON.stringify(Object.fromEntries(r.statuses))})`;
    process.stdout.write(
      [
        `webhook ingest benchmark: ${EVENTS} distinct Stripe events, ${CONCURRENCY} concurrent connections, real PostgreSQL + Redis`,
        line('bare HTTP 200 handler', baseline),
        line('verify+persist+outbox', ingest),
        `stored rows: ${storedRows}`,
        `ratio to bare handler: ${(rate / bareRate).toFixed(3)}  (target: >= 1000 events/s -> ${rate >= 1000 ? 'MET' : 'NOT MET'})`,
        '',
      ].join('\n'),
    );
  } finally {
    await t.stop();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
