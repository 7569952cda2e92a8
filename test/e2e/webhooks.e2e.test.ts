import { createHmac } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { MikroORM } from '@mikro-orm/postgresql';
import { gql } from 'graphql-request';
import Stripe from 'stripe';
import { startFakePayPal, type FakePayPal } from '../fakes/paypal.server';
import { eventually } from '../helpers/db';
import { client, errorCodes, startTestPlatform, type TestPlatform } from '../helpers/platform';

const CONNECT = gql`
  mutation ($input: ConnectPaymentIntegrationInput!) {
    connectPaymentIntegration(input: $input) {
      id
      provider
      name
      status
      webhookUrl
    }
  }
`;
const STRIPE_SECRET = 'whsec_test_0123456789abcdef';
const SQUARE_KEY = 'sq-signature-key-0123456789';

type Integration = { id: string; provider: string; webhookUrl: string };

const stripeEvent = (id: string, amount: number, currency = 'aud'): string =>
  JSON.stringify({
    id,
    object: 'event',
    type: 'payment_intent.succeeded',
    created: Math.floor(Date.now() / 1000),
    data: { object: { id: `pi_${id}`, object: 'payment_intent', amount, amount_received: amount, currency, status: 'succeeded' } },
  });

describe('payment webhooks: verify, store once, outbox (real PostgreSQL)', () => {
  let t: TestPlatform;
  let paypal: FakePayPal;
  let token: string;
  let stripe: Integration;
  let square: Integration;
  let pp: Integration;

  const count = async (sql: string): Promise<number> => Number((await t.db.owner.em.getConnection().execute<{ n: string }[]>(sql))[0].n);
  const stored = (): Promise<number[]> =>
    Promise.all([count('select count(*) as n from pool.payment_event'), count(`select count(*) as n from pool.outbox where queue = 'payment-events'`)]);
  const post = (url: string, body: string | Uint8Array, headers: Record<string, string>): Promise<Response> =>
    fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  const stripePost = (body: string, secret = STRIPE_SECRET, timestamp?: number): Promise<Response> =>
    post(stripe.webhookUrl, body, { 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload: body, secret, timestamp }) });

  beforeAll(async () => {
    paypal = await startFakePayPal();
    t = await startTestPlatform({ env: { PAYPAL_API_BASE_URL: paypal.baseUrl } });
    const s = await client(t.gateway).request<{ signUp: { accessToken: string } }>(
      gql`mutation ($i: SignUpInput!) { signUp(input: $i) { accessToken } }`,
      { i: { tenantName: 'Hook Co', email: 'hooks@x.example', password: 'Correct-Horse-42-Battery' } },
    );
    token = s.signUp.accessToken;
    const c = client(t.gateway, token);
    stripe = (await c.request<{ connectPaymentIntegration: Integration }>(CONNECT, { input: { provider: 'STRIPE', name: 'Stripe AU', stripeWebhookSecret: STRIPE_SECRET } }))
      .connectPaymentIntegration;
    square = (await c.request<{ connectPaymentIntegration: Integration }>(CONNECT, { input: { provider: 'SQUARE', name: 'Square POS', squareSignatureKey: SQUARE_KEY } }))
      .connectPaymentIntegration;
    pp = (
      await c.request<{ connectPaymentIntegration: Integration }>(CONNECT, {
        input: { provider: 'PAYPAL', name: 'PayPal', paypalClientId: paypal.clientId, paypalClientSecret: paypal.clientSecret, paypalWebhookId: paypal.webhookId },
      })
    ).connectPaymentIntegration;
  });
  afterAll(async () => {
    await t?.stop();
    await paypal?.close();
  });

  it('never returns credentials and seals them at rest', async () => {
    const list = await client(t.gateway, token).request<{ paymentIntegrations: Record<string, unknown>[] }>(
      gql`{ paymentIntegrations { id provider name status webhookUrl } }`,
    );
    expect(list.paymentIntegrations.map((i) => i.provider)).toEqual(['STRIPE', 'SQUARE', 'PAYPAL']);
    expect(JSON.stringify(list)).not.toContain(STRIPE_SECRET);
    const rows = await t.db.owner.em.getConnection().execute<{ credentials_sealed: string }[]>('select credentials_sealed from pool.payment_integration');
    for (const r of rows) {
      expect(r.credentials_sealed).toMatch(/^v1\.local\./);
      expect(r.credentials_sealed).not.toContain(STRIPE_SECRET);
      expect(r.credentials_sealed).not.toContain(SQUARE_KEY);
    }
  });

  it('accepts a Stripe-signed payment once, even delivered 20 times concurrently', async () => {
    const before = await stored();
    const body = stripeEvent('evt_once', 12345);
    const responses = await Promise.all(Array.from({ length: 20 }, () => stripePost(body)));
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200));
    const bodies = (await Promise.all(responses.map((r) => r.json()))) as { duplicate: boolean }[];
    expect(bodies.filter((b) => !b.duplicate)).toHaveLength(1);
    expect(await stored()).toEqual([before[0] + 1, before[1] + 1]);
    const [row] = await t.db.owner.em
      .getConnection()
      .execute<{ amount_cents: string; currency: string; kind: string; status: string }[]>(
        `select amount_cents, currency, kind, status from pool.payment_event where provider_event_id = 'evt_once'`,
      );
    expect(row).toMatchObject({ amount_cents: '12345', currency: 'AUD', kind: 'REVENUE' });
    // Stored RECEIVED; the payment-events processor may already have settled it (no rules here → SKIPPED).
    expect(['RECEIVED', 'PROCESSED', 'SKIPPED']).toContain(row.status);
  });

  it('stores a burst of distinct and repeated deliveries once each, every one with its outbox row, and relays them', async () => {
    const before = await stored();
    // 30 distinct events, each delivered 3 times, all at once: coalesced into shared statements.
    const bodies = Array.from({ length: 30 }, (_, i) => stripeEvent(`evt_burst_${i}`, 100 + i));
    const deliveries = [...bodies, ...bodies, ...bodies];
    const responses = await Promise.all(deliveries.map((b) => stripePost(b)));
    expect(responses.map((r) => r.status)).toEqual(Array(90).fill(200));
    const answers = (await Promise.all(responses.map((r) => r.json()))) as { duplicate: boolean }[];
    expect(answers.filter((a) => !a.duplicate)).toHaveLength(30);
    expect(await stored()).toEqual([before[0] + 30, before[1] + 30]);
    const rows = await t.db.owner.em.getConnection().execute<{ n: string }[]>(
      `select count(*) as n from pool.payment_event e join pool.outbox o
         on o.tenant_id = e.tenant_id and o.payload = jsonb_build_object('paymentEventId', e.id)
       where e.provider_event_id like 'evt_burst_%' and o.queue = 'payment-events' and o.job_name = 'process'`,
    );
    expect(Number(rows[0].n)).toBe(30);
    // The relay drains them (in-process queue here; the bench covers BullMQ).
    await eventually(
      () => count(`select count(*) as n from pool.outbox where queue = 'payment-events' and published_at is null`),
      (n) => n === 0,
    );
  });

  it('stores under the integration’s tenant with row-level security in force', async () => {
    expect((await stripePost(stripeEvent('evt_rls', 777))).status).toBe(200);
    const [{ tenant_id: tenantId }] = await t.db.owner.em
      .getConnection()
      .execute<{ tenant_id: string }[]>('select tenant_id from pool.payment_integration where id = ?', [stripe.id]);
    const app = await MikroORM.init({ clientUrl: t.db.appUrl, entities: [], discovery: { warnWhenNoEntities: false }, debug: false });
    try {
      const seen = (tenant: string | null): Promise<number> =>
        app.em.fork().transactional(async (em) => {
          if (tenant) await em.execute(`select set_config('app.tenant_id', ?, true)`, [tenant]);
          const r = await em.execute<{ n: string }[]>(`select count(*) as n from pool.payment_event where provider_event_id = 'evt_rls'`);
          return Number(r[0].n);
        });
      expect(await seen(tenantId)).toBe(1);
      expect(await seen('00000000-0000-4000-8000-000000000001')).toBe(0);
      expect(await seen(null)).toBe(0);
      // The app role cannot write another tenant's row either.
      await expect(
        app.em.fork().transactional(async (em) => {
          await em.execute(`select set_config('app.tenant_id', ?, true)`, ['00000000-0000-4000-8000-000000000001']);
          await em.execute(`insert into pool.outbox (tenant_id, id, queue, job_name, payload) values (?, gen_random_uuid(), 'payment-events', 'process', '{}')`, [tenantId]);
        }),
      ).rejects.toThrow(/row-level security/);
    } finally {
      await app.close(true);
    }
  });

  it('answers 500 for a delivery the database refuses without failing the deliveries stored alongside it', async () => {
    const before = await stored();
    // Valid JSON, validly signed, but jsonb cannot hold U+0000: that statement fails.
    const poison = JSON.stringify({ ...JSON.parse(stripeEvent('evt_poison', 100)), description: 'a\u0000b' });
    const good = Array.from({ length: 10 }, (_, i) => stripeEvent(`evt_neighbour_${i}`, 200 + i));
    const responses = await Promise.all([...good.slice(0, 5), poison, ...good.slice(5)].map((b) => stripePost(b)));
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 500, 200, 200, 200, 200, 200]);
    expect(await stored()).toEqual([before[0] + 10, before[1] + 10]);
  });

  it('refuses an oversized delivery with 413 and accepts a gzip-encoded one (served by the express route)', async () => {
    const before = await stored();
    const huge = stripeEvent('evt_huge', 100).replace('"object":"event"', `"object":"event","pad":"${'x'.repeat(600 * 1024)}"`);
    expect((await stripePost(huge)).status).toBe(413);
    expect(await stored()).toEqual(before);
    const body = stripeEvent('evt_gzip', 4321);
    const res = await post(stripe.webhookUrl, gzipSync(body), {
      'content-encoding': 'gzip',
      'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload: body, secret: STRIPE_SECRET }),
    });
    expect(res.status).toBe(200);
    expect(await stored()).toEqual([before[0] + 1, before[1] + 1]);
  });

  it('records a non-AUD payment as received in its own currency (rules skip it later, visibly)', async () => {
    expect((await stripePost(stripeEvent('evt_usd', 5000, 'usd'))).status).toBe(200);
    const [row] = await t.db.owner.em.getConnection().execute<{ currency: string; amount_cents: string }[]>(
      `select currency, amount_cents from pool.payment_event where provider_event_id = 'evt_usd'`,
    );
    expect(row).toEqual({ currency: 'USD', amount_cents: '5000' });
  });

  it('refuses forged, stale, malformed and misrouted deliveries with a 4xx and stores nothing', async () => {
    const before = await stored();
    expect((await stripePost(stripeEvent('evt_forged', 100), 'whsec_wrong_secret_123')).status).toBe(400);
    expect((await stripePost(stripeEvent('evt_stale', 100), STRIPE_SECRET, Math.floor(Date.now() / 1000) - 301)).status).toBe(400);
    expect((await stripePost('{"not json', STRIPE_SECRET)).status).toBe(400);
    expect((await post(stripe.webhookUrl, stripeEvent('evt_nosig', 100), {})).status).toBe(400);
    const unknown = stripe.webhookUrl.replace(stripe.id, '00000000-0000-4000-8000-000000000000');
    expect((await post(unknown, stripeEvent('evt_unknown', 100), {})).status).toBe(404);
    expect((await post(stripe.webhookUrl.replace('/stripe/', '/square/'), stripeEvent('evt_wrongprov', 100), {})).status).toBe(404);
    expect((await post(stripe.webhookUrl.replace(stripe.id, 'not-a-uuid'), '{}', {})).status).toBe(404);
    expect(await stored()).toEqual(before);
  });

  it('accepts a Square-signed completed payment and refuses a forged one', async () => {
    const before = await stored();
    const body = JSON.stringify({
      merchant_id: 'M1',
      type: 'payment.updated',
      event_id: 'sq-evt-1',
      created_at: new Date().toISOString(),
      data: { type: 'payment', id: 'P1', object: { payment: { id: 'P1', status: 'COMPLETED', amount_money: { amount: 2500, currency: 'AUD' } } } },
    });
    const sig = (key: string): string => createHmac('sha256', key).update(square.webhookUrl + body).digest('base64');
    expect((await post(square.webhookUrl, body, { 'x-square-hmacsha256-signature': sig('forged-key-000000') })).status).toBe(400);
    expect(await stored()).toEqual(before);
    expect((await post(square.webhookUrl, body, { 'x-square-hmacsha256-signature': sig(SQUARE_KEY) })).status).toBe(200);
    expect(await stored()).toEqual([before[0] + 1, before[1] + 1]);
  });

  it('verifies PayPal through its verify API, and answers 503 (retry later) when PayPal is down', async () => {
    const body = JSON.stringify({
      id: 'WH-PP-1',
      event_type: 'PAYMENT.CAPTURE.COMPLETED',
      create_time: new Date().toISOString(),
      resource: { id: 'CAP-1', status: 'COMPLETED', amount: { value: '49.95', currency_code: 'AUD' } },
    });
    const before = await stored();
    paypal.setOutage(true);
    expect((await post(pp.webhookUrl, body, { ...paypal.sign(body) })).status).toBe(503);
    paypal.setOutage(false);
    expect(await stored()).toEqual(before);
    expect((await post(pp.webhookUrl, body, { ...paypal.sign(body, { webhookId: 'WH-other' }) })).status).toBe(400);
    expect((await post(pp.webhookUrl, body, { ...paypal.sign(body) })).status).toBe(200);
    const [row] = await t.db.owner.em.getConnection().execute<{ amount_cents: string }[]>(
      `select amount_cents from pool.payment_event where provider_event_id = 'WH-PP-1'`,
    );
    expect(row.amount_cents).toBe('4995');
  });

  it('refuses anonymous callers and missing credentials, and never touches another tenant’s integrations', async () => {
    expect(await errorCodes(client(t.gateway).request(CONNECT, { input: { provider: 'STRIPE', name: 'x', stripeWebhookSecret: STRIPE_SECRET } }))).toEqual([
      'UNAUTHENTICATED',
    ]);
    expect(
      await errorCodes(client(t.gateway, token).request(CONNECT, { input: { provider: 'STRIPE', name: 'No secret' } })),
    ).toEqual(['BAD_USER_INPUT']);
    const other = await client(t.gateway).request<{ signUp: { accessToken: string } }>(
      gql`mutation ($i: SignUpInput!) { signUp(input: $i) { accessToken } }`,
      { i: { tenantName: 'Other', email: 'other-hooks@x.example', password: 'Correct-Horse-42-Battery' } },
    );
    expect(
      await errorCodes(client(t.gateway, other.signUp.accessToken).request(gql`mutation ($id: ID!) { disconnectPaymentIntegration(id: $id) { id } }`, { id: stripe.id })),
    ).toEqual(['NOT_FOUND']);
    const theirs = await client(t.gateway, other.signUp.accessToken).request<{ paymentIntegrations: unknown[] }>(gql`{ paymentIntegrations { id } }`);
    expect(theirs.paymentIntegrations).toEqual([]);
  });
});
