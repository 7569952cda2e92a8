import { WebhooksHelper } from 'square';
import { normalizeCurrency, parseMinorUnits, parseTimestamp } from './amounts';
import { invalidSignature, malformed, WebhookErrorCode, WebhookVerificationError } from './errors';
import { ignored, type RevenueEventResult } from './revenue-event';
import { at, bodyText, isObject, optionalString, parseJsonObject, requireSingleHeader, requireString, type RawWebhookRequest, type WebhookVerifier } from './verifier';

export const SQUARE_SIGNATURE_HEADER = 'x-square-hmacsha256-signature';

export type SquareVerifierOptions = {
  /** The subscription's signature key from the Square Developer Dashboard. */
  signatureKey: string;
  /** The notification URL exactly as registered with Square (scheme, host, path and query): it is part of the signed bytes. */
  notificationUrl: string;
  /** Clock in epoch ms; injectable so the replay window can be tested without sleeping. */
  now?: () => number;
};

/** Square retries an unacknowledged notification for up to 72 hours, each time with the event's own created_at. */
export const SQUARE_MAX_EVENT_AGE_SECONDS = 72 * 3600;
/** How far ahead of our clock created_at may be (clock skew). */
export const SQUARE_MAX_FUTURE_SKEW_SECONDS = 300;

/** Refund states that mean the money has left (or is committed to leave) the seller's balance. */
const COUNTED_REFUND_STATUSES = new Set(['PENDING', 'COMPLETED']);

/*
 * Normalization rules
 * - payment.created / payment.updated with data.object.payment.status COMPLETED → REVENUE of
 *   amount_money (tips excluded), providerObjectId = payment id. Square sends payment.updated many times
 *   for one payment (including when it is later refunded), so the payment id, not the event id, is the
 *   dedupe key. Any other status (APPROVED, PENDING, CANCELED, FAILED) is ignored.
 * - refund.created / refund.updated → REFUND of amount_money, providerObjectId = refund id,
 *   relatedPaymentId = payment_id. Counted at PENDING as well as COMPLETED: Square takes the refund out of
 *   the seller's balance when it is created, so waiting for COMPLETED would convert money that is
 *   already gone. The later COMPLETED update has the same refund id and dedupes. REJECTED/FAILED are
 *   ignored; a refund that fails after being counted as PENDING is not reversed here (it errs towards
 *   converting less, never more).
 * - Square signatures carry no timestamp, but the signed body's created_at does: an event older than
 *   Square's 72-hour retry period, or more than 300 s ahead of our clock, is refused
 *   (TIMESTAMP_OUT_OF_TOLERANCE). Replays inside the window are absorbed by event_id / dedupe-key
 *   idempotency downstream. An event without created_at is not age-checked.
 */
export function createSquareVerifier(options: SquareVerifierOptions): WebhookVerifier {
  const { signatureKey, notificationUrl } = options;
  const now = options.now ?? Date.now;
  if (typeof signatureKey !== 'string' || signatureKey.length === 0) throw new Error('Square signature key is not configured');
  if (typeof notificationUrl !== 'string' || !/^https?:\/\//.test(notificationUrl)) {
    throw new Error('Square notification URL must be the absolute URL registered with Square');
  }

  return {
    provider: 'square',
    async verify({ rawBody, headers }: RawWebhookRequest): Promise<RevenueEventResult> {
      const signatureHeader = requireSingleHeader('square', headers, SQUARE_SIGNATURE_HEADER, 'x-square-hmacsha256-signature');
      const requestBody = bodyText(rawBody);
      let valid: boolean;
      try {
        valid = await WebhooksHelper.verifySignature({ requestBody, signatureHeader, signatureKey, notificationUrl });
      } catch {
        // The SDK only throws on misconfiguration or a crypto failure; neither is the sender's fault to retry.
        throw new WebhookVerificationError(WebhookErrorCode.VERIFIER_UNAVAILABLE, 'square', 'signature could not be checked');
      }
      if (!valid) throw invalidSignature('square');
      if (requestBody.length === 0) throw malformed('square', 'body is empty');
      const event = parseJsonObject('square', requestBody);
      checkEventAge(event.created_at, now());
      return normalizeSquareEvent(event);
    },
  };
}

