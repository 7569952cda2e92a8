import { decimalToMinorUnits, normalizeCurrency, parseTimestamp } from './amounts';
import { invalidSignature, malformed, WebhookErrorCode, WebhookVerificationError } from './errors';
import { ignored, type RevenueEventResult } from './revenue-event';
import { at, bodyText, isObject, parseJsonObject, requireSingleHeader, requireString, type RawWebhookRequest, type WebhookVerifier } from './verifier';

/** The delivery headers PayPal signs with; all are forwarded to verify-webhook-signature. */
export const PAYPAL_HEADERS = {
  authAlgo: 'paypal-auth-algo',
  certUrl: 'paypal-cert-url',
  transmissionId: 'paypal-transmission-id',
  transmissionSig: 'paypal-transmission-sig',
  transmissionTime: 'paypal-transmission-time',
} as const;

export const PAYPAL_LIVE_BASE_URL = 'https://api-m.paypal.com';
export const PAYPAL_SANDBOX_BASE_URL = 'https://api-m.sandbox.paypal.com';

export type PayPalVerifierOptions = {
  /** PAYPAL_LIVE_BASE_URL, PAYPAL_SANDBOX_BASE_URL, or the fake server in tests. */
  baseUrl: string;
  clientId: string;
  clientSecret: string;
  /** The id PayPal assigned to this webhook subscription: it is part of the signed string. */
  webhookId: string;
  fetch?: typeof fetch;
  /** Per-request timeout for PayPal API calls. */
  timeoutMs?: number;
  /** Clock in epoch ms, for token expiry and the replay window. */
  now?: () => number;
  /** Hosts a delivery's cert_url may point at; PayPal fetches that cert, so refuse anything off-domain up front. */
  trustedCertHosts?: RegExp;
};

type CachedToken = { accessToken: string; expiresAt: number };

/** Refresh this long before PayPal's stated expiry so a token never dies mid-request. */
const TOKEN_EXPIRY_SKEW_MS = 60_000;
/** How far a delivery's PAYPAL-TRANSMISSION-TIME may be from our clock, either way (as Stripe's signature tolerance). */
export const PAYPAL_TRANSMISSION_TOLERANCE_SECONDS = 300;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;
const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_CERT_HOSTS = /(^|\.)paypal\.com$/i;

const unavailable = (message: string): WebhookVerificationError =>
  new WebhookVerificationError(WebhookErrorCode.VERIFIER_UNAVAILABLE, 'paypal', message);

/*
 * Verification: PayPal's webhook signature is RSA over `transmission_id|transmission_time|webhook_id|crc32(raw body)`,
 * checked here by POST /v1/notifications/verify-webhook-signature with an OAuth2 client-credentials token
 * (cached until shortly before expiry, refreshed once on a 401). The raw body is spliced into that request
 * byte-for-byte as `webhook_event` rather than parsed and re-serialized, because re-serializing changes the
 * bytes (number formatting, key order, escaping) and the CRC32 then fails. Only verification_status SUCCESS
 * passes; PayPal errors, timeouts and 5xx are VERIFIER_UNAVAILABLE (HTTP 503, so PayPal redelivers later).
 * PAYPAL-TRANSMISSION-TIME (signed; each retry is a new transmission) must be within 300 s of our clock
 * either way, checked before the API call: a replayed old delivery is refused without asking PayPal.
 *
 * Normalization:
 * - PAYMENT.CAPTURE.COMPLETED (resource = v2 capture, status COMPLETED) → REVENUE of resource.amount,
 *   providerObjectId = capture id.
 * - PAYMENT.CAPTURE.REFUNDED (resource = v2 refund) → REFUND of resource.amount, providerObjectId = refund id,
 *   relatedPaymentId = the capture id from the refund's rel="up" link.
 * Amounts are decimal strings converted exactly to minor units of currency_code.
 */
