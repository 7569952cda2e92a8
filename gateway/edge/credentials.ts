import type { RequestHandler } from 'express';
import { bearer, verifyAccessToken, type JwtKeys } from '../../lib/auth/tokens';
import { EdgeCode, EdgeError, sendEdgeError } from './errors';

/**
 * Partner API keys (contract with the subgraphs, which verify them):
 * `Authorization: Bearer abt_live_<12-char base62 lookup prefix>_<secret>`.
 * The gateway never verifies the secret, never logs it and never keys anything on it: it only
 * recognises the shape and uses `abt_live_<prefix>` as the key's public identity.
 */
export const API_KEY_PREFIX = 'abt_live_';
const API_KEY_FORMAT = /^abt_live_([0-9A-Za-z]{12})_([0-9A-Za-z_-]{16,256})$/;

/** Who is calling, as far as the gateway can tell without a database. */
export type Caller =
  | { kind: 'anonymous' }
  | { kind: 'user'; userId: string; tenantId: string }
  /** `keyId` is `abt_live_<prefix>`: safe to log and to key rate limits on. */
  | { kind: 'apiKey'; keyId: string };

/** `abt_live_<prefix>` for a well-formed partner key; undefined when the token is not in the key format. */
export function apiKeyId(token: string): string | undefined {
  const m = API_KEY_FORMAT.exec(token);
  return m ? `${API_KEY_PREFIX}${m[1]}` : undefined;
}

const unauthenticated = (message: string): EdgeError => new EdgeError(EdgeCode.UNAUTHENTICATED, message, 401);

/**
 * Reads the Authorization header. A JWT is verified at the door (the subgraphs verify it again);
 * a partner key is only checked for shape (its secret is verified by the subgraphs).
 */
export async function identifyCaller(authorization: string | undefined, jwtSecret: JwtKeys): Promise<Caller> {
  let token: string | undefined;
  try {
    token = bearer(authorization);
  } catch {
    throw unauthenticated('authorization header must be "Bearer <token>"');
  }
  if (!token) return { kind: 'anonymous' };
  if (token.startsWith(API_KEY_PREFIX)) {
    const keyId = apiKeyId(token);
    if (!keyId) throw unauthenticated('API key is malformed');
    return { kind: 'apiKey', keyId };
  }
  try {
    const claims = await verifyAccessToken(token, jwtSecret);
    return { kind: 'user', userId: claims.sub, tenantId: claims.tid };
  } catch (err) {
    throw unauthenticated(err instanceof Error ? err.message : 'token is invalid');
  }
}

/** Express middleware: sets `res.locals.caller`, or answers 401 UNAUTHENTICATED. */
export function identify(jwtSecret: JwtKeys): RequestHandler {
  return (req, res, next) => {
    identifyCaller(req.header('authorization'), jwtSecret).then(
      (caller) => {
        res.locals.caller = caller;
        next();
      },
      (err: unknown) => sendEdgeError(res, err instanceof EdgeError ? err : unauthenticated('token is invalid')),
    );
  };
}

export function callerOf(locals: Record<string, unknown>): Caller {
  return (locals.caller as Caller | undefined) ?? { kind: 'anonymous' };
}
