/** Why a webhook delivery was refused; stable codes the HTTP layer maps to a status. */
export const WebhookErrorCode = {
  INVALID_SIGNATURE: 'INVALID_SIGNATURE',
  TIMESTAMP_OUT_OF_TOLERANCE: 'TIMESTAMP_OUT_OF_TOLERANCE',
  MALFORMED_PAYLOAD: 'MALFORMED_PAYLOAD',
  VERIFIER_UNAVAILABLE: 'VERIFIER_UNAVAILABLE',
} as const;
export type WebhookErrorCode = (typeof WebhookErrorCode)[keyof typeof WebhookErrorCode];

export type WebhookProvider = 'stripe' | 'square' | 'paypal';

/**
 * A refused delivery. Messages are fixed strings plus field paths: never the signing secret,
 * the signature, or any part of the body. No `cause` is attached because SDK errors (Stripe's
 * StripeSignatureVerificationError) carry the raw payload and header.
 */
export class WebhookVerificationError extends Error {
  constructor(
    readonly code: WebhookErrorCode,
    readonly provider: WebhookProvider,
    message: string,
  ) {
    super(`${provider} webhook: ${message}`);
    this.name = 'WebhookVerificationError';
  }

  /**
   * 503 asks the provider to retry later (our verifier was down); 400 for everything the sender
   * got wrong. Providers retry any non-2xx, so a 400 on a forged delivery costs nothing.
   */
  get httpStatus(): 400 | 503 {
    return this.code === WebhookErrorCode.VERIFIER_UNAVAILABLE ? 503 : 400;
  }

  toJSON(): { name: string; code: WebhookErrorCode; provider: WebhookProvider; message: string } {
    return { name: this.name, code: this.code, provider: this.provider, message: this.message };
  }
}

export const malformed = (provider: WebhookProvider, message: string): WebhookVerificationError =>
  new WebhookVerificationError(WebhookErrorCode.MALFORMED_PAYLOAD, provider, message);

export const invalidSignature = (provider: WebhookProvider, message = 'signature verification failed'): WebhookVerificationError =>
  new WebhookVerificationError(WebhookErrorCode.INVALID_SIGNATURE, provider, message);