export function createPayPalVerifier(options: PayPalVerifierOptions): WebhookVerifier {
  for (const key of ['baseUrl', 'clientId', 'clientSecret', 'webhookId'] as const) {
    if (typeof options[key] !== 'string' || options[key].length === 0) throw new Error(`PayPal ${key} is not configured`);
  }
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const doFetch = options.fetch ?? globalThis.fetch;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const now = options.now ?? Date.now;
  const trustedCertHosts = options.trustedCertHosts ?? DEFAULT_CERT_HOSTS;
  const basicAuth = `Basic ${Buffer.from(`${options.clientId}:${options.clientSecret}`, 'utf8').toString('base64')}`;

  let cached: CachedToken | undefined;
  let inFlight: Promise<CachedToken> | undefined;

  async function call(path: string, init: RequestInit): Promise<Response> {
    try {
      return await doFetch(`${baseUrl}${path}`, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    } catch {
      // Network errors and timeouts; the error text may carry the URL, so it is not passed on.
      throw unavailable('PayPal API did not respond');
    }
  }

  async function fetchToken(): Promise<CachedToken> {
    const res = await call('/v1/oauth2/token', {
      method: 'POST',
      headers: { Authorization: basicAuth, 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body: 'grant_type=client_credentials',
    });
    if (res.status === 401 || res.status === 403) throw unavailable('PayPal rejected the client credentials');
    if (!res.ok) throw unavailable(`PayPal token endpoint answered ${res.status}`);
    const body: unknown = await res.json().catch(() => undefined);
    const accessToken = at(body, 'access_token');
    const expiresIn = at(body, 'expires_in');
    if (typeof accessToken !== 'string' || accessToken.length === 0 || typeof expiresIn !== 'number' || !(expiresIn > 0)) {
      throw unavailable('PayPal token response was not understood');
    }
    return { accessToken, expiresAt: now() + expiresIn * 1000 - TOKEN_EXPIRY_SKEW_MS };
  }

  async function token(): Promise<string> {
    if (cached && now() < cached.expiresAt) return cached.accessToken;
    // Concurrent deliveries share one token request instead of stampeding the token endpoint.
    inFlight ??= fetchToken().finally(() => {
      inFlight = undefined;
    });
    cached = await inFlight;
    return cached.accessToken;
  }

  async function verifyWithPayPal(requestBody: string): Promise<boolean> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const accessToken = await token();
      const res = await call('/v1/notifications/verify-webhook-signature', {
        method: 'POST',
        headers: { Authorization: `Bearer ${accessToken}`, 'Content-Type': 'application/json', Accept: 'application/json' },
        body: requestBody,
      });
      if (res.status === 401 && attempt === 0) {
        // Revoked or expired early: drop the cached token and try once more with a fresh one.
        cached = undefined;
        continue;
      }
      if (res.status === 401 || res.status === 403) throw unavailable('PayPal refused our access token');
      if (res.status === 429 || res.status >= 500) throw unavailable(`PayPal verification answered ${res.status}`);
      // Any other refusal (400/422) means PayPal could not vouch for the delivery: fail closed.
      if (!res.ok) return false;
      const body: unknown = await res.json().catch(() => undefined);
      const status = at(body, 'verification_status');
      if (typeof status !== 'string') throw unavailable('PayPal verification response was not understood');
      return status === 'SUCCESS';
    }
    throw unavailable('PayPal refused our access token');
  }

  return {
    provider: 'paypal',
    async verify({ rawBody, headers }: RawWebhookRequest): Promise<RevenueEventResult> {
      const header = (h: keyof typeof PAYPAL_HEADERS): string => requireSingleHeader('paypal', headers, PAYPAL_HEADERS[h], PAYPAL_HEADERS[h]);
      const authAlgo = header('authAlgo');
      const certUrl = header('certUrl');
      const transmissionId = header('transmissionId');
      const transmissionSig = header('transmissionSig');
      const transmissionTime = header('transmissionTime');
      if (!isTrustedCertUrl(certUrl, trustedCertHosts)) throw invalidSignature('paypal', 'cert_url is not a PayPal URL');
      checkTransmissionTime(transmissionTime, now());

      const text = bodyText(rawBody);
      // Parsing first both rejects junk without an API call and guarantees the splice below is one JSON value.
      const event = parseJsonObject('paypal', text);
      const head = JSON.stringify({
        auth_algo: authAlgo,
        cert_url: certUrl,
        transmission_id: transmissionId,
        transmission_sig: transmissionSig,
        transmission_time: transmissionTime,
        webhook_id: options.webhookId,
      });
      const requestBody = `${head.slice(0, -1)},"webhook_event":${text}}`;

      if (!(await verifyWithPayPal(requestBody))) throw invalidSignature('paypal');
      return normalizePayPalEvent(event);
    },
  };
}

