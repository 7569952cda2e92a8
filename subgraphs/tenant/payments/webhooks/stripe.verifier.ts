import Stripe from 'stripe';
import { normalizeCurrency, parseMinorUnits, parseTimestamp } from './amounts';
import { invalidSignature, malformed, WebhookErrorCode, WebhookVerificationError } from './errors';
import { ignored, type NormalizedRevenueEvent, type RevenueEventResult } from './revenue-event';
import {
  at,
  bodyText,
  isObject,
  optionalString,
  requireSingleHeader,
  requireString,
  type JsonObject,
  type RawWebhookRequest,
  type WebhookVerifier,
} from './verifier';

export const STRIPE_SIGNATURE_HEADER = 'stripe-signature';
/** Stripe's own default and recommendation: five minutes between signing and receipt. */
export const STRIPE_TOLERANCE_SECONDS = 300;

export type StripeVerifierOptions = {
  /** The endpoint's signing secret (`whsec_...`). */
  webhookSecret: string;
  /** How old a signature timestamp may be, and how far ahead of our clock (the SDK bounds only its age). */
  toleranceSeconds?: number;
  /** Clock in epoch ms; injectable so tolerance can be tested without sleeping. */
  now?: () => number;
};

/*
 * Normalization rules
 * - payment_intent.succeeded → REVENUE of amount_received, providerObjectId = PaymentIntent id.
 * - charge.succeeded → REVENUE of amount, providerObjectId = the charge's PaymentIntent id (the charge
 *   id only for legacy charges with no PaymentIntent). Stripe sends BOTH events for one payment; giving
 *   both the PaymentIntent id means revenueDedupeKey() is the same and the payment is counted once,
 *   whichever arrives first. An uncaptured charge (manual capture) is ignored: the authorized amount is
 *   not money yet, and payment_intent.succeeded reports the captured amount.
 * - charge.refunded → REFUND of the amount of THIS refund. data.object.amount_refunded is cumulative over
 *   all refunds of the charge, so it is never used on its own. In order of preference:
 *     1. the newest refund in data.object.refunds.data (present when the endpoint expands
 *        `data.object.refunds`, or on API versions before 2022-11-15): amount = refund.amount and
 *        providerObjectId = the refund id (re_...);
 *     2. amount_refunded − data.previous_attributes.amount_refunded: providerObjectId =
 *        `<charge id>:refunded:<new cumulative total>`, unique per refund and stable across redeliveries;
 *     3. neither available: ignored with a reason, because guessing could double-count partial refunds.
 *   relatedPaymentId is the PaymentIntent id (else charge id), matching the REVENUE providerObjectId.
 * - balance.available → BALANCE of the available AUD amount (other currencies and non-positive balances
 *   ignored); the balance has no id, so providerObjectId is the event id (each event is its own snapshot).
 * - payout.paid → BALANCE of the payout amount, providerObjectId = payout id.
 */
export function createStripeVerifier(options: StripeVerifierOptions): WebhookVerifier {
  const secret = options.webhookSecret;
  if (typeof secret !== 'string' || secret.trim() === '') throw new Error('Stripe webhook secret is not configured');
  const tolerance = options.toleranceSeconds ?? STRIPE_TOLERANCE_SECONDS;
  if (!Number.isInteger(tolerance) || tolerance <= 0) throw new Error('Stripe tolerance must be a positive number of seconds');
  const now = options.now ?? Date.now;

  return {
    provider: 'stripe',
    async verify({ rawBody, headers }: RawWebhookRequest): Promise<RevenueEventResult> {
      const header = requireSingleHeader('stripe', headers, STRIPE_SIGNATURE_HEADER, 'Stripe-Signature');
      const payload = bodyText(rawBody);
      if (payload.length === 0) throw malformed('stripe', 'body is empty');
      const receivedAt = now();
      // One header carries one timestamp; two mean two headers joined by something in between.
      const timestamps = header.split(',').filter((part) => part.trim().startsWith('t='));
      const [timestamp] = timestamps;
      if (timestamps.length !== 1 || timestamp === undefined) throw invalidSignature('stripe', timestamps.length > 1 ? 'repeated Stripe-Signature header' : 'malformed Stripe-Signature header');
      // Forged is reported before stale or early: the SDK with its age check off (0), then both bounds here.
      if (!signatureValidIgnoringAge(payload, header, secret)) throw invalidSignature('stripe');
      const age = Math.floor(receivedAt / 1000) - Number.parseInt(timestamp.trim().slice(2), 10);
      if (!Number.isFinite(age)) throw invalidSignature('stripe', 'malformed Stripe-Signature header');
      if (age > tolerance) throw outOfTolerance(`signature timestamp is more than ${tolerance}s old`);
      if (age < -tolerance) throw outOfTolerance(`signature timestamp is more than ${tolerance}s in the future`);
      let event: unknown;
      try {
        event = JSON.parse(payload);
      } catch {
        throw malformed('stripe', 'body is not valid JSON');
      }
      return normalizeStripeEvent(event);
    },
  };
}

