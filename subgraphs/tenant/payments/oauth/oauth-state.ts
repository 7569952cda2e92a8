import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { KeyRing } from '../../../../lib/crypto/secret-box';
import { AppError, ErrorCode } from '../../../../lib/errors';

/**
 * The OAuth `state` parameter of a payment processor connection: signed (HMAC-SHA256 under a key
 * derived from the sealing key ring), expiring, and bound to the tenant, the user who started it and
 * the provider. Single use is enforced by the nonce's row in payment_oauth_state (oauth.service.ts).
 *
 * Format: `<keyId>.<payload b64url>.<mac b64url>`, payload = JSON {v, t, u, p, n, e}.
 */

export type OAuthStateClaims = { tenantId: string; userId: string; provider: string; nonce: string; expiresAt: Date };

export const OAUTH_STATE_TTL_MS = 10 * 60_000;

export const OAuthReason = {
  STATE_INVALID: 'OAUTH_STATE_INVALID',
  STATE_EXPIRED: 'OAUTH_STATE_EXPIRED',
  STATE_USED: 'OAUTH_STATE_USED',
  ACCESS_DENIED: 'OAUTH_ACCESS_DENIED',
  CODE_REJECTED: 'OAUTH_CODE_REJECTED',
  PROVIDER_UNAVAILABLE: 'OAUTH_PROVIDER_UNAVAILABLE',
  NOT_CONFIGURED: 'PROVIDER_NOT_CONFIGURED',
  ACCOUNT_CONNECTED_ELSEWHERE: 'ACCOUNT_CONNECTED_ELSEWHERE',
  NOT_PERMITTED: 'OAUTH_NOT_PERMITTED',
} as const;
export type OAuthReason = (typeof OAuthReason)[keyof typeof OAuthReason];

const CODES: Record<OAuthReason, ErrorCode> = {
  OAUTH_STATE_INVALID: ErrorCode.BAD_USER_INPUT,
  OAUTH_STATE_EXPIRED: ErrorCode.BAD_USER_INPUT,
  OAUTH_STATE_USED: ErrorCode.BAD_USER_INPUT,
  OAUTH_ACCESS_DENIED: ErrorCode.BAD_USER_INPUT,
  OAUTH_CODE_REJECTED: ErrorCode.BAD_USER_INPUT,
  OAUTH_PROVIDER_UNAVAILABLE: ErrorCode.INTERNAL_SERVER_ERROR,
  PROVIDER_NOT_CONFIGURED: ErrorCode.BAD_USER_INPUT,
  ACCOUNT_CONNECTED_ELSEWHERE: ErrorCode.CONFLICT,
  OAUTH_NOT_PERMITTED: ErrorCode.FORBIDDEN,
};

/** A typed OAuth failure: `extensions.code` as usual, `extensions.reason` the stable OAuth reason. Never a token or a code in it. */
export const oauthError = (reason: OAuthReason, message: string, details: Record<string, string> = {}): AppError => new AppError(CODES[reason], message, { ...details, reason });

export function oauthReasonOf(err: unknown): OAuthReason | null {
  if (!(err instanceof AppError)) return null;
  const r = err.extensions.reason;
  return typeof r === 'string' && (Object.values(OAuthReason) as string[]).includes(r) ? (r as OAuthReason) : null;
}

/** The HMAC key for states under one key of the ring: derived, so the sealing key itself never signs. */
function macKey(ring: KeyRing, keyId: string): Buffer | null {
  const key = ring.keys[keyId];
  if (!key) return null;
  return Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), 'liquid-abt payment oauth state v1', 32));
}

const mac = (key: Buffer, signed: string): Buffer => createHmac('sha256', key).update(signed).digest();

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function signState(ring: KeyRing, claims: Omit<OAuthStateClaims, 'nonce'> & { nonce?: string }): { state: string; nonce: string } {
  const key = macKey(ring, ring.current);
  if (!key) throw new Error('the key ring has no current key');
  const nonce = claims.nonce ?? randomBytes(18).toString('base64url');
  const payload = Buffer.from(
    JSON.stringify({ v: 1, t: claims.tenantId, u: claims.userId, p: claims.provider, n: nonce, e: Math.floor(claims.expiresAt.getTime() / 1000) }),
  ).toString('base64url');
  const signed = `${ring.current}.${payload}`;
  return { state: `${signed}.${mac(key, signed).toString('base64url')}`, nonce };
}

/** The claims of a state this platform signed for `provider`, not expired at `now`; otherwise a typed error. */
export function verifyState(ring: KeyRing, state: unknown, provider: string, now: Date): OAuthStateClaims {
  const invalid = (): AppError => oauthError(OAuthReason.STATE_INVALID, 'the authorisation response does not belong to a connection this platform started');
  if (typeof state !== 'string' || state.length > 1024) throw invalid();
  const parts = state.split('.');
  if (parts.length !== 3) throw invalid();
  const [keyId, payload, given] = parts as [string, string, string];
  const key = macKey(ring, keyId);
  if (!key) throw invalid();
  const expected = mac(key, `${keyId}.${payload}`);
  const actual = Buffer.from(given, 'base64url');
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) throw invalid();
  let c: { v?: unknown; t?: unknown; u?: unknown; p?: unknown; n?: unknown; e?: unknown };
  try {
    c = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as typeof c;
  } catch {
    throw invalid();
  }
  if (c.v !== 1 || typeof c.t !== 'string' || !UUID.test(c.t) || typeof c.u !== 'string' || !UUID.test(c.u) || typeof c.n !== 'string' || typeof c.e !== 'number') throw invalid();
  if (c.p !== provider) throw invalid();
  const expiresAt = new Date(c.e * 1000);
  if (expiresAt.getTime() <= now.getTime()) throw oauthError(OAuthReason.STATE_EXPIRED, 'the connection attempt expired; start it again');
  return { tenantId: c.t, userId: c.u, provider: c.p, nonce: c.n, expiresAt };
}