function checkTransmissionTime(value: string, nowMs: number): void {
  const at = RFC3339.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(at)) throw invalidSignature('paypal', 'transmission time is not an RFC 3339 date-time');
  const ageSeconds = (nowMs - at) / 1000;
  const limit = PAYPAL_TRANSMISSION_TOLERANCE_SECONDS;
  if (ageSeconds > limit) throw new WebhookVerificationError(WebhookErrorCode.TIMESTAMP_OUT_OF_TOLERANCE, 'paypal', `transmission is more than ${limit}s old`);
  if (ageSeconds < -limit) {
    throw new WebhookVerificationError(WebhookErrorCode.TIMESTAMP_OUT_OF_TOLERANCE, 'paypal', `transmission time is more than ${limit}s in the future`);
  }
}

function isTrustedCertUrl(value: string, hosts: RegExp): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' && hosts.test(url.hostname);
  } catch {
    return false;
  }
}

/** Maps an already-verified PayPal event to the normalized shape. Exported for replaying stored events. */
export function normalizePayPalEvent(event: unknown): RevenueEventResult {
  if (!isObject(event)) throw malformed('paypal', 'event must be a JSON object');
  const eventId = requireString('paypal', event.id, 'id');
  const type = requireString('paypal', event.event_type, 'event_type');
  if (type !== 'PAYMENT.CAPTURE.COMPLETED' && type !== 'PAYMENT.CAPTURE.REFUNDED') {
    return ignored('paypal', eventId, type, 'event type is not used for revenue');
  }
  const resource = event.resource;
  if (!isObject(resource)) throw malformed('paypal', 'resource must be an object');
  const objectId = requireString('paypal', resource.id, 'resource.id');
  const currency = normalizeCurrency('paypal', at(resource, 'amount.currency_code'), 'resource.amount.currency_code');
  const amount = decimalToMinorUnits('paypal', at(resource, 'amount.value'), currency, 'resource.amount.value');
  const occurredAt = parseTimestamp('paypal', event.create_time, 'create_time');

  if (type === 'PAYMENT.CAPTURE.COMPLETED') {
    if (resource.status !== 'COMPLETED') return ignored('paypal', eventId, type, 'capture is not COMPLETED');
    if (amount === 0n) return ignored('paypal', eventId, type, 'zero amount');
    return { provider: 'paypal', providerEventId: eventId, kind: 'REVENUE', amountCents: amount, currency, occurredAt, providerObjectId: objectId, raw: event };
  }

  if (resource.status === 'CANCELLED' || resource.status === 'FAILED') {
    return ignored('paypal', eventId, type, 'refund did not go through');
  }
  if (amount === 0n) return ignored('paypal', eventId, type, 'zero refund');
  const relatedPaymentId = refundedCaptureId(resource.links);
  return {
    provider: 'paypal',
    providerEventId: eventId,
    kind: 'REFUND',
    amountCents: amount,
    currency,
    occurredAt,
    providerObjectId: objectId,
    ...(relatedPaymentId ? { relatedPaymentId } : {}),
    raw: event,
  };
}

/** A v2 refund links to the capture it reverses with rel "up" → /v2/payments/captures/<id>. */
function refundedCaptureId(links: unknown): string | undefined {
  if (!Array.isArray(links)) return undefined;
  for (const link of links) {
    if (!isObject(link) || link.rel !== 'up' || typeof link.href !== 'string') continue;
    const match = /\/v2\/payments\/captures\/([A-Za-z0-9-]{1,64})(?:[/?#]|$)/.exec(link.href);
    if (match) return match[1];
  }
  return undefined;
}
