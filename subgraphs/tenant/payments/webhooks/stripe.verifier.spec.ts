import Stripe from 'stripe';
import { WebhookVerificationError } from './errors';
import { isIgnored, revenueDedupeKey, type NormalizedRevenueEvent, type RevenueEventResult } from './revenue-event';
import { createStripeVerifier, normalizeStripeEvent } from './stripe.verifier';

const SECRET = 'whsec_test_liquid_abt_0123456789abcdef';
const NOW_MS = 1_760_000_000_000;
const NOW_S = NOW_MS / 1000;
const CREATED = NOW_S - 5;

const verifier = createStripeVerifier({ webhookSecret: SECRET, now: () => NOW_MS });

function event(type: string, object: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { id: 'evt_1Pq', object: 'event', api_version: '2025-09-30.clover', created: CREATED, livemode: false, type, data: { object, ...extra } };
}

const paymentIntent = { id: 'pi_3Abc', object: 'payment_intent', amount: 12345, amount_received: 12345, currency: 'aud', status: 'succeeded', latest_charge: 'ch_3Abc' };
const charge = { id: 'ch_3Abc', object: 'charge', amount: 12345, amount_captured: 12345, amount_refunded: 0, captured: true, currency: 'aud', paid: true, payment_intent: 'pi_3Abc', status: 'succeeded' };

function deliver(body: string, opts: { secret?: string; timestamp?: number } = {}): { rawBody: Buffer; headers: { 'stripe-signature': string; 'content-type': string } } {
  const signature = Stripe.webhooks.generateTestHeaderString({ payload: body, secret: opts.secret ?? SECRET, timestamp: opts.timestamp ?? NOW_S });
  return { rawBody: Buffer.from(body, 'utf8'), headers: { 'stripe-signature': signature, 'content-type': 'application/json' } };
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
  // Whatever went wrong, neither the secret nor the signed body may reach a log line.
  const shown = `${e.message} ${e.stack ?? ''} ${JSON.stringify(e)}`;
  expect(shown).not.toContain(SECRET);
  expect(shown).not.toContain('pi_3Abc');
  return e;
}

