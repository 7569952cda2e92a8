import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:net';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { crc32, rawMemberText, startFakePayPal, type FakePayPal } from '../../../../test/fakes/paypal.server';
import { WebhookVerificationError } from './errors';
import { createPayPalVerifier, normalizePayPalEvent, type PayPalVerifierOptions } from './paypal.verifier';
import { isIgnored, type NormalizedRevenueEvent, type RevenueEventResult } from './revenue-event';
import type { WebhookVerifier } from './verifier';

let fake: FakePayPal;
let verifier: WebhookVerifier;

function options(overrides: Partial<PayPalVerifierOptions> = {}): PayPalVerifierOptions {
  return { baseUrl: fake.baseUrl, clientId: fake.clientId, clientSecret: fake.clientSecret, webhookId: fake.webhookId, ...overrides };
}

beforeAll(async () => {
  fake = await startFakePayPal();
  verifier = createPayPalVerifier(options());
});
afterAll(async () => {
  await fake.close();
});
afterEach(() => fake.setOutage(false));

const capture = {
  id: '42311647XV020574X',
  amount: { currency_code: 'AUD', value: '123.45' },
  final_capture: true,
  seller_protection: { status: 'ELIGIBLE' },
  seller_receivable_breakdown: { gross_amount: { currency_code: 'AUD', value: '123.45' }, paypal_fee: { currency_code: 'AUD', value: '3.25' } },
  status: 'COMPLETED',
  create_time: '2025-10-01T01:02:03Z',
  update_time: '2025-10-01T01:02:03Z',
  links: [{ href: 'https://api.paypal.com/v2/payments/captures/42311647XV020574X', rel: 'self', method: 'GET' }],
};
const refund = {
  id: '1JU08902781691411',
  amount: { currency_code: 'AUD', value: '20.00' },
  status: 'COMPLETED',
  create_time: '2025-10-02T00:00:00Z',
  links: [
    { href: 'https://api.paypal.com/v2/payments/refunds/1JU08902781691411', rel: 'self', method: 'GET' },
    { href: 'https://api.paypal.com/v2/payments/captures/42311647XV020574X', rel: 'up', method: 'GET' },
  ],
};

function event(eventType: string, resource: Record<string, unknown>, id = 'WH-2WR32451HC0233532-67976317FL4543714'): Record<string, unknown> {
  return {
    id,
    event_version: '1.0',
    create_time: '2025-10-01T01:02:04.123Z',
    resource_type: eventType === 'PAYMENT.CAPTURE.REFUNDED' ? 'refund' : 'capture',
    resource_version: '2.0',
    event_type: eventType,
    summary: 'Payment completed for AUD 123.45',
    resource,
    links: [],
  };
}

function deliver(body: string, sign: FakePayPal['sign'] = (b) => fake.sign(b)): { rawBody: Buffer; headers: Record<string, string> } {
  return { rawBody: Buffer.from(body, 'utf8'), headers: { ...sign(body), 'content-type': 'application/json' } };
}

async function accept(body: Record<string, unknown> | string, v: WebhookVerifier = verifier): Promise<RevenueEventResult> {
  return v.verify(deliver(typeof body === 'string' ? body : JSON.stringify(body)));
}

async function normalized(body: Record<string, unknown> | string): Promise<NormalizedRevenueEvent> {
  const result = await accept(body);
  if (isIgnored(result)) throw new Error(`unexpectedly ignored: ${result.reason}`);
  return result;
}

async function refusal(promise: Promise<unknown>): Promise<WebhookVerificationError> {
  const err: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WebhookVerificationError);
  const e = err as WebhookVerificationError;
  const shown = `${e.message} ${e.stack ?? ''} ${JSON.stringify(e)}`;
  expect(shown).not.toContain(fake.clientSecret);
  expect(shown).not.toContain('42311647XV020574X');
  return e;
}

