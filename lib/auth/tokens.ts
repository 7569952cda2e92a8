import { createHash, randomBytes } from 'node:crypto';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { AppError, ErrorCode } from '../errors';

export const ROLES = ['OWNER', 'ADMIN', 'USER', 'VIEWER'] as const;
export type Role = (typeof ROLES)[number];

/** `sid`: the refresh-token family (session) the access token belongs to; logging that session out ends it. */
export type AccessClaims = { sub: string; tid: string; role: Role; amr: string[]; sid?: string };
/** Verified claims plus when the token was issued (ms; `ims` claim, else `iat` seconds), for revocation checks. */
export type VerifiedAccessClaims = AccessClaims & { issuedAtMs: number };

export const ACCESS_TOKEN_TTL_S = 24 * 3600;
export const REFRESH_TOKEN_TTL_S = 30 * 24 * 3600;
export const MFA_CHALLENGE_TTL_S = 5 * 60;
const ISSUER = 'liquid-abt';
const AUDIENCE = 'liquid-abt-api';
/** MFA challenges are JWTs for a different audience: never usable as access tokens, and vice versa. */
const MFA_AUDIENCE = 'liquid-abt-mfa-challenge';

const key = (secret: string): Uint8Array => new TextEncoder().encode(secret);

export async function signAccessToken(claims: AccessClaims, secret: string, ttlS = ACCESS_TOKEN_TTL_S): Promise<string> {
  // `ims`: issue time in ms, so a logout-everywhere and a login in the same second are told apart.
  return new SignJWT({ tid: claims.tid, role: claims.role, amr: claims.amr, ims: Date.now(), ...(claims.sid ? { sid: claims.sid } : {}) })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(claims.sub)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlS)
    .sign(key(secret));
}

const unauthenticated = (message: string): AppError => new AppError(ErrorCode.UNAUTHENTICATED, message);

/** Verifies signature, issuer, audience, expiry and claim shapes; any failure is UNAUTHENTICATED. */
export async function verifyAccessToken(token: string, secret: string): Promise<VerifiedAccessClaims> {
  try {
    const { payload } = await jwtVerify(token, key(secret), { issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256'] });
    const { sub, tid, role, amr, ims, iat, sid } = payload as Record<string, unknown>;
    if (typeof sub !== 'string' || typeof tid !== 'string' || !ROLES.includes(role as Role) || !Array.isArray(amr)) {
      throw unauthenticated('token claims are invalid');
    }
    const issuedAtMs = typeof ims === 'number' && Number.isSafeInteger(ims) ? ims : typeof iat === 'number' ? iat * 1000 : 0;
    return {
      sub,
      tid,
      role: role as Role,
      amr: amr.filter((a): a is string => typeof a === 'string'),
      issuedAtMs,
      ...(typeof sid === 'string' ? { sid } : {}),
    };
  } catch (err) {
    if (err instanceof AppError) throw err;
    if (err instanceof joseErrors.JWTExpired) throw unauthenticated('token has expired');
    throw unauthenticated('token is invalid');
  }
}

export type MfaChallengeClaims = { sub: string; tid: string };

/** A short-lived proof that the password step passed; only `verifyMfa` accepts it. */
export async function signMfaChallenge(claims: MfaChallengeClaims, secret: string, ttlS = MFA_CHALLENGE_TTL_S): Promise<string> {
  return new SignJWT({ tid: claims.tid })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(claims.sub)
    .setIssuer(ISSUER)
    .setAudience(MFA_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlS)
    .sign(key(secret));
}

export async function verifyMfaChallenge(token: string, secret: string): Promise<MfaChallengeClaims> {
  try {
    const { payload } = await jwtVerify(token, key(secret), { issuer: ISSUER, audience: MFA_AUDIENCE, algorithms: ['HS256'] });
    const { sub, tid } = payload as Record<string, unknown>;
    if (typeof sub !== 'string' || typeof tid !== 'string') throw unauthenticated('mfa challenge is invalid');
    return { sub, tid };
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw unauthenticated('mfa challenge is invalid or expired');
  }
}

/** Refresh tokens are opaque random strings; only their SHA-256 is stored. */
export function newOpaqueToken(): { token: string; hash: string } {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashToken(token) };
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Pulls a bearer token from an Authorization header; undefined when absent. */
export function bearer(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  const m = /^Bearer\s+(\S+)$/i.exec(value.trim());
  if (!m) throw unauthenticated('authorization header must be "Bearer <token>"');
  return m[1];
}
