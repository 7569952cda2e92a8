import { createHash, randomBytes } from 'node:crypto';
import { SignJWT, decodeProtectedHeader, jwtVerify, errors as joseErrors, type JWTHeaderParameters, type JWTPayload } from 'jose';
import { AppError, ErrorCode } from '../errors';

export const ROLES = ['OWNER', 'ADMIN', 'USER', 'VIEWER'] as const;
export type Role = (typeof ROLES)[number];

/** `sid`: the refresh-token family (session) the access token belongs to; logging that session out ends it. */
export type AccessClaims = { sub: string; tid: string; role: Role; amr: string[]; sid: string };
/** Verified claims plus when the token was issued (ms; `ims` claim, else `iat` seconds), for revocation checks. */
export type VerifiedAccessClaims = AccessClaims & { issuedAtMs: number; /** `exp` in ms. */ expiresAtMs: number };

export const ACCESS_TOKEN_TTL_S = 24 * 3600;
export const REFRESH_TOKEN_TTL_S = 30 * 24 * 3600;
export const MFA_CHALLENGE_TTL_S = 5 * 60;
const ISSUER = 'liquid-abt';
const AUDIENCE = 'liquid-abt-api';
/** MFA challenges are JWTs for a different audience: never usable as access tokens, and vice versa. */
const MFA_AUDIENCE = 'liquid-abt-mfa-challenge';
/** The one algorithm tokens are signed and verified with; anything else in a header is refused. */
const ALGORITHM = 'HS256';
/** How far in the future a token's `iat` may be (clock skew between the signing and the verifying process). */
const CLOCK_SKEW_S = 60;

/**
 * HS256 signing keys by key id (`kid` in every token header): `current` signs, every key verifies,
 * so a key can be replaced without logging anyone out (old tokens verify until they expire).
 */
export type JwtKeyRing = { current: string; keys: Record<string, string> };
/** A single secret (JWT_SECRET, tests) or a ring (JWT_KEYS). */
export type JwtKeys = string | JwtKeyRing;
/** The key id a lone JWT_SECRET (or the embedded mode's first secret) has in a ring; tokens without a `kid` verify with it. */
export const LEGACY_KID = 'default';
const KID = /^[A-Za-z0-9_-]{1,64}$/;
/** HS256 needs at least as many key bytes as the hash: shorter secrets are refused at start. */
export const MIN_JWT_SECRET_LENGTH = 32;

export class JwtKeyRingError extends Error {
  readonly code = 'INVALID_JWT_KEYS';
}

/** A lone secret becomes a one-key ring under LEGACY_KID. */
export function jwtKeyRing(keys: JwtKeys): JwtKeyRing {
  return typeof keys === 'string' ? { current: LEGACY_KID, keys: { [LEGACY_KID]: keys } } : keys;
}

/**
 * Parses `JWT_KEYS=kid:secret,kid2:secret2` (the first signs). A JWT_SECRET given as well joins the
 * ring as LEGACY_KID (verify only) unless that id is taken, so moving to a ring logs nobody out.
 * Errors name key ids, never secrets.
 */
export function jwtKeyRingFromEnv(value: string, legacySecret?: string): JwtKeyRing {
  const keys: Record<string, string> = {};
  let current: string | undefined;
  for (const [i, raw] of value.split(',').entries()) {
    const entry = raw.trim();
    const colon = entry.indexOf(':');
    if (colon <= 0) throw new JwtKeyRingError(`JWT_KEYS entry ${i + 1} is not "kid:secret"`);
    const kid = entry.slice(0, colon).trim();
    const secret = entry.slice(colon + 1).trim();
    if (!KID.test(kid)) throw new JwtKeyRingError(`JWT_KEYS entry ${i + 1} has an invalid key id`);
    if (Object.hasOwn(keys, kid)) throw new JwtKeyRingError(`JWT_KEYS key id "${kid}" appears twice`);
    if (secret.length < MIN_JWT_SECRET_LENGTH) throw new JwtKeyRingError(`JWT_KEYS key "${kid}" must be at least ${MIN_JWT_SECRET_LENGTH} characters`);
    keys[kid] = secret;
    current ??= kid;
  }
  if (current === undefined) throw new JwtKeyRingError('JWT_KEYS is empty');
  if (legacySecret !== undefined && !Object.hasOwn(keys, LEGACY_KID)) keys[LEGACY_KID] = legacySecret;
  return { current, keys };
}

const encoded = new Map<string, Uint8Array>();
function keyBytes(secret: string): Uint8Array {
  let k = encoded.get(secret);
  if (!k) {
    k = new TextEncoder().encode(secret);
    if (encoded.size > 64) encoded.clear();
    encoded.set(secret, k);
  }
  return k;
}

function signingKey(keys: JwtKeys): { kid: string; key: Uint8Array } {
  const ring = jwtKeyRing(keys);
  const secret = ring.keys[ring.current];
  if (typeof secret !== 'string') throw new JwtKeyRingError(`the current JWT key "${ring.current}" is not in the ring`);
  return { kid: ring.current, key: keyBytes(secret) };
}

