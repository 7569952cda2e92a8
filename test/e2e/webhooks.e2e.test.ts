import { createHmac } from 'node:crypto';
import { request } from 'node:http';
import { gzipSync } from 'node:zlib';
import { MikroORM } from '@mikro-orm/postgresql';
import { gql } from 'graphql-request';
import Stripe from 'stripe';
import { startFakePayPal, type FakePayPal } from '../fakes/paypal.server';
import { eventually } from '../helpers/db';
import { client, errorCodes, startTestPlatform, type TestPlatform } from '../helpers/platform';
import { at, present } from '../helpers/present';

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

/** A POST with header lines exactly as given (fetch would join a repeated header into one line). */
function rawPost(url: string, body: string, headers: [string, string][]): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const raw = ['host', new URL(url).host, ...headers.flat(), 'content-length', String(Buffer.byteLength(body))];
    const req = request(url, { method: 'POST', headers: raw }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // not JSON: compared as text
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

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

  const count = async (sql: string): Promise<number> => Number(at(await t.db.owner.em.getConnection().execute<{ n: string }[]>(sql), 0).n);
  const stored = (): Promise<number[]> =>
    Promise.all([count('select count(*) as n from pool.payment_event'), count(`select count(*) as n from pool.outbox where queue = 'payment-events'`)]);
  const post = (url: string, body: string | Uint8Array, headers: Record<string, string>): Promise<Response> =>
    fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  const stripePost = (body: string, secret = STRIPE_SECRET, timestamp?: number): Promise<Response> =>
    post(stripe.webhookUrl, body, { 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload: body, secret, timestamp }) });
  /** The same endpoint on the tenant subgraph's own port. */
  const tenantUrl = (i: Integration): string => `${t.platform.urls.tenant!.replace(/\/graphql$/, '')}/webhooks/${i.provider.toLowerCase()}/${i.id}`;

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
    expect(await stored()).toEqual([at(before, 0) + 1, at(before, 1) + 1]);
    const [row] = await t.db.owner.em
      .getConnection()
      .execute<{ amount_cents: string; currency: string; kind: string; status: string }[]>(
        `select amount_cents, currency, kind, status from pool.payment_event where provider_event_id = 'evt_once'`,
      );
    if (!row) throw new Error('expected row to be present');
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
    expect(await stored()).toEqual([at(before, 0) + 30, at(before, 1) + 30]);
    const rows = await t.db.owner.em.getConnection().execute<{ n: string }[]>(
      `select count(*) as n from pool.payment_event e join pool.outbox o
         on o.tenant_id = e.tenant_id and o.payload = jsonb_build_object('paymentEventId', e.id)
       where e.provider_event_id like 'evt_burst_%' and o.queue = 'payment-events' and o.job_name = 'process'`,
    );
    expect(Number(at(rows, 0).n)).toBe(30);
    // The relay drains them (in-process queue here; the bench covers BullMQ).
    await eventually(
      () => count(`select count(*) as n from pool.outbox where queue = 'payment-events' and published_at is null`),
      (n) => n === 0,
    );
  });

  it('stores under the integration’s tenant with row-level security in force', async () => {
    expect((await stripePost(stripeEvent('evt_rls', 777))).status).toBe(200);
    const [firstRow] = await t.db.owner.em
      .getConnection()
      .execute<{ tenant_id: string }[]>('select tenant_id from pool.payment_integration where id = ?', [stripe.id]);
    const { tenant_id: tenantId } = present(firstRow, 'the first row');
    const app = await MikroORM.init({ clientUrl: t.db.appUrl, entities: [], discovery: { warnWhenNoEntities: false }, debug: false });
    try {
      const seen = (tenant: string | null): Promise<number> =>
        app.em.fork().transactional(async (em) => {
          if (tenant) await em.execute(`select set_config('app.tenant_id', ?, true)`, [tenant]);
          const r = await em.execute<{ n: string }[]>(`select count(*) as n from pool.payment_event where provider_event_id = 'evt_rls'`);
          return Number(at(r, 0).n);
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

  type StoredRow = { raw: Record<string, unknown>; raw_body: Buffer | null; provider_event_id: string; event_type: string; status: string };
  const storedRow = async (providerEventId: string): Promise<StoredRow> =>
    at(
      await t.db.owner.em
        .getConnection()
        .execute<StoredRow[]>(`select raw, raw_body, provider_event_id, event_type, status from pool.payment_event where provider_event_id = ?`, [providerEventId]),
      0,
      `payment_event ${providerEventId}`,
    );

  it('stores a validly signed Stripe delivery carrying U+0000 or a lone surrogate (2xx, so Stripe stops), keeping its exact bytes', async () => {
    const before = await stored();
    // Valid JSON, validly signed; jsonb cannot hold U+0000 nor an unpaired surrogate escape.
    const nul = JSON.stringify({ ...JSON.parse(stripeEvent('evt_nul', 100)), description: 'a\u0000b', metadata: { 'k\u0000': 'v' } });
    const surrogate = stripeEvent('evt_surrogate', 100).replace('"object":"event"', '"object":"event","note":"x\\ud800y"');
    const good = Array.from({ length: 10 }, (_, i) => stripeEvent(`evt_neighbour_${i}`, 200 + i));
    const responses = await Promise.all([...good.slice(0, 5), nul, surrogate, ...good.slice(5)].map((b) => stripePost(b)));
    expect(responses.map((r) => r.status)).toEqual(Array(12).fill(200));
    expect(await stored()).toEqual([at(before, 0) + 12, at(before, 1) + 12]);

    const row = await storedRow('evt_nul');
    expect(row.raw).toMatchObject({ description: 'a\ufffdb', metadata: { 'k\ufffd': 'v' }, data: { object: { amount: 100 } } });
    expect(row.raw_body?.toString('utf8')).toBe(nul);
    expect(['RECEIVED', 'PROCESSED', 'SKIPPED']).toContain(row.status);
    const lone = await storedRow('evt_surrogate');
    expect(lone.raw).toMatchObject({ note: 'x\ufffdy' });
    expect(lone.raw_body?.toString('utf8')).toBe(surrogate);
    // An ordinary delivery keeps only its parsed form.
    expect((await storedRow('evt_neighbour_0')).raw_body).toBeNull();

    // Stripe's redelivery of the same event is a duplicate, not a second row.
    const again = await stripePost(nul);
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ duplicate: true });
    expect(await stored()).toEqual([at(before, 0) + 12, at(before, 1) + 12]);
  });

  it('stores U+0000 in ids, types and ignored events of Stripe deliveries the same way', async () => {
    const body = JSON.stringify({ ...JSON.parse(stripeEvent('evt_id\u0000x', 100)), type: 'customer.created\u0000' });
    const res = await stripePost(body);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ received: true, duplicate: false, ignored: 'event type is not used for revenue' });
    const row = await storedRow('evt_id\ufffdx');
    expect(row).toMatchObject({ event_type: 'customer.created\ufffd', status: 'IGNORED' });
    expect(row.raw_body?.toString('utf8')).toBe(body);
  });

  it('stores a validly signed Square or PayPal delivery carrying U+0000 the same way', async () => {
    const before = await stored();
    const sq = JSON.stringify({
      merchant_id: 'M1\u0000',
      type: 'payment.updated',
      event_id: 'sq-evt-nul',
      created_at: new Date().toISOString(),
      data: { type: 'payment', id: 'P-NUL', object: { payment: { id: 'P-NUL', note: '\u0000', status: 'COMPLETED', amount_money: { amount: 2500, currency: 'AUD' } } } },
    });
    const sqSig = createHmac('sha256', SQUARE_KEY).update(square.webhookUrl + sq).digest('base64');
    expect((await post(square.webhookUrl, sq, { 'x-square-hmacsha256-signature': sqSig })).status).toBe(200);
    const ppBody = JSON.stringify({
      id: 'WH-PP-NUL',
      event_type: 'PAYMENT.CAPTURE.COMPLETED',
      create_time: new Date().toISOString(),
      summary: 'nul \u0000 here',
      resource: { id: 'CAP-NUL', status: 'COMPLETED', amount: { value: '10.00', currency_code: 'AUD' } },
    });
    expect((await post(pp.webhookUrl, ppBody, { ...paypal.sign(ppBody) })).status).toBe(200);
    expect(await stored()).toEqual([at(before, 0) + 2, at(before, 1) + 2]);
    expect((await storedRow('sq-evt-nul')).raw).toMatchObject({ merchant_id: 'M1\ufffd' });
    expect((await storedRow('sq-evt-nul')).raw_body?.toString('utf8')).toBe(sq);
    expect((await storedRow('WH-PP-NUL')).raw).toMatchObject({ summary: 'nul \ufffd here' });
    expect((await storedRow('WH-PP-NUL')).raw_body?.toString('utf8')).toBe(ppBody);
  });

  it('refuses a signed delivery whose timestamp PostgreSQL cannot hold with a 400, not a 500', async () => {
    const before = await stored();
    // JavaScript reads year 0000; PostgreSQL has no year zero.
    const body = JSON.stringify({
      id: 'WH-PP-YEAR0',
      event_type: 'PAYMENT.CAPTURE.COMPLETED',
      create_time: '0000-06-01T00:00:00Z',
      resource: { id: 'CAP-YEAR0', status: 'COMPLETED', amount: { value: '1.00', currency_code: 'AUD' } },
    });
    const res = await post(pp.webhookUrl, body, { ...paypal.sign(body) });
    expect({ status: res.status, body: await res.json() }).toEqual({ status: 400, body: { error: 'MALFORMED_PAYLOAD' } });
    expect(await stored()).toEqual(before);
  });

  it('refuses a repeated Stripe-Signature header (two header lines on the wire) with 400, through the gateway and on the tenant port', async () => {
    const before = await stored();
    const body = stripeEvent('evt_twice', 100);
    const good = Stripe.webhooks.generateTestHeaderString({ payload: body, secret: STRIPE_SECRET });
    const forged = Stripe.webhooks.generateTestHeaderString({ payload: body, secret: 'whsec_attacker_000000' });
    for (const url of [stripe.webhookUrl, tenantUrl(stripe)]) {
      for (const copies of [[forged, good], [good, good]]) {
        const res = await rawPost(url, body, [
          ['content-type', 'application/json'],
          ['stripe-signature', at(copies, 0)],
          ['stripe-signature', at(copies, 1)],
        ]);
        expect({ url, status: res.status, body: res.body }).toEqual({ url, status: 400, body: { error: 'INVALID_SIGNATURE' } });
      }
    }
    expect(await stored()).toEqual(before);
    // The same delivery with one header is fine.
    expect((await rawPost(stripe.webhookUrl, body, [['content-type', 'application/json'], ['stripe-signature', good]])).status).toBe(200);
  });

  it('refuses Stripe timestamps more than 300 s in the future, and PayPal transmissions outside ±300 s', async () => {
    const before = await stored();
    const future = await stripePost(stripeEvent('evt_future', 100), STRIPE_SECRET, Math.floor(Date.now() / 1000) + 365 * 24 * 3600);
    expect(future.status).toBe(400);
    expect(await future.json()).toEqual({ error: 'TIMESTAMP_OUT_OF_TOLERANCE' });
    const body = JSON.stringify({
      id: 'WH-PP-OLD',
      event_type: 'PAYMENT.CAPTURE.COMPLETED',
      create_time: new Date().toISOString(),
      resource: { id: 'CAP-OLD', status: 'COMPLETED', amount: { value: '49.95', currency_code: 'AUD' } },
    });
    for (const ageMs of [3600_000, 30 * 24 * 3600_000, -3600_000]) {
      const res = await post(pp.webhookUrl, body, { ...paypal.sign(body, { transmissionTime: new Date(Date.now() - ageMs).toISOString() }) });
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ error: 'TIMESTAMP_OUT_OF_TOLERANCE' });
    }
    expect(await stored()).toEqual(before);
  });

  it('gives users the gateway’s public webhook URL, serves it through the gateway, and keeps the tenant port route', async () => {
    for (const i of [stripe, square, pp]) {
      expect(i.webhookUrl).toBe(`${t.gateway.replace(/\/graphql$/, '')}/webhooks/${i.provider.toLowerCase()}/${i.id}`);
    }
    expect(tenantUrl(stripe)).not.toBe(stripe.webhookUrl);
    const res = await stripePost(stripeEvent('evt_via_gateway', 100));
    expect(res.status).toBe(200);
    // The gateway's security headers, as on every answer it gives.
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    const direct = stripeEvent('evt_via_tenant', 100);
    const viaTenant = await post(tenantUrl(stripe), direct, { 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload: direct, secret: STRIPE_SECRET }) });
    expect(viaTenant.status).toBe(200);
    // Square signs the URL it was given: that one verifies whichever door the delivery comes through.
    const sq = (id: string): string =>
      JSON.stringify({
        merchant_id: 'M1',
        type: 'payment.updated',
        event_id: id,
        created_at: new Date().toISOString(),
        data: { type: 'payment', id: `P-${id}`, object: { payment: { id: `P-${id}`, status: 'COMPLETED', amount_money: { amount: 100, currency: 'AUD' } } } },
      });
    const sig = (body: string): string => createHmac('sha256', SQUARE_KEY).update(square.webhookUrl + body).digest('base64');
    const a = sq('sq-door-gw');
    const b = sq('sq-door-tenant');
    expect((await post(square.webhookUrl, a, { 'x-square-hmacsha256-signature': sig(a) })).status).toBe(200);
    expect((await post(tenantUrl(square), b, { 'x-square-hmacsha256-signature': sig(b) })).status).toBe(200);
  });

  it('the gateway passes the tenant’s answers through unchanged and bounds the body it forwards', async () => {
    const unknown = stripe.webhookUrl.replace(stripe.id, '00000000-0000-4000-8000-000000000000');
    const res = await post(unknown, '{}', {});
    expect({ status: res.status, body: await res.json() }).toEqual({ status: 404, body: { error: 'UNKNOWN_INTEGRATION' } });
    const forged = await stripePost(stripeEvent('evt_gw_forged', 1), 'whsec_wrong_secret_123');
    expect({ status: forged.status, body: await forged.json() }).toEqual({ status: 400, body: { error: 'INVALID_SIGNATURE' } });
    const huge = await post(stripe.webhookUrl, `{"pad":"${'x'.repeat(600 * 1024)}"}`, { 'stripe-signature': 't=1,v1=00' });
    expect({ status: huge.status, body: await huge.json() }).toEqual({ status: 413, body: { error: 'PAYLOAD_TOO_LARGE' } });
    // Other methods and paths are not proxied.
    expect((await fetch(stripe.webhookUrl)).status).toBe(404);
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
    expect(await stored()).toEqual([at(before, 0) + 1, at(before, 1) + 1]);
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
    expect(await stored()).toEqual([at(before, 0) + 1, at(before, 1) + 1]);
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
    if (!row) throw new Error('expected row to be present');
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