describe('PayPal webhook verifier', () => {
  describe('valid deliveries', () => {
    it('PAYMENT.CAPTURE.COMPLETED → REVENUE with the decimal amount in exact cents', async () => {
      const e = await normalized(event('PAYMENT.CAPTURE.COMPLETED', capture));
      expect(e).toMatchObject({
        provider: 'paypal',
        providerEventId: 'WH-2WR32451HC0233532-67976317FL4543714',
        kind: 'REVENUE',
        amountCents: 12345n,
        currency: 'AUD',
        providerObjectId: '42311647XV020574X',
      });
      expect(e.occurredAt.toISOString()).toBe('2025-10-01T01:02:04.123Z');
    });

    it('verifies the raw bytes: a pretty-printed body with float-looking values still verifies', async () => {
      // JSON.parse + JSON.stringify would turn this into different bytes and PayPal's CRC32 would fail.
      const body = JSON.stringify({ ...event('PAYMENT.CAPTURE.COMPLETED', capture), rate: 1.0, note: 'caf\u00e9 / \u2713' }, null, 2).replace('"rate": 1', '"rate": 1.0');
      expect(body).toContain('"rate": 1.0');
      const e = await normalized(body);
      expect(e.amountCents).toBe(12345n);
    });

    it('PAYMENT.CAPTURE.REFUNDED → REFUND linked to the refunded capture', async () => {
      const e = await normalized(event('PAYMENT.CAPTURE.REFUNDED', refund));
      expect(e).toMatchObject({ kind: 'REFUND', amountCents: 2000n, currency: 'AUD', providerObjectId: '1JU08902781691411', relatedPaymentId: '42311647XV020574X' });
    });

    it('preserves a non-AUD currency and converts by that currency’s minor unit', async () => {
      const usd = await normalized(event('PAYMENT.CAPTURE.COMPLETED', { ...capture, amount: { currency_code: 'USD', value: '9.99' } }));
      expect(usd).toMatchObject({ amountCents: 999n, currency: 'USD' });
      const jpy = await normalized(event('PAYMENT.CAPTURE.COMPLETED', { ...capture, amount: { currency_code: 'JPY', value: '1500' } }));
      expect(jpy).toMatchObject({ amountCents: 1500n, currency: 'JPY' });
    });

    it('a capture that is not COMPLETED (e.g. PENDING review) is ignored', async () => {
      expect(await accept(event('PAYMENT.CAPTURE.COMPLETED', { ...capture, status: 'PENDING' }))).toMatchObject({ ignored: true });
    });

    it('an unsupported event type is acknowledged as ignored with a reason', async () => {
      const result = await accept(event('CHECKOUT.ORDER.APPROVED', { id: '5O190127TN364715T' }));
      expect(result).toEqual({
        ignored: true,
        provider: 'paypal',
        reason: 'event type is not used for revenue',
        providerEventId: 'WH-2WR32451HC0233532-67976317FL4543714',
        type: 'CHECKOUT.ORDER.APPROVED',
      });
    });
  });

  describe('refused deliveries', () => {
    const body = JSON.stringify(event('PAYMENT.CAPTURE.COMPLETED', capture));

    it('forged signature (signed with an attacker key) → INVALID_SIGNATURE', async () => {
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const e = await refusal(verifier.verify(deliver(body, (b) => fake.sign(b, { privateKey }))));
      expect(e.code).toBe('INVALID_SIGNATURE');
      expect(e.httpStatus).toBe(400);
    });

    it('body altered after signing (amount raised) → INVALID_SIGNATURE', async () => {
      const delivery = deliver(body);
      delivery.rawBody = Buffer.from(body.replace('"value":"123.45"', '"value":"12345.00"'), 'utf8');
      expect((await refusal(verifier.verify(delivery))).code).toBe('INVALID_SIGNATURE');
    });

    it('signed for another webhook id, or verifier configured with the wrong webhook id → INVALID_SIGNATURE', async () => {
      expect((await refusal(verifier.verify(deliver(body, (b) => fake.sign(b, { webhookId: 'WH-OTHER' }))))).code).toBe('INVALID_SIGNATURE');
      const wrongHook = createPayPalVerifier(options({ webhookId: '8PT597110X687430LKGECATA' }));
      expect((await refusal(wrongHook.verify(deliver(body)))).code).toBe('INVALID_SIGNATURE');
    });

    it('wrong client secret → VERIFIER_UNAVAILABLE (our misconfiguration; PayPal should retry later)', async () => {
      const wrongSecret = createPayPalVerifier(options({ clientSecret: 'not-the-secret' }));
      const e = await refusal(wrongSecret.verify(deliver(body)));
      expect(e.code).toBe('VERIFIER_UNAVAILABLE');
      expect(e.message).not.toContain('not-the-secret');
    });

    it('cert_url off PayPal’s domain is refused before calling PayPal', async () => {
      const before = fake.stats.verifyRequests;
      const e = await refusal(verifier.verify(deliver(body, (b) => fake.sign(b, { certUrl: 'https://evil.example/cert.pem' }))));
      expect(e.code).toBe('INVALID_SIGNATURE');
      expect(fake.stats.verifyRequests).toBe(before);
    });

    it('a transmission outside the replay window (300 s either way) → TIMESTAMP_OUT_OF_TOLERANCE, without a PayPal call', async () => {
      const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
      for (const [offsetMs, words] of [
        [-3600_000, 'old'],
        [-30 * 24 * 3600_000, 'old'],
        [-301_000, 'old'],
        [3600_000, 'in the future'],
      ] as const) {
        const before = fake.stats.verifyRequests;
        const e = await refusal(verifier.verify(deliver(body, (b) => fake.sign(b, { transmissionTime: iso(Date.now() + offsetMs) }))));
        expect(e.code).toBe('TIMESTAMP_OUT_OF_TOLERANCE');
        expect(e.httpStatus).toBe(400);
        expect(e.message).toContain(words);
        expect(fake.stats.verifyRequests).toBe(before);
      }
      await expect(verifier.verify(deliver(body, (b) => fake.sign(b, { transmissionTime: iso(Date.now() - 240_000) })))).resolves.toMatchObject({
        amountCents: 12345n,
      });
    });

    it('an unreadable transmission time → INVALID_SIGNATURE', async () => {
      for (const transmissionTime of ['yesterday', '2025-13-45T99:00:00Z', '1760000000']) {
        const e = await refusal(verifier.verify(deliver(body, (b) => fake.sign(b, { transmissionTime }))));
        expect(e.code).toBe('INVALID_SIGNATURE');
      }
    });

    it('missing transmission headers → INVALID_SIGNATURE', async () => {
      const { 'paypal-transmission-sig': _omit, ...headers } = fake.sign(body);
      expect((await refusal(verifier.verify({ rawBody: body, headers }))).code).toBe('INVALID_SIGNATURE');
    });

    it('malformed JSON → MALFORMED_PAYLOAD without a PayPal call', async () => {
      const before = fake.stats.verifyRequests;
      expect((await refusal(verifier.verify(deliver('{"id":"WH-1","event_type":')))).code).toBe('MALFORMED_PAYLOAD');
      expect((await refusal(verifier.verify(deliver('"just a string"')))).code).toBe('MALFORMED_PAYLOAD');
      expect(fake.stats.verifyRequests).toBe(before);
    });

    it.each([
      ['fractional cents', '10.005'],
      ['negative', '-5.00'],
      ['exponent notation', '1e2'],
      ['above 10^13 cents', '100000000000.01'],
    ])('validly signed with a %s amount → MALFORMED_PAYLOAD', async (_label, value) => {
      const e = await refusal(accept(event('PAYMENT.CAPTURE.COMPLETED', { ...capture, amount: { currency_code: 'AUD', value } })));
      expect(e.code).toBe('MALFORMED_PAYLOAD');
    });

    it('PayPal down (503) → VERIFIER_UNAVAILABLE with HTTP 503, and recovers afterwards', async () => {
      fake.setOutage(true);
      const e = await refusal(verifier.verify(deliver(body)));
      expect(e.code).toBe('VERIFIER_UNAVAILABLE');
      expect(e.httpStatus).toBe(503);
      fake.setOutage(false);
      await expect(verifier.verify(deliver(body))).resolves.toMatchObject({ amountCents: 12345n });
    });

    it('PayPal unreachable → VERIFIER_UNAVAILABLE', async () => {
      const port = await new Promise<number>((resolve) => {
        const s = createServer().listen(0, '127.0.0.1', () => {
          const p = (s.address() as { port: number }).port;
          s.close(() => resolve(p));
        });
      });
      const offline = createPayPalVerifier(options({ baseUrl: `http://127.0.0.1:${port}` }));
      expect((await refusal(offline.verify(deliver(body)))).code).toBe('VERIFIER_UNAVAILABLE');
    });

    it('PayPal hanging past the timeout → VERIFIER_UNAVAILABLE', async () => {
      const hanging: typeof fetch = (_input, init) =>
        new Promise<Response>((_resolve, reject) => {
          init?.signal?.addEventListener('abort', () => reject(new Error('aborted')));
        });
      const slow = createPayPalVerifier(options({ fetch: hanging, timeoutMs: 50 }));
      expect((await refusal(slow.verify(deliver(body)))).code).toBe('VERIFIER_UNAVAILABLE');
    });
  });

  describe('OAuth2 token handling', () => {
    const body = JSON.stringify(event('PAYMENT.CAPTURE.COMPLETED', capture));

    it('caches the token across deliveries and refreshes once it expires', async () => {
      let clock = Date.now();
      const v = createPayPalVerifier(options({ now: () => clock }));
      // Each delivery is transmitted at the verifier's clock, as PayPal would transmit it then.
      const sent = (): ReturnType<typeof deliver> => deliver(body, (b) => fake.sign(b, { transmissionTime: new Date(clock).toISOString() }));
      const tokensBefore = fake.stats.tokenRequests;
      await Promise.all([v.verify(sent()), v.verify(sent()), v.verify(sent())]);
      expect(fake.stats.tokenRequests - tokensBefore).toBe(1);
      clock += 8 * 3600 * 1000;
      await v.verify(sent());
      expect(fake.stats.tokenRequests - tokensBefore).toBe(1);
      clock += 2 * 3600 * 1000; // past the nine-hour expiry
      await v.verify(sent());
      expect(fake.stats.tokenRequests - tokensBefore).toBe(2);
    });

    it('a revoked token (401) is replaced and the verification retried once', async () => {
      const v = createPayPalVerifier(options());
      await v.verify(deliver(body));
      const tokensBefore = fake.stats.tokenRequests;
      fake.revokeTokens();
      await expect(v.verify(deliver(body))).resolves.toMatchObject({ amountCents: 12345n });
      expect(fake.stats.tokenRequests - tokensBefore).toBe(1);
    });
  });

  describe('fake PayPal fidelity', () => {
    it('CRC32 matches zlib', () => {
      for (const s of ['', 'a', '{"id":"WH-1"}', 'café ✓'.repeat(50)]) expect(crc32(s)).toBe(zlibCrc32(Buffer.from(s, 'utf8')));
    });

    it('extracts the exact source text of a member', () => {
      const inner = '{ "a" : [1, {"b":"}\\"]"}], "c": 1.0 }';
      const text = `{"x":"webhook_event","webhook_event":${inner} , "y":null}`;
      expect(rawMemberText(text, 'webhook_event')).toBe(inner);
      expect(rawMemberText(text, 'y')).toBe('null');
      expect(rawMemberText(text, 'missing')).toBeUndefined();
    });

    it('token endpoint checks Basic auth', async () => {
      const res = await fetch(`${fake.baseUrl}/v1/oauth2/token`, {
        method: 'POST',
        headers: { Authorization: `Basic ${Buffer.from(`${fake.clientId}:wrong`).toString('base64')}`, 'Content-Type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials',
      });
      expect(res.status).toBe(401);
    });
  });

  it('normalizePayPalEvent replays a stored event without re-verifying', () => {
    expect(normalizePayPalEvent(event('PAYMENT.CAPTURE.REFUNDED', refund))).toMatchObject({ kind: 'REFUND', amountCents: 2000n });
  });
});