function checkEventAge(createdAt: unknown, nowMs: number): void {
  if (typeof createdAt !== 'string' || !/^\d{4}-\d{2}-\d{2}T/.test(createdAt)) return;
  const at = Date.parse(createdAt);
  if (Number.isNaN(at)) return;
  const ageSeconds = (nowMs - at) / 1000;
  if (ageSeconds > SQUARE_MAX_EVENT_AGE_SECONDS) {
    throw new WebhookVerificationError(WebhookErrorCode.TIMESTAMP_OUT_OF_TOLERANCE, 'square', `created_at is more than ${SQUARE_MAX_EVENT_AGE_SECONDS / 3600} hours old`);
  }
  if (ageSeconds < -SQUARE_MAX_FUTURE_SKEW_SECONDS) {
    throw new WebhookVerificationError(WebhookErrorCode.TIMESTAMP_OUT_OF_TOLERANCE, 'square', `created_at is more than ${SQUARE_MAX_FUTURE_SKEW_SECONDS}s in the future`);
  }
}

/** Maps an already-verified Square event to the normalized shape. Exported for replaying stored events. */
export function normalizeSquareEvent(event: unknown): RevenueEventResult {
  if (!isObject(event)) throw malformed('square', 'event must be a JSON object');
  const eventId = requireString('square', event.event_id, 'event_id');
  const type = requireString('square', event.type, 'type');

  switch (type) {
    case 'payment.created':
    case 'payment.updated': {
      const payment = at(event, 'data.object.payment');
      if (!isObject(payment)) throw malformed('square', 'data.object.payment must be an object');
      const paymentId = requireString('square', payment.id, 'data.object.payment.id');
      if (payment.status !== 'COMPLETED') return ignored('square', eventId, type, 'payment is not COMPLETED');
      const amount = parseMinorUnits('square', at(payment, 'amount_money.amount'), 'data.object.payment.amount_money.amount');
      const currency = normalizeCurrency('square', at(payment, 'amount_money.currency'), 'data.object.payment.amount_money.currency');
      if (amount === 0n) return ignored('square', eventId, type, 'zero amount');
      return {
        provider: 'square',
        providerEventId: eventId,
        kind: 'REVENUE',
        amountCents: amount,
        currency,
        occurredAt: parseTimestamp('square', event.created_at, 'created_at'),
        providerObjectId: paymentId,
        raw: event,
      };
    }

    case 'refund.created':
    case 'refund.updated': {
      const refund = at(event, 'data.object.refund');
      if (!isObject(refund)) throw malformed('square', 'data.object.refund must be an object');
      const refundId = requireString('square', refund.id, 'data.object.refund.id');
      if (typeof refund.status !== 'string' || !COUNTED_REFUND_STATUSES.has(refund.status)) {
        return ignored('square', eventId, type, 'refund is not PENDING or COMPLETED');
      }
      const amount = parseMinorUnits('square', at(refund, 'amount_money.amount'), 'data.object.refund.amount_money.amount');
      const currency = normalizeCurrency('square', at(refund, 'amount_money.currency'), 'data.object.refund.amount_money.currency');
      if (amount === 0n) return ignored('square', eventId, type, 'zero refund');
      const relatedPaymentId = optionalString(refund.payment_id);
      return {
        provider: 'square',
        providerEventId: eventId,
        kind: 'REFUND',
        amountCents: amount,
        currency,
        occurredAt: parseTimestamp('square', event.created_at, 'created_at'),
        providerObjectId: refundId,
        ...(relatedPaymentId ? { relatedPaymentId } : {}),
        raw: event,
      };
    }

    default:
      return ignored('square', eventId, type, 'event type is not used for revenue');
  }
}
