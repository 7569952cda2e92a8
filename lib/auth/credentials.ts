import type { MikroORM } from '@mikro-orm/postgresql';
import type { Principal } from '../access';
import { AppError, ErrorCode } from '../errors';
import { log } from '../logger';
import { isUuid } from '../uuid';
import { apiKeySecretMatches, isApiKeyScope, looksLikeApiKey, parseApiKey, type ApiKeyScope } from './api-keys';
import { ROLES, verifyAccessToken, type JwtKeys, type Role } from './tokens';

const unauthenticated = (message: string): AppError => new AppError(ErrorCode.UNAUTHENTICATED, message);

/** How long a subgraph trusts what it read about a user or key (revocations reach every process within it). */
export const CREDENTIAL_CACHE_TTL_MS = 5_000;
/** last_used_at of an API key is written at most this often. */
export const API_KEY_TOUCH_INTERVAL_MS = 60_000;
const MAX_ENTRIES = 50_000;

type UserState = {
  at: number;
  exists: boolean;
  validAfterMs: number | null;
  role: Role | null;
  mfaRequired: boolean;
  sessionRevoked: boolean;
  /** The token's session (refresh-token family) belongs to this user in this tenant. */
  sessionBound: boolean;
};
type KeyState = {
  at: number;
  row: {
    id: string;
    tenantId: string;
    scopes: ApiKeyScope[];
    secretHash: string;
    expiresAtMs: number | null;
    revoked: boolean;
    lastUsedAtMs: number | null;
  } | null;
};

// Per process, shared by every subgraph this process serves, so a revocation made by the tenant
// subgraph is seen at once by its neighbours here and within the TTL by other processes.
const users = new Map<string, UserState>();
const keys = new Map<string, KeyState>();

const bounded = <V>(m: Map<string, V>): void => {
  if (m.size > MAX_ENTRIES) m.clear();
};

/** Drops what this process remembers about a user (after a logout, a role change or a removal). */
export function forgetUser(userId: string): void {
  for (const k of users.keys()) if (k.startsWith(`${userId}:`)) users.delete(k);
}
/** Drops what this process remembers about a tenant's members (after a security setting changes). */
export function forgetTenant(tenantId: string): void {
  for (const k of users.keys()) if (k.endsWith(`:${tenantId}`)) users.delete(k);
}
/** Drops a cached API key (after revocation). */
export function forgetApiKey(lookup: string): void {
  keys.delete(lookup);
}

type Sql = { execute<T>(sql: string, params?: unknown[]): Promise<T> };

/**
 * Turns a bearer credential into a Principal. JWTs: signature and expiry, then the user's current
 * state in this tenant (tokens_valid_after, membership and role, the tenant's MFA demand), cached
 * for a few seconds. API keys: lookup prefix, constant-time secret check, revocation and expiry.
 */
export class CredentialVerifier {
  constructor(
    private readonly orm: MikroORM,
    private readonly ttlMs = CREDENTIAL_CACHE_TTL_MS,
  ) {}

  private sql(): Sql {
    const conn = this.orm.em.fork().getConnection();
    return { execute: <T>(sql: string, params?: unknown[]) => conn.execute(sql, params ?? []) as Promise<T> };
  }

  async principal(token: string, jwtKeys: JwtKeys): Promise<Principal> {
    if (looksLikeApiKey(token)) return this.apiKey(token);
    const claims = await verifyAccessToken(token, jwtKeys);
    const tenantId = claims.tid.toLowerCase();
    if (!isUuid(claims.sub) || !isUuid(tenantId) || !isUuid(claims.sid)) throw unauthenticated('token claims are invalid');
    const state = await this.userState(claims.sub, tenantId, claims.sid.toLowerCase());
    if (!state.exists) throw unauthenticated('token is invalid');
    // A session id is only good for the user and tenant it was issued to (a token naming another user's session is refused).
    if (!state.sessionBound) throw unauthenticated('token is invalid');
    if (state.validAfterMs !== null && claims.issuedAtMs < state.validAfterMs) throw unauthenticated('token has been revoked');
    if (state.sessionRevoked) throw unauthenticated('session has been logged out');
    if (state.role === null) throw unauthenticated('membership no longer exists');
    // The role is the membership's current one: a demotion applies within the cache TTL, not in 24 h.
    return { kind: 'user', userId: claims.sub, tenantId, role: state.role, amr: claims.amr, mfaRequired: state.mfaRequired };
  }

