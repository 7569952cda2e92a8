export { WebhookErrorCode, WebhookVerificationError, type WebhookProvider } from './errors';
export {
  isIgnored,
  revenueDedupeKey,
  type IgnoredRevenueEvent,
  type NormalizedRevenueEvent,
  type RevenueEventResult,
  type RevenueKind,
} from './revenue-event';
export { MAX_MINOR_UNITS } from './amounts';
export type { RawWebhookRequest, WebhookHeaders, WebhookVerifier } from './verifier';
export { createStripeVerifier, normalizeStripeEvent, STRIPE_SIGNATURE_HEADER, STRIPE_TOLERANCE_SECONDS, type StripeVerifierOptions } from './stripe.verifier';
export { createSquareVerifier, normalizeSquareEvent, SQUARE_SIGNATURE_HEADER, type SquareVerifierOptions } from './square.verifier';
export {
  createPayPalVerifier,
  normalizePayPalEvent,
  PAYPAL_HEADERS,
  PAYPAL_LIVE_BASE_URL,
  PAYPAL_SANDBOX_BASE_URL,
  type PayPalVerifierOptions,
} from './paypal.verifier';