/** jose key lookup by the header's `kid` (absent: LEGACY_KID, for tokens signed before kids existed). */
const verificationKey =
  (keys: JwtKeys) =>
  (header: JWTHeaderParameters): Uint8Array => {
    const ring = jwtKeyRing(keys);
    const kid = header.kid ?? LEGACY_KID;
    const secret = Object.hasOwn(ring.keys, kid) ? ring.keys[kid] : undefined;
    if (secret === undefined) throw unauthenticated('token is invalid');
    return keyBytes(secret);
  };

async function sign(payload: JWTPayload, sub: string, audience: string, ttlS: number, keys: JwtKeys): Promise<string> {
  const { kid, key } = signingKey(keys);
  return new SignJWT(payload)
    .setProtectedHeader({ alg: ALGORITHM, typ: 'JWT', kid })
    .setSubject(sub)
    .setIssuer(ISSUER)
    .setAudience(audience)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlS)
    .sign(key);
}

/**
 * Signature (HS256 only, key chosen by `kid`), issuer, audience, and the presence of `exp`, `iat`
 * and `sub`; a token issued in the future or living longer than `maxLifetimeS` is refused too.
 */
async function verify(token: string, keys: JwtKeys, audience: string, maxLifetimeS: number): Promise<JWTPayload> {
  const { payload } = await jwtVerify(token, verificationKey(keys), {
    issuer: ISSUER,
    audience,
    algorithms: [ALGORITHM],
    requiredClaims: ['exp', 'iat', 'sub', 'aud', 'iss'],
  });
  const { iat, exp } = payload;
  const now = Math.floor(Date.now() / 1000);
  if (typeof iat !== 'number' || typeof exp !== 'number' || iat > now + CLOCK_SKEW_S || exp - iat > maxLifetimeS) {
    throw unauthenticated('token claims are invalid');
  }
  return payload;
}

export async function signAccessToken(claims: AccessClaims, keys: JwtKeys, ttlS = ACCESS_TOKEN_TTL_S): Promise<string> {
  // `ims`: issue time in ms, so a logout-everywhere and a login in the same second are told apart.
  return sign({ tid: claims.tid, role: claims.role, amr: claims.amr, ims: Date.now(), sid: claims.sid }, claims.sub, AUDIENCE, ttlS, keys);
}

const unauthenticated = (message: string): AppError => new AppError(ErrorCode.UNAUTHENTICATED, message);

/** Verifies signature, algorithm, key id, issuer, audience, expiry, issue time and claim shapes; any failure is UNAUTHENTICATED. */
export async function verifyAccessToken(token: string, keys: JwtKeys): Promise<VerifiedAccessClaims> {
  try {
    const payload = await verify(token, keys, AUDIENCE, ACCESS_TOKEN_TTL_S);
    const { sub, tid, role, amr, ims, iat, exp, sid } = payload as Record<string, unknown>;
    if (typeof sub !== 'string' || typeof tid !== 'string' || !ROLES.includes(role as Role) || !Array.isArray(amr) || typeof sid !== 'string') {
      throw unauthenticated('token claims are invalid');
    }
    const issuedAtMs = typeof ims === 'number' && Number.isSafeInteger(ims) ? ims : (iat as number) * 1000;
    return { sub, tid, role: role as Role, amr: amr.filter((a): a is string => typeof a === 'string'), sid, issuedAtMs, expiresAtMs: (exp as number) * 1000 };
  } catch (err) {
    if (err instanceof AppError) throw err;
    if (err instanceof joseErrors.JWTExpired) throw unauthenticated('token has expired');
    throw unauthenticated('token is invalid');
  }
}

/** The key id a token names in its header (for logs and tests; says nothing about validity). */
export function tokenKeyId(token: string): string | undefined {
  try {
    return decodeProtectedHeader(token).kid;
  } catch {
    return undefined;
  }
}

export type MfaChallengeClaims = { sub: string; tid: string };

/** A short-lived proof that the password step passed; only `verifyMfa` accepts it. */
export async function signMfaChallenge(claims: MfaChallengeClaims, keys: JwtKeys, ttlS = MFA_CHALLENGE_TTL_S): Promise<string> {
  return sign({ tid: claims.tid }, claims.sub, MFA_AUDIENCE, ttlS, keys);
}

export async function verifyMfaChallenge(token: string, keys: JwtKeys): Promise<MfaChallengeClaims> {
  try {
    const payload = await verify(token, keys, MFA_AUDIENCE, MFA_CHALLENGE_TTL_S);
    const { sub, tid } = payload as Record<string, unknown>;
    if (typeof sub !== 'string' || typeof tid !== 'string') throw unauthenticated('mfa challenge is invalid');
    return { sub, tid };
  } catch (err) {
    if (err instanceof AppError && err.message !== 'token claims are invalid') throw err;
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