  private async userState(userId: string, tenantId: string, sid: string): Promise<UserState> {
    const key = `${userId}:${sid}:${tenantId}`;
    const hit = users.get(key);
    if (hit && Date.now() - hit.at < this.ttlMs) return hit;
    const rows = await this.sql().execute<{ tva: string | null; role: string | null; mfa: boolean | null; bound: boolean; revoked: boolean }[]>(
      `select (extract(epoch from u.tokens_valid_after) * 1000)::bigint::text as tva, m.role, t.require_mfa_for_admins as mfa,
              s.n > 0 as bound, coalesce(s.revoked, false) as revoked
         from public.app_user u
         left join public.membership m on m.user_id = u.id and m.tenant_id = ?
         left join public.tenant t on t.id = ?
         cross join lateral (select count(*) as n, bool_or(r.revoked_at is not null) as revoked
                               from public.refresh_token r
                              where r.family_id = ?::uuid and r.user_id = u.id and r.tenant_id = ?) s
        where u.id = ?`,
      [tenantId, tenantId, sid, tenantId, userId],
    );
    const row = rows[0];
    const state: UserState = {
      at: Date.now(),
      exists: row !== undefined,
      validAfterMs: row?.tva ? Number(row.tva) : null,
      role: row && ROLES.includes(row.role as Role) ? (row.role as Role) : null,
      mfaRequired: row?.mfa === true,
      sessionRevoked: row?.revoked === true,
      sessionBound: row?.bound === true,
    };
    bounded(users);
    users.set(key, state);
    return state;
  }

  private async apiKey(token: string): Promise<Principal> {
    const parsed = parseApiKey(token);
    if (!parsed) throw unauthenticated('API key is invalid');
    let state = keys.get(parsed.lookup);
    if (!state || Date.now() - state.at >= this.ttlMs) {
      const rows = await this.sql().execute<
        { id: string; tenant_id: string; scopes: string[]; secret_hash: string; exp: string | null; revoked: boolean; used: string | null }[]
      >(
        `select id, tenant_id, scopes, secret_hash, (extract(epoch from expires_at) * 1000)::bigint::text as exp,
                revoked_at is not null as revoked, (extract(epoch from last_used_at) * 1000)::bigint::text as used
           from public.api_key where lookup = ?`,
        [parsed.lookup],
      );
      const r = rows[0];
      state = {
        at: Date.now(),
        row: r
          ? {
              id: r.id,
              tenantId: r.tenant_id,
              scopes: r.scopes.filter(isApiKeyScope),
              secretHash: r.secret_hash,
              expiresAtMs: r.exp ? Number(r.exp) : null,
              revoked: r.revoked,
              lastUsedAtMs: r.used ? Number(r.used) : null,
            }
          : null,
      };
      bounded(keys);
      keys.set(parsed.lookup, state);
    }
    const row = state.row;
    if (!row || !apiKeySecretMatches(parsed.secret, row.secretHash)) throw unauthenticated('API key is invalid');
    if (row.revoked) throw unauthenticated('API key has been revoked');
    if (row.expiresAtMs !== null && row.expiresAtMs <= Date.now()) throw unauthenticated('API key has expired');
    if (row.lastUsedAtMs === null || Date.now() - row.lastUsedAtMs >= API_KEY_TOUCH_INTERVAL_MS) {
      row.lastUsedAtMs = Date.now();
      void this.sql()
        .execute(
          `update public.api_key set last_used_at = now()
            where id = ? and (last_used_at is null or last_used_at < now() - interval '1 minute')`,
          [row.id],
        )
        .catch((err: Error) => log().warn({ err: err.message }, 'could not record API key use'));
    }
    return { kind: 'apiKey', keyId: row.id, tenantId: row.tenantId, scopes: row.scopes };
  }
}