const outOfTolerance = (message: string): WebhookVerificationError =>
  new WebhookVerificationError(WebhookErrorCode.TIMESTAMP_OUT_OF_TOLERANCE, 'stripe', message);

function signatureValidIgnoringAge(payload: string, header: string, secret: string): boolean {
  try {
    return Stripe.webhooks.signature?.verifyHeader(payload, header, secret, 0) === true;
  } catch {
    return false;
  }
}

/** Maps an already-verified Stripe event to the normalized shape. Exported for replaying stored events. */
export function normalizeStripeEvent(event: unknown): RevenueEventResult {
  if (!isObject(event)) throw malformed('stripe', 'event must be a JSON object');
  const id = requireString('stripe', event.id, 'id');
  const type = requireString('stripe', event.type, 'type');
  const object = at(event, 'data.object');
  if (!isObject(object)) throw malformed('stripe', 'data.object must be an object');
  const occurredAt = (): Date => parseTimestamp('stripe', event.created, 'created');
  const base = (): Pick<NormalizedRevenueEvent, 'provider' | 'providerEventId' | 'occurredAt' | 'raw'> => ({
    provider: 'stripe',
    providerEventId: id,
    occurredAt: occurredAt(),
    raw: event,
  });

  switch (type) {
    case 'payment_intent.succeeded': {
      const paymentIntentId = requireString('stripe', object.id, 'data.object.id');
      if (object.status !== undefined && object.status !== 'succeeded') {
        return ignored('stripe', id, type, 'payment intent is not in the succeeded state');
      }
      const amount = parseMinorUnits('stripe', object.amount_received, 'data.object.amount_received');
      const currency = normalizeCurrency('stripe', object.currency, 'data.object.currency');
      if (amount === 0n) return ignored('stripe', id, type, 'zero amount received');
      return { ...base(), kind: 'REVENUE', amountCents: amount, currency, providerObjectId: paymentIntentId };
    }

    case 'charge.succeeded': {
      const chargeId = requireString('stripe', object.id, 'data.object.id');
      if (object.captured === false) {
        return ignored('stripe', id, type, 'charge is authorized but not captured; payment_intent.succeeded reports the captured amount');
      }
      if (object.status !== undefined && object.status !== 'succeeded') {
        return ignored('stripe', id, type, 'charge is not in the succeeded state');
      }
      const amount = parseMinorUnits('stripe', object.amount, 'data.object.amount');
      const currency = normalizeCurrency('stripe', object.currency, 'data.object.currency');
      if (amount === 0n) return ignored('stripe', id, type, 'zero amount charged');
      return { ...base(), kind: 'REVENUE', amountCents: amount, currency, providerObjectId: paymentIdOf(object) ?? chargeId };
    }

    case 'charge.refunded':
      return normalizeChargeRefunded(event, object, id, type, base);

    case 'balance.available': {
      const available = object.available;
      if (!Array.isArray(available)) throw malformed('stripe', 'data.object.available must be an array');
      const aud = available.find((entry) => isObject(entry) && typeof entry.currency === 'string' && entry.currency.toLowerCase() === 'aud');
      if (!isObject(aud)) return ignored('stripe', id, type, 'no AUD in the available balance');
      // A Stripe balance can legitimately be negative; there is nothing to convert then.
      if (typeof aud.amount === 'number' && aud.amount <= 0) return ignored('stripe', id, type, 'available AUD balance is not positive');
      const amount = parseMinorUnits('stripe', aud.amount, 'data.object.available[aud].amount');
      return { ...base(), kind: 'BALANCE', amountCents: amount, currency: 'AUD', providerObjectId: id };
    }

    case 'payout.paid': {
      const payoutId = requireString('stripe', object.id, 'data.object.id');
      const amount = parseMinorUnits('stripe', object.amount, 'data.object.amount');
      const currency = normalizeCurrency('stripe', object.currency, 'data.object.currency');
      if (amount === 0n) return ignored('stripe', id, type, 'zero payout');
      return { ...base(), kind: 'BALANCE', amountCents: amount, currency, providerObjectId: payoutId };
    }

    default:
      return ignored('stripe', id, type, 'event type is not used for revenue');
  }
}

