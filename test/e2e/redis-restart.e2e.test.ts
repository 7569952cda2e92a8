import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { gql } from 'graphql-request';
import Stripe from 'stripe';
import { until } from '../helpers/wait';
import { client, startTestPlatform, type TestPlatform } from '../helpers/platform';

const SECRET = 'whsec_redis_restart_0123456789';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}


/**
 * Redis is restarted mid-run and comes back EMPTY (no persistence, like this machine's Redis):
 * queued jobs and pub/sub subscriptions are gone. Webhooks keep being accepted (PostgreSQL is the
 * record), and every payment still ends in a FILLED purchase: the outbox relay and the workers'
 * sweeper put the lost work back on the queue.
 */
describe('Redis restarted mid-run (a private redis-server, BullMQ mode)', () => {
  let redis: ChildProcess;
  let port: number;
  let t: TestPlatform;
  let token: string;
  let hook: string;

  const startRedis = async (): Promise<ChildProcess> => {
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    await until('redis to listen', async () => {
      const r = await fetch(`http://127.0.0.1:${port}`).catch((e: Error & { cause?: { code?: string } }) => e);
      return r instanceof Error && r.cause?.code === 'ECONNREFUSED' ? undefined : true;
    });
    return child;
  };
  const pay = (id: string, cents: number): Promise<Response> => {
    const body = JSON.stringify({
      id,
      object: 'event',
      type: 'payment_intent.succeeded',
      created: Math.floor(Date.now() / 1000),
      data: { object: { id: `pi_${id}`, object: 'payment_intent', amount: cents, amount_received: cents, currency: 'aud', status: 'succeeded' } },
    });
    return fetch(hook, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload: body, secret: SECRET }) },
    });
  };
  const filled = (): Promise<string[]> =>
    client(t.gateway, token)
      .request<{ purchases: { status: string; amountAudCents: string }[] }>(gql`{ purchases { status amountAudCents } }`)
      .then((r) => r.purchases.filter((p) => p.status === 'FILLED').map((p) => p.amountAudCents));

  beforeAll(async () => {
    port = await freePort();
    redis = await startRedis();
    t = await startTestPlatform({
      env: {
        REDIS_URL: `redis://127.0.0.1:${port}`,
        REDIS_PREFIX: 'abt-restart',
        SCHEDULER_INTERVAL_MS: '200',
        PURCHASE_STALE_MS: '1000',
        PRICE_TICK_MS: '100',
        RATE_LIMITS: 'off',
      },
    });
    const s = await client(t.gateway).request<{ signUp: { accessToken: string } }>(
      gql`mutation ($i: SignUpInput!) { signUp(input: $i) { accessToken } }`,
      { i: { tenantName: 'Restart Pty Ltd', email: 'restart@x.example', password: 'Correct-Horse-42-Battery' } },
    );
    token = s.signUp.accessToken;
    const c = client(t.gateway, token);
    await c.request(gql`mutation { createTreasuryRule(input: { name: "10%", type: PERCENTAGE_OF_REVENUE, percentageBps: 1000 }) { id } }`);
    hook = (
      await c.request<{ connectPaymentIntegration: { webhookUrl: string } }>(
        gql`mutation ($s: String!) { connectPaymentIntegration(input: { provider: STRIPE, name: "Stripe", stripeWebhookSecret: $s }) { webhookUrl } }`,
        { s: SECRET },
      )
    ).connectPaymentIntegration.webhookUrl;
  }, 60_000);
  afterAll(async () => {
    await t?.stop();
    redis?.kill('SIGKILL');
  });

  it('loses no payment and buys nothing twice', async () => {
    expect((await pay('evt_rr_1', 10_000)).status).toBe(200);
    await until('the first purchase', async () => ((await filled()).length === 1 ? true : undefined));

    redis.kill('SIGKILL');
    await new Promise((r) => redis.once('exit', r));
    // Webhooks are still taken while Redis is down: the event and its outbox row are in PostgreSQL.
    expect((await pay('evt_rr_2', 20_000)).status).toBe(200);
    redis = await startRedis();
    expect((await pay('evt_rr_3', 30_000)).status).toBe(200);

    const amounts = await until(
      'all three purchases',
      async () => {
        const f = await filled();
        return f.length === 3 ? f : undefined;
      },
      45_000,
    );
    expect(amounts.sort()).toEqual(['1000', '2000', '3000']);
    const [row] = await t.db.owner.em
      .getConnection()
      .execute<{ n: string }[]>(`select count(*)::text as n from pool.payment_event where status = 'PROCESSED'`);
    if (!row) throw new Error('expected row to be present');
    expect(row.n).toBe('3');
  }, 90_000);
});