describe('Stripe webhook verifier', () => {
  describe('valid deliveries', () => {
    it('payment_intent.succeeded → REVENUE of amount_received in exact cents', async () => {
      const e = await normalized(event('payment_intent.succeeded', paymentIntent));
      expect(e).toMatchObject({
        provider: 'stripe',
        providerEventId: 'evt_1Pq',
        kind: 'REVENUE',
        amountCents: 12345n,
        currency: 'AUD',
        providerObjectId: 'pi_3Abc',
      });
      expect(e.occurredAt.getTime()).toBe(CREATED * 1000);
      expect(e.raw).toMatchObject({ id: 'evt_1Pq' });
    });

    it('charge.succeeded for the same payment shares the PaymentIntent dedupe key', async () => {
      const fromPi = await normalized(event('payment_intent.succeeded', paymentIntent));
      const fromCharge = await normalized({ ...event('charge.succeeded', charge), id: 'evt_2Ch' });
      expect(fromCharge).toMatchObject({ kind: 'REVENUE', amountCents: 12345n, providerObjectId: 'pi_3Abc', providerEventId: 'evt_2Ch' });
      expect(revenueDedupeKey(fromCharge)).toBe(revenueDedupeKey(fromPi));
    });

    it('charge.succeeded with an expanded PaymentIntent or none (legacy charge)', async () => {
      const expanded = await normalized(event('charge.succeeded', { ...charge, payment_intent: { id: 'pi_3Abc', object: 'payment_intent' } }));
      expect(expanded.providerObjectId).toBe('pi_3Abc');
      const legacy = await normalized(event('charge.succeeded', { ...charge, payment_intent: null }));
      expect(legacy.providerObjectId).toBe('ch_3Abc');
    });

    it('ignores an authorized-but-uncaptured charge (manual capture)', async () => {
      const result = await accept(event('charge.succeeded', { ...charge, captured: false, amount_captured: 0 }));
      expect(result).toMatchObject({ ignored: true, type: 'charge.succeeded', providerEventId: 'evt_1Pq' });
    });

    it('charge.refunded prefers the newest refund in the refunds list', async () => {
      const refunds = {
        object: 'list',
        data: [
          { id: 're_new', object: 'refund', amount: 2000, currency: 'aud', status: 'succeeded', created: CREATED },
          { id: 're_old', object: 'refund', amount: 1000, currency: 'aud', status: 'succeeded', created: CREATED - 3600 },
        ],
      };
      const e = await normalized(event('charge.refunded', { ...charge, amount_refunded: 3000, refunded: false, refunds }));
      expect(e).toMatchObject({ kind: 'REFUND', amountCents: 2000n, currency: 'AUD', providerObjectId: 're_new', relatedPaymentId: 'pi_3Abc' });
    });

    it('charge.refunded without a refunds list uses the amount_refunded delta, never the cumulative total', async () => {
      const e = await normalized(event('charge.refunded', { ...charge, amount_refunded: 3000 }, { previous_attributes: { amount_refunded: 1000 } }));
      expect(e).toMatchObject({ kind: 'REFUND', amountCents: 2000n, providerObjectId: 'ch_3Abc:refunded:3000', relatedPaymentId: 'pi_3Abc' });
    });

    it('charge.refunded with neither refunds nor previous_attributes is ignored with a reason, not guessed', async () => {
      const result = await accept(event('charge.refunded', { ...charge, amount_refunded: 3000 }));
      expect(isIgnored(result) && result.reason).toMatch(/cannot tell this refund/);
    });

    it('balance.available → BALANCE of the available AUD amount', async () => {
      const balance = { object: 'balance', available: [{ amount: 5000, currency: 'usd' }, { amount: 987654, currency: 'aud' }], pending: [] };
      const e = await normalized(event('balance.available', balance));
      expect(e).toMatchObject({ kind: 'BALANCE', amountCents: 987654n, currency: 'AUD', providerObjectId: 'evt_1Pq' });
    });

    it('balance.available with no AUD or a negative AUD balance is ignored', async () => {
      expect(await accept(event('balance.available', { object: 'balance', available: [{ amount: 5000, currency: 'usd' }] }))).toMatchObject({ ignored: true });
      expect(await accept(event('balance.available', { object: 'balance', available: [{ amount: -500, currency: 'aud' }] }))).toMatchObject({ ignored: true });
    });

    it('payout.paid → BALANCE keyed by payout id', async () => {
      const e = await normalized(event('payout.paid', { id: 'po_1X', object: 'payout', amount: 250000, currency: 'aud', status: 'paid' }));
      expect(e).toMatchObject({ kind: 'BALANCE', amountCents: 250000n, currency: 'AUD', providerObjectId: 'po_1X' });
    });

    it('preserves a non-AUD currency and its amount (no conversion)', async () => {
      const e = await normalized(event('payment_intent.succeeded', { ...paymentIntent, amount_received: 999, currency: 'usd' }));
      expect(e).toMatchObject({ amountCents: 999n, currency: 'USD' });
      const jpy = await normalized(event('payment_intent.succeeded', { ...paymentIntent, amount_received: 1500, currency: 'jpy' }));
      expect(jpy).toMatchObject({ amountCents: 1500n, currency: 'JPY' });
    });

    it('an unsupported event type is acknowledged as ignored with a reason', async () => {
      const result = await accept(event('customer.created', { id: 'cus_1', object: 'customer' }));
      expect(result).toEqual({ ignored: true, provider: 'stripe', reason: 'event type is not used for revenue', providerEventId: 'evt_1Pq', type: 'customer.created' });
    });

    it('accepts a delivery exactly 300 s old (the tolerance is inclusive)', async () => {
      const body = JSON.stringify(event('payment_intent.succeeded', paymentIntent));
      await expect(verifier.verify(deliver(body, { timestamp: NOW_S - 300 }))).resolves.toMatchObject({ amountCents: 12345n });
    });
  });

  describe('refused deliveries', () => {
    const body = JSON.stringify(event('payment_intent.succeeded', paymentIntent));

    it('forged signature (attacker signs with their own secret) → INVALID_SIGNATURE', async () => {
      const e = await refusal(verifier.verify(deliver(body, { secret: 'whsec_attacker' })));
      expect(e.code).toBe('INVALID_SIGNATURE');
      expect(e.httpStatus).toBe(400);
    });

    it('verifier configured with the wrong secret → INVALID_SIGNATURE', async () => {
      const wrong = createStripeVerifier({ webhookSecret: 'whsec_some_other_endpoint', now: () => NOW_MS });
      expect((await refusal(wrong.verify(deliver(body)))).code).toBe('INVALID_SIGNATURE');
    });

    it('body altered after signing (amount raised) → INVALID_SIGNATURE', async () => {
      const delivery = deliver(body);
      delivery.rawBody = Buffer.from(body.replace('"amount_received":12345', '"amount_received":99999'), 'utf8');
      expect((await refusal(verifier.verify(delivery))).code).toBe('INVALID_SIGNATURE');
    });

    it('missing or garbage Stripe-Signature header → INVALID_SIGNATURE', async () => {
      expect((await refusal(verifier.verify({ rawBody: body, headers: {} }))).code).toBe('INVALID_SIGNATURE');
      expect((await refusal(verifier.verify({ rawBody: body, headers: { 'stripe-signature': 'nonsense' } }))).code).toBe('INVALID_SIGNATURE');
    });

    it('timestamp 301 s old → TIMESTAMP_OUT_OF_TOLERANCE', async () => {
      const e = await refusal(verifier.verify(deliver(body, { timestamp: NOW_S - 301 })));
      expect(e.code).toBe('TIMESTAMP_OUT_OF_TOLERANCE');
    });

    it('timestamp more than 300 s in the future → TIMESTAMP_OUT_OF_TOLERANCE (the skew is bounded both ways)', async () => {
      for (const ahead of [301, 3600, 365 * 24 * 3600]) {
        const e = await refusal(verifier.verify(deliver(body, { timestamp: NOW_S + ahead })));
        expect(e.code).toBe('TIMESTAMP_OUT_OF_TOLERANCE');
        expect(e.message).toContain('in the future');
      }
      await expect(verifier.verify(deliver(body, { timestamp: NOW_S + 300 }))).resolves.toMatchObject({ amountCents: 12345n });
    });

    it('a future AND forged delivery is reported as forged', async () => {
      const e = await refusal(verifier.verify(deliver(body, { timestamp: NOW_S + 3600, secret: 'whsec_attacker' })));
      expect(e.code).toBe('INVALID_SIGNATURE');
    });

    it('a repeated Stripe-Signature header is refused even when one copy is valid (Node would join them)', async () => {
      const good = deliver(body).headers['stripe-signature'];
      const forged = deliver(body, { secret: 'whsec_attacker' }).headers['stripe-signature'];
      for (const copies of [[good, good], [forged, good], [good, forged]]) {
        const e = await refusal(verifier.verify({ rawBody: body, headers: { 'stripe-signature': copies } }));
        expect(e.code).toBe('INVALID_SIGNATURE');
        expect(e.message).toContain('repeated');
      }
    });

    it('an old AND forged delivery is reported as forged, not merely stale', async () => {
      const e = await refusal(verifier.verify(deliver(body, { timestamp: NOW_S - 3600, secret: 'whsec_attacker' })));
      expect(e.code).toBe('INVALID_SIGNATURE');
    });

    it('validly signed but malformed JSON → MALFORMED_PAYLOAD', async () => {
      expect((await refusal(verifier.verify(deliver('{"id":"evt_1","type":')))).code).toBe('MALFORMED_PAYLOAD');
    });

    it('empty body → MALFORMED_PAYLOAD', async () => {
      expect((await refusal(verifier.verify({ rawBody: '', headers: { 'stripe-signature': 't=1,v1=00' } }))).code).toBe('MALFORMED_PAYLOAD');
    });

    it.each([
      ['negative amount', -100],
      ['fractional minor units', 123.45],
      ['amount above 10^13 cents', 10_000_000_000_001],
      ['amount as a decimal string', '123.45'],
    ])('validly signed with %s → MALFORMED_PAYLOAD', async (_label, amount) => {
      const e = await refusal(accept(event('payment_intent.succeeded', { ...paymentIntent, amount_received: amount })));
      expect(e.code).toBe('MALFORMED_PAYLOAD');
      expect(e.message).toContain('amount_received');
    });

    it('validly signed but missing ids or currency → MALFORMED_PAYLOAD', async () => {
      const { id: _id, ...noId } = paymentIntent;
      expect((await refusal(accept(event('payment_intent.succeeded', noId)))).code).toBe('MALFORMED_PAYLOAD');
      expect((await refusal(accept(event('payment_intent.succeeded', { ...paymentIntent, currency: 'dollars' })))).code).toBe('MALFORMED_PAYLOAD');
      expect((await refusal(accept({ ...event('payment_intent.succeeded', paymentIntent), data: null }))).code).toBe('MALFORMED_PAYLOAD');
    });
  });

  it('refuses to start without a secret', () => {
    expect(() => createStripeVerifier({ webhookSecret: '' })).toThrow(/not configured/);
  });

  it('normalizeStripeEvent replays a stored event without re-verifying', () => {
    expect(normalizeStripeEvent(event('payment_intent.succeeded', paymentIntent))).toMatchObject({ amountCents: 12345n });
  });
});