/** charge.payment_intent is an id, an expanded object, or null for legacy Charges API payments. */
function paymentIdOf(charge: JsonObject): string | undefined {
  const pi = charge.payment_intent;
  if (typeof pi === 'string') return optionalString(pi);
  if (isObject(pi)) return optionalString(pi.id);
  return undefined;
}

function normalizeChargeRefunded(
  event: JsonObject,
  charge: JsonObject,
  id: string,
  type: string,
  base: () => Pick<NormalizedRevenueEvent, 'provider' | 'providerEventId' | 'occurredAt' | 'raw'>,
): RevenueEventResult {
  const chargeId = requireString('stripe', charge.id, 'data.object.id');
  const relatedPaymentId = paymentIdOf(charge) ?? chargeId;
  const currency = normalizeCurrency('stripe', charge.currency, 'data.object.currency');

  const refund = newestRefund(at(charge, 'refunds.data'));
  if (refund) {
    const refundId = requireString('stripe', refund.id, 'data.object.refunds.data[].id');
    const amount = parseMinorUnits('stripe', refund.amount, 'data.object.refunds.data[].amount');
    const refundCurrency = refund.currency === undefined ? currency : normalizeCurrency('stripe', refund.currency, 'data.object.refunds.data[].currency');
    if (amount === 0n) return ignored('stripe', id, type, 'zero refund');
    return { ...base(), kind: 'REFUND', amountCents: amount, currency: refundCurrency, providerObjectId: refundId, relatedPaymentId };
  }

  const total = parseMinorUnits('stripe', charge.amount_refunded, 'data.object.amount_refunded');
  const previousRaw = at(event, 'data.previous_attributes.amount_refunded');
  if (previousRaw === undefined) {
    return ignored(
      'stripe',
      id,
      type,
      'cannot tell this refund from earlier ones: no refunds list and no previous_attributes.amount_refunded (expand data.object.refunds on the endpoint)',
    );
  }
  const previous = parseMinorUnits('stripe', previousRaw, 'data.previous_attributes.amount_refunded');
  if (total <= previous) return ignored('stripe', id, type, 'amount_refunded did not increase');
  return {
    ...base(),
    kind: 'REFUND',
    amountCents: total - previous,
    currency,
    providerObjectId: `${chargeId}:refunded:${total}`,
    relatedPaymentId,
  };
}

/** The refund that triggered the event: the newest by `created` that has not failed or been canceled. */
function newestRefund(list: unknown): JsonObject | undefined {
  if (!Array.isArray(list)) return undefined;
  let newest: JsonObject | undefined;
  for (const entry of list) {
    if (!isObject(entry) || entry.status === 'failed' || entry.status === 'canceled') continue;
    const created = typeof entry.created === 'number' ? entry.created : -1;
    const best = newest && typeof newest.created === 'number' ? newest.created : -1;
    if (!newest || created > best) newest = entry;
  }
  return newest;
}
