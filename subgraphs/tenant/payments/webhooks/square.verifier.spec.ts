import { createHmac } from 'node:crypto';
import { WebhookVerificationError } from './errors';
import { isIgnored, revenueDedupeKey, type NormalizedRevenueEvent, type RevenueEventResult } from './revenue-event';
import { createSquareVerifier, normalizeSquareEvent } from './square.verifier';

const KEY = 'sq0wsk_test_signature_key_9f8e7d6c';
const URL = 'https://api.liquidabt.example/webhooks/square?tenant=t_1';
/** Five seconds after the sample events' created_at. */
const NOW_MS = Date.parse('2025-10-01T01:02:10.000Z');
const verifier = createSquareVerifier({ signatureKey: KEY, notificationUrl: URL, now: () => NOW_MS });

/** Square's documented scheme, computed independently of the SDK: base64(HMAC-SHA256(key, url + body)). */
function squareSignature(body: string, key = KEY, url = URL): string {
  return createHmac('sha256', key).update(url + body).digest('base64');
}

function deliver(body: string, opts: { key?: string; url?: string } = {}): { rawBody: Buffer; headers: Record<string, string> } {
  return { rawBody: Buffer.from(body, 'utf8'), headers: { 'x-square-hmacsha256-signature': squareSignature(body, opts.key, opts.url) } };
}

const payment = {
  id: 'R8Gk2pQ3mPAY',
  amount_money: { amount: 4550, currency: 'AUD' },
  tip_money: { amount: 500, currency: 'AUD' },
  total_money: { amount: 5050, currency: 'AUD' },
  status: 'COMPLETED',
  source_type: 'CARD',
  location_id: 'L1',
  order_id: 'O1',
  created_at: '2025-10-01T01:02:03.456Z',
  updated_at: '2025-10-01T01:02:04.000Z',
};
const refund = {
  id: 'R8Gk2pQ3mPAY_refundXYZ',
  status: 'PENDING',
  amount_money: { amount: 1000, currency: 'AUD' },
  payment_id: 'R8Gk2pQ3mPAY',
  location_id: 'L1',
  created_at: '2025-10-02T00:00:00.000Z',
};

function event(type: string, objectKey: 'payment' | 'refund', object: Record<string, unknown>, eventId = '6a8f5f28-54a1-4eb0-a98a-3111513fd4fc'): Record<string, unknown> {
  return {
    merchant_id: 'MLEFBHHSJGVHD',
    type,
    event_id: eventId,
    created_at: '2025-10-01T01:02:05.000Z',
    data: { type: objectKey, id: object.id, object: { [objectKey]: object } },
  };
}

async function accept(body: Record<string, unknown> | string): Promise<RevenueEventResult> {
  return verifier.verify(deliver(typeof body === 'string' ? body : JSON.stringify(body)));
}

async function normalized(body: Record<string, unknown>): Promise<NormalizedRevenueEvent> {
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
  expect(shown).not.toContain(KEY);
  expect(shown).not.toContain('R8Gk2pQ3mPAY');
  return e;
}

