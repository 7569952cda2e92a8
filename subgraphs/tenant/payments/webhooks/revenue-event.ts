import type { WebhookProvider } from './errors';

export type { WebhookProvider };

export type RevenueKind = 'REVENUE' | 'REFUND' | 'BALANCE';

/**
 * A verified provider event reduced to what the treasury acts on.
 *
 * Idempotency works at two levels:
 *  - `providerEventId` dedupes redeliveries of the same event;
 *  - `revenueDedupeKey()` (provider + kind + providerObjectId) dedupes distinct events that describe
 *    the same money movement, e.g. Stripe's payment_intent.succeeded and charge.succeeded for one
 *    payment, or Square's repeated payment.updated for one COMPLETED payment.
 */
export type NormalizedRevenueEvent = {
  provider: WebhookProvider;
  providerEventId: string;
  kind: RevenueKind;
  /** Minor units of `currency` as the provider counts them; always > 0. Refunds are positive with kind REFUND. */
  amountCents: bigint;
  /** ISO 4217, upper case, exactly as the provider reported it: never converted. */
  currency: string;
  occurredAt: Date;
  /** The payment/charge/refund/payout id that makes up the dedupe key. */
  providerObjectId: string;
  /** For refunds: the payment they reverse, in the same id space as that payment's REVENUE providerObjectId. */
  relatedPaymentId?: string;
  /** The parsed, verified event body, kept for audit. */
  raw: unknown;
  ignored?: undefined;
};

/** A verified event we deliberately do not act on; acknowledge it (2xx) so the provider stops retrying. */
export type IgnoredRevenueEvent = {
  ignored: true;
  provider: WebhookProvider;
  reason: string;
  providerEventId: string;
  type: string;
};

export type RevenueEventResult = NormalizedRevenueEvent | IgnoredRevenueEvent;

export const isIgnored = (event: RevenueEventResult): event is IgnoredRevenueEvent => event.ignored === true;

/** The key under which one money movement is counted once, however many events report it. */
export function revenueDedupeKey(event: NormalizedRevenueEvent): string {
  return `${event.provider}:${event.kind}:${event.providerObjectId}`;
}

export function ignored(provider: WebhookProvider, providerEventId: string, type: string, reason: string): IgnoredRevenueEvent {
  return { ignored: true, provider, reason, providerEventId, type };
}
