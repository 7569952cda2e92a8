import { createHash, randomBytes } from 'node:crypto';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { AppError, ErrorCode } from '../errors';

export const ROLES = ['OWNER', 'ADMIN', 'USER', 'VIEWER'] as const;
export type Role = (typeof ROLES)[number];

export type AccessClaims = { sub: string; tid: string; role: Role; amr: string[] };

export const ACCESS_TOKEN_TTL_S = 24 * 3600;
export const REFRESH_TOKEN_TTL_S = 30 * 24 * 3600;
const ISSUER = 'liquid-abt';
const AUDIENCE = 'liquid-abt-api';

const key = (secret: string): Uint8Array => new TextEncoder().encode(secret);

export async function signAccessToken(claims: AccessClaims, secret: string, ttlS = ACCESS_TOKEN_TTL_S): Promise<string> {
  return new SignJWT({ tid: claims.tid, role: claims.role, amr: claims.amr })
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
export async function verifyAccessToken(token: string, secret: string): Promise<AccessClaims> {
  try {
    const { payload } = await jwtVerify(token, key(secret), { issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256'] });
    const { sub, tid, role, amr } = payload as Record<string, unknown>;
    if (typeof sub !== 'string' || typeof tid !== 'string' || !ROLES.includes(role as Role) || !Array.isArray(amr)) {
      throw unauthenticated('token claims are invalid');
    }
    return { sub, tid, role: role as Role, amr: amr.filter((a): a is string => typeof a === 'string') };
  } catch (err) {
    if (err instanceof AppError) throw err;
    if (err instanceof joseErrors.JWTExpired) throw unauthenticated('token has expired');
    throw unauthenticated('token is invalid');
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