describe('Square webhook verifier', () => {
  describe('valid deliveries', () => {
    it('payment.updated with status COMPLETED → REVENUE of amount_money (tips excluded)', async () => {
      const e = await normalized(event('payment.updated', 'payment', payment));
      expect(e).toMatchObject({
        provider: 'square',
        providerEventId: '6a8f5f28-54a1-4eb0-a98a-3111513fd4fc',
        kind: 'REVENUE',
        amountCents: 4550n,
        currency: 'AUD',
        providerObjectId: 'R8Gk2pQ3mPAY',
      });
      expect(e.occurredAt.toISOString()).toBe('2025-10-01T01:02:05.000Z');
    });

    it('payment.created and a later payment.updated for one payment share a dedupe key', async () => {
      const created = await normalized(event('payment.created', 'payment', payment, 'evt-a'));
      const updated = await normalized(event('payment.updated', 'payment', payment, 'evt-b'));
      expect(created.providerEventId).not.toBe(updated.providerEventId);
      expect(revenueDedupeKey(created)).toBe(revenueDedupeKey(updated));
    });

    it.each(['APPROVED', 'PENDING', 'CANCELED', 'FAILED'])('payment with status %s is ignored', async (status) => {
      const result = await accept(event('payment.updated', 'payment', { ...payment, status }));
      expect(result).toMatchObject({ ignored: true, reason: 'payment is not COMPLETED', type: 'payment.updated' });
    });

    it('refund.created PENDING → REFUND; the COMPLETED update dedupes onto it', async () => {
      const pending = await normalized(event('refund.created', 'refund', refund, 'evt-r1'));
      expect(pending).toMatchObject({ kind: 'REFUND', amountCents: 1000n, currency: 'AUD', providerObjectId: refund.id, relatedPaymentId: payment.id });
      const completed = await normalized(event('refund.updated', 'refund', { ...refund, status: 'COMPLETED' }, 'evt-r2'));
      expect(revenueDedupeKey(completed)).toBe(revenueDedupeKey(pending));
    });

    it.each(['REJECTED', 'FAILED'])('refund with status %s is ignored', async (status) => {
      expect(await accept(event('refund.updated', 'refund', { ...refund, status }))).toMatchObject({ ignored: true });
    });

    it('preserves a non-AUD currency and its amount (no conversion)', async () => {
      const e = await normalized(event('payment.updated', 'payment', { ...payment, amount_money: { amount: 777, currency: 'NZD' } }));
      expect(e).toMatchObject({ amountCents: 777n, currency: 'NZD' });
    });

    it('an unsupported event type is acknowledged as ignored with a reason', async () => {
      const result = await accept({ ...event('payment.updated', 'payment', payment), type: 'customer.created' });
      expect(result).toEqual({
        ignored: true,
        provider: 'square',
        reason: 'event type is not used for revenue',
        providerEventId: '6a8f5f28-54a1-4eb0-a98a-3111513fd4fc',
        type: 'customer.created',
      });
    });

    it('accepts the header under any capitalisation and a string body', async () => {
      const body = JSON.stringify(event('payment.updated', 'payment', payment));
      const result = await verifier.verify({ rawBody: body, headers: { 'X-Square-HmacSha256-Signature': squareSignature(body) } });
      expect(result).toMatchObject({ amountCents: 4550n });
    });
  });

  describe('refused deliveries', () => {
    const body = JSON.stringify(event('payment.updated', 'payment', payment));

    it('forged signature (attacker key) → INVALID_SIGNATURE', async () => {
      const e = await refusal(verifier.verify(deliver(body, { key: 'attacker-key' })));
      expect(e.code).toBe('INVALID_SIGNATURE');
      expect(e.httpStatus).toBe(400);
    });

    it('verifier configured with the wrong signature key → INVALID_SIGNATURE', async () => {
      const wrong = createSquareVerifier({ signatureKey: 'another-subscription-key', notificationUrl: URL });
      expect((await refusal(wrong.verify(deliver(body)))).code).toBe('INVALID_SIGNATURE');
    });

    it('signed for a different notification URL → INVALID_SIGNATURE', async () => {
      const e = await refusal(verifier.verify(deliver(body, { url: 'https://api.liquidabt.example/webhooks/square?tenant=t_2' })));
      expect(e.code).toBe('INVALID_SIGNATURE');
    });

    it('body altered after signing → INVALID_SIGNATURE', async () => {
      const delivery = deliver(body);
      delivery.rawBody = Buffer.from(body.replace('"amount":4550', '"amount":455000'), 'utf8');
      expect((await refusal(verifier.verify(delivery))).code).toBe('INVALID_SIGNATURE');
    });

    it('missing or repeated signature header → INVALID_SIGNATURE', async () => {
      expect((await refusal(verifier.verify({ rawBody: body, headers: {} }))).code).toBe('INVALID_SIGNATURE');
      const sig = squareSignature(body);
      expect((await refusal(verifier.verify({ rawBody: body, headers: { 'x-square-hmacsha256-signature': [sig, sig] } }))).code).toBe('INVALID_SIGNATURE');
    });

    it('validly signed but malformed JSON → MALFORMED_PAYLOAD', async () => {
      expect((await refusal(verifier.verify(deliver('{"type":"payment.updated",')))).code).toBe('MALFORMED_PAYLOAD');
      expect((await refusal(verifier.verify(deliver('[1,2,3]')))).code).toBe('MALFORMED_PAYLOAD');
    });

    it.each([
      ['negative amount', -4550],
      ['fractional minor units', 45.5],
      ['amount above 10^13 cents', 10_000_000_000_001],
      ['missing amount', undefined],
    ])('validly signed with %s → MALFORMED_PAYLOAD', async (_label, amount) => {
      const e = await refusal(accept(event('payment.updated', 'payment', { ...payment, amount_money: { amount, currency: 'AUD' } })));
      expect(e.code).toBe('MALFORMED_PAYLOAD');
    });

    it('created_at outside the replay window (72 h back, 300 s ahead) → TIMESTAMP_OUT_OF_TOLERANCE', async () => {
      const at = (ms: number): string => JSON.stringify({ ...event('payment.updated', 'payment', payment), created_at: new Date(ms).toISOString() });
      const hour = 3600_000;
      for (const [ms, words] of [
        [NOW_MS - 73 * hour, 'old'],
        [NOW_MS - 30 * 24 * hour, 'old'],
        [NOW_MS + 301_000, 'in the future'],
        [NOW_MS + 365 * 24 * hour, 'in the future'],
      ] as const) {
        const e = await refusal(verifier.verify(deliver(at(ms))));
        expect(e.code).toBe('TIMESTAMP_OUT_OF_TOLERANCE');
        expect(e.message).toContain(words);
      }
      // Square retries an unacknowledged notification for up to 72 hours with the same created_at.
      await expect(verifier.verify(deliver(at(NOW_MS - 71 * hour)))).resolves.toMatchObject({ amountCents: 4550n });
      await expect(verifier.verify(deliver(at(NOW_MS + 299_000)))).resolves.toMatchObject({ amountCents: 4550n });
    });

    it('a forged delivery with a stale created_at is reported as forged', async () => {
      const old = JSON.stringify({ ...event('payment.updated', 'payment', payment), created_at: '2020-01-01T00:00:00Z' });
      expect((await refusal(verifier.verify(deliver(old, { key: 'attacker-key' })))).code).toBe('INVALID_SIGNATURE');
    });

    it('validly signed but missing event_id → MALFORMED_PAYLOAD', async () => {
      const { event_id: _omit, ...noId } = event('payment.updated', 'payment', payment);
      expect((await refusal(accept(noId))).code).toBe('MALFORMED_PAYLOAD');
    });
  });

  it('an event that carries no created_at is not age-checked', async () => {
    const { created_at: _omit, ...untimed } = event('customer.created', 'payment', payment);
    await expect(accept(untimed)).resolves.toMatchObject({ ignored: true });
  });

  it('refuses to start without a key or with a relative URL', () => {
    expect(() => createSquareVerifier({ signatureKey: '', notificationUrl: URL })).toThrow();
    expect(() => createSquareVerifier({ signatureKey: KEY, notificationUrl: '/webhooks/square' })).toThrow();
  });

  it('normalizeSquareEvent replays a stored event without re-verifying', () => {
    expect(normalizeSquareEvent(event('refund.created', 'refund', refund))).toMatchObject({ kind: 'REFUND', amountCents: 1000n });
  });
});
