import type { MikroORM } from '@mikro-orm/postgresql';
import DataLoader from 'dataloader';
import { AppError, ErrorCode, notFound } from './errors';
import { API_KEY_PREFIX, parseApiKey, type ApiKeyScope } from './auth/api-keys';
import { CREDENTIAL_CACHE_TTL_MS, CredentialVerifier } from './auth/credentials';
import { ROLES, bearer, verifyAccessToken, type AccessClaims, type JwtKeys, type Role, type VerifiedAccessClaims } from './auth/tokens';
import { TenantDirectory, isUuid } from './db/tenant-context';
import { SharedReads, TenantTransactions, type TenantTx, type TenantTxOptions } from './db/tenant-tx';
import type { EventBus } from './bus';

export type Principal =
  | {
      kind: 'user';
      userId: string;
      tenantId: string;
      role: Role;
      /** Authentication methods of this session: ['pwd'] or ['pwd', 'otp']. */
      amr: string[];
      /** The tenant demands a second factor for sensitive actions (set when the subgraph verified the token). */
      mfaRequired?: boolean;
    }
  | { kind: 'apiKey'; keyId: string; tenantId: string; scopes: ApiKeyScope[] }
  | { kind: 'anonymous' };

const ALL: readonly Role[] = ['OWNER', 'ADMIN', 'USER', 'VIEWER'];
const MANAGERS: readonly Role[] = ['OWNER', 'ADMIN'];
const OWNER: readonly Role[] = ['OWNER'];

/**
 * The permission matrix: the one place that says which role may do what. docs/access.md is
 * checked against it by lib/access.spec.ts (regenerate it with `ACCESS_DOC=write npx jest lib/access.spec.ts`).
 */
export const PERMISSIONS = {
  'tenant:read': ALL,
  'user:read-self': ALL,
  'member:read': ALL,
  'rule:read': ALL,
  'rule:write': MANAGERS,
  'audit:read': ALL,
  'audit:verify': ALL,
  'price:read': ALL,
  'integration:read': ALL,
  'integration:write': MANAGERS,
  'purchase:read': ALL,
  'purchase:request': ['OWNER', 'ADMIN', 'USER'],
  /** Sell bitcoin from the tenant's holdings on its exchange (a CGT event). */
  'sale:request': MANAGERS,
  /** The address book (bitcoin addresses and xpubs for withdrawals) and withdrawals themselves. */
  'withdrawal:read': ALL,
  /** Add, change, disable destinations; request and cancel withdrawals; set the approval policy. */
  'withdrawal:manage': MANAGERS,
  /** Confirm a destination or approve a withdrawal (the policy's roles, MFA, never one's own). */
  'withdrawal:approve': MANAGERS,
  /** Parcels, disposals, the tax profile and capital-gains reports (and their files). */
  'tax:read': ALL,
  /** Tax profile, history imports, cost-base edits, recorded spends, closing a financial year. */
  'tax:write': MANAGERS,
  /** The tenant's own KYB record and its verification status (#11). */
  'kyb:read': ALL,
  /** Record or update the tenant's legal entity, directors and beneficial owners (#11). */
  'kyb:write': MANAGERS,
  /** Invite members, change roles below OWNER, remove non-owners, list and revoke invitations. */
  'user:manage': MANAGERS,
  'invitation:read': MANAGERS,
  'apikey:read': MANAGERS,
  'apikey:manage': MANAGERS,
  /** Grant, take away or transfer the OWNER role; remove an OWNER. */
  'owner:manage': OWNER,
  /** Tenant security settings such as requireMfaForAdmins. */
  'tenant:security': OWNER,
  /** Ledger connections (Xero, MYOB), account mappings and the journal reconciliation view (#12). */
  'books:read': MANAGERS,
  /** Connect or disconnect a ledger, set its account mapping, retry a journal post (#12). */
  'books:manage': MANAGERS,
  /** Outbound webhook endpoints, their secrets, delivery log and replays (#12). */
  'webhook:manage': MANAGERS,
  /**
   * The compliance officer's live alerts (#11): no tenant role, whatever it is. The officer is a
   * platform role (public.platform_role) the compliance subgraph checks and audits.
   */
  'compliance:alerts': [],
} as const satisfies Record<string, readonly Role[]>;

export type Action = keyof typeof PERMISSIONS;
export const ACTIONS = Object.keys(PERMISSIONS) as Action[];

/** Actions open to anyone, signed in or not: public market data. */
const PUBLIC_ACTIONS: ReadonlySet<Action> = new Set<Action>(['price:read']);

/**
 * Sensitive actions: when the tenant sets requireMfaForAdmins, `require` refuses them with
 * MFA_REQUIRED unless the session's `amr` includes 'otp'. For actions that are only sometimes
 * sensitive (a rule with a large cap), resolvers call `gate.requireSensitive` instead.
 */
export const SENSITIVE_ACTIONS: ReadonlySet<Action> = new Set<Action>([
  'integration:write',
  'withdrawal:manage',
  'user:manage',
  'apikey:manage',
  'owner:manage',
  'tenant:security',
  'books:manage',
  'webhook:manage',
]);

/**
 * Amounts (AUD cents) from which a money action is sensitive: a rule that may move this much in one
 * go, a purchase this large. `gate.requireForAmounts` applies it.
 */
export const SENSITIVE_AMOUNT_CENTS = 1_000_000n;

/** Whether any of these amounts (null/undefined: not given) makes the action sensitive. */
export const isSensitiveAmount = (amounts: readonly (bigint | null | undefined)[]): boolean =>
  amounts.some((v) => v !== null && v !== undefined && v >= SENSITIVE_AMOUNT_CENTS);

/** What each API key scope allows. Keys never manage users, keys, owners or the tenant. */
export const SCOPE_ACTIONS: Record<ApiKeyScope, readonly Action[]> = {
  'read:treasury': ['tenant:read', 'rule:read', 'purchase:read'],
  'write:purchases': ['tenant:read', 'purchase:read', 'purchase:request'],
  'read:compliance': ['tenant:read', 'audit:read', 'audit:verify', 'tax:read'],
  'read:market': ['price:read'],
};
/** Never reachable with an API key, whatever its scopes (checked again at run time). */
export const NEVER_FOR_API_KEYS: ReadonlySet<Action> = new Set<Action>([
  'user:read-self',
  'user:manage',
  'invitation:read',
  'apikey:read',
  'apikey:manage',
  'owner:manage',
  'tenant:security',
]);

export const mayDo = (role: Role, action: Action): boolean => (PERMISSIONS[action] as readonly Role[]).includes(role);

export const scopesAllow = (scopes: readonly ApiKeyScope[], action: Action): boolean =>
  !NEVER_FOR_API_KEYS.has(action) && scopes.some((s) => (SCOPE_ACTIONS[s] ?? []).includes(action));

/** The matrix applied to a caller with no tenant in play: may they do `action` at all? */
export function authorize(p: Principal, action: Action): void {
  if (p.kind === 'anonymous') {
    if (PUBLIC_ACTIONS.has(action)) return;
    throw new AppError(ErrorCode.UNAUTHENTICATED, 'authentication required');
  }
  if (p.kind === 'apiKey') {
    if (PUBLIC_ACTIONS.has(action) || scopesAllow(p.scopes, action)) return;
    throw new AppError(ErrorCode.FORBIDDEN, `this API key's scopes do not allow ${action.replace(':', ' ')}`);
  }
  if (!mayDo(p.role, action)) throw new AppError(ErrorCode.FORBIDDEN, `role ${p.role} may not ${action.replace(':', ' ')}`);
}

/** MFA_REQUIRED when the tenant demands a second factor and this session has none. */
export function assertSecondFactor(p: Principal): void {
  if (p.kind === 'user' && p.mfaRequired === true && !p.amr.includes('otp')) {
    throw new AppError(ErrorCode.MFA_REQUIRED, 'this action needs a session signed in with a second factor (enrol MFA and sign in again)');
  }
}

/** A verified token's claims as the caller every subgraph and the gateway reason about. */
export function principalFromClaims(c: AccessClaims): Principal {
  return { kind: 'user', userId: c.sub, tenantId: c.tid.toLowerCase(), role: c.role, amr: c.amr };
}

/** What a resolver gets once the gate lets it through: who, which tenant, and a scoped transaction. */
export type Scope = {
  /** The acting user's id, or the API key's id when `actor` is 'apiKey' (audit records name it). */
  userId: string;
  tenantId: string;
  /** For an API key: 'VIEWER' (least privilege); keys are authorised by scopes, never by role. */
  role: Role;
  actor: 'user' | 'apiKey';
  amr: string[];
  /** One tenant transaction of this scope's tenant (lib/db/tenant-tx.ts), optionally at another isolation level. */
  tx<T>(fn: (tx: TenantTx) => Promise<T>, opts?: TenantTxOptions): Promise<T>;
  /**
   * A read in this request's shared READ ONLY transaction of the tenant (`SharedReads`): same
   * row-level security as `tx`, one begin/enter/end for all the request's reads. Writes are refused.
   */
  read<T>(fn: (tx: TenantTx) => Promise<T>): Promise<T>;
};

export type GateContext = { principal: Principal };

/** Entities resolved by a subgraph that does not own them, and the tenant table that says which exist. */
export const REFERENCE_TABLES = { BitcoinPurchase: 'purchase', BitcoinSale: 'sale' } as const;
/** Per request (context object): one batched visibility query per entity type. */
const visibility = new WeakMap<object, Map<string, DataLoader<string, boolean>>>();
/** Per request (context object): the shared read transaction of each tenant and acting user. */
const sharedReads = new WeakMap<object, Map<string, SharedReads>>();

/**
 * The single access gate. Every resolver and every __resolveReference asks it; anything of
 * another tenant is "not found" (never "forbidden"), so ids of other tenants leak nothing.
 */
export class AccessGate {
  /** Verifies bearer credentials (JWTs and API keys) for the subgraph this gate serves. */
  readonly credentials: CredentialVerifier;

  /** The tenant transactions every scope of this gate runs in. */
  readonly transactions: TenantTransactions;

  constructor(
    orm: MikroORM,
    readonly directory: TenantDirectory,
    bus?: EventBus,
  ) {
    this.credentials = new CredentialVerifier(orm);
    this.transactions = new TenantTransactions(orm, directory, bus);
  }

  require(ctx: GateContext, action: Action, tenantId?: string): Scope {
    const scope = this.check(ctx, action, tenantId);
    if (SENSITIVE_ACTIONS.has(action)) assertSecondFactor(ctx.principal);
    return scope;
  }

  /**
   * Like `require`, and also demands a second factor when the tenant requires it, whatever the
   * action. For actions sensitive only sometimes, e.g. a treasury rule with a large cap.
   */
  requireSensitive(ctx: GateContext, action: Action, tenantId?: string): Scope {
    const scope = this.check(ctx, action, tenantId);
    assertSecondFactor(ctx.principal);
    return scope;
  }

  /**
   * For money actions sensitive by size: `requireSensitive` when any amount reaches
   * SENSITIVE_AMOUNT_CENTS (a rule's fixed amount or caps, a purchase's amount), else `require`.
   */
  requireForAmounts(ctx: GateContext, action: Action, amounts: readonly (bigint | null | undefined)[], tenantId?: string): Scope {
    return isSensitiveAmount(amounts) ? this.requireSensitive(ctx, action, tenantId) : this.require(ctx, action, tenantId);
  }

  /** For public data: passes anyone, but only for actions the matrix marks public. */
  allowPublic(_ctx: GateContext, action: Action): void {
    if (!PUBLIC_ACTIONS.has(action)) throw new AppError(ErrorCode.FORBIDDEN, `${action} is not public`);
  }

  /** For __resolveReference: null (entity not visible) instead of an error. */
  forReference(ctx: GateContext, action: Action, tenantId: string): Scope | null {
    const p = ctx.principal;
    if (p.kind === 'anonymous' || !isUuid(tenantId) || tenantId.toLowerCase() !== p.tenantId) return null;
    if (p.kind === 'apiKey' ? !scopesAllow(p.scopes, action) : !mayDo(p.role, action)) return null;
    return this.scopeOf(ctx, p);
  }

  /**
   * For a __resolveReference whose entity another subgraph owns (it arrives with @requires fields
   * the caller could have made up): the entity's scope only when the caller's tenant holds that id,
   * asked under row-level security; otherwise null. Ids asked in one request are checked in one query.
   */
  async forOwnedReference(ctx: GateContext, action: Action, type: keyof typeof REFERENCE_TABLES, id: string): Promise<Scope | null> {
    const p = ctx.principal;
    if (p.kind === 'anonymous' || !isUuid(id)) return null;
    const scope = this.forReference(ctx, action, p.tenantId);
    if (!scope) return null;
    let loaders = visibility.get(ctx);
    if (!loaders) {
      loaders = new Map();
      visibility.set(ctx, loaders);
    }
    let loader = loaders.get(type);
    if (!loader) {
      const table = REFERENCE_TABLES[type];
      loader = new DataLoader<string, boolean>(async (ids) => {
        const found = await scope.read(({ em }) => em.execute<{ id: string }[]>(`select id from ${table} where id in (${ids.map(() => '?::uuid').join(', ')})`, [...ids]));
        const seen = new Set(found.map((r) => r.id.toLowerCase()));
        return ids.map((i) => seen.has(i));
      });
      loaders.set(type, loader);
    }
    return (await loader.load(id.toLowerCase())) ? scope : null;
  }

  private check(ctx: GateContext, action: Action, tenantId?: string): Scope {
    const p = ctx.principal;
    if (p.kind === 'anonymous') throw new AppError(ErrorCode.UNAUTHENTICATED, 'authentication required');
    if (tenantId !== undefined && (!isUuid(tenantId) || tenantId.toLowerCase() !== p.tenantId)) throw notFound('tenant');
    authorize(p, action);
    return this.scopeOf(ctx, p);
  }

  private scopeOf(ctx: GateContext, p: Exclude<Principal, { kind: 'anonymous' }>): Scope {
    const tenantId = p.tenantId;
    // The acting user, for the row-level security of public tables keyed by user (refresh_token, mfa_recovery_code).
    const userId = p.kind === 'user' ? p.userId : undefined;
    const read: Scope['read'] = (fn) => {
      let byScope = sharedReads.get(ctx);
      if (!byScope) {
        byScope = new Map();
        sharedReads.set(ctx, byScope);
      }
      const key = `${tenantId}/${userId ?? ''}`;
      let reads = byScope.get(key);
      if (!reads) {
        reads = new SharedReads(this.transactions, tenantId, userId);
        byScope.set(key, reads);
      }
      return reads.read(fn);
    };
    if (p.kind === 'apiKey') {
      const tx: Scope['tx'] = (fn, opts) => this.transactions.run(tenantId, fn, opts);
      return { userId: p.keyId, tenantId, role: 'VIEWER', actor: 'apiKey', amr: [], tx, read };
    }
    const tx: Scope['tx'] = (fn, opts) => this.transactions.run(tenantId, fn, { ...opts, userId });
    return { userId: p.userId, tenantId, role: p.role, actor: 'user', amr: p.amr, tx, read };
  }
}

// ---------------------------------------------------------------------------------------------
// WebSocket subscriptions. The gateway holds no database: it asks the subgraphs, whose gates verify
// the credential with CredentialVerifier exactly as for an HTTP request, through `RemoteAsk`.

/** A query run through the gateway with a caller's credential; the subgraphs' gates answer it. */
export type RemoteAsk = (
  query: string,
  variables: Record<string, unknown>,
  authorization: string | undefined,
) => Promise<{ data?: Record<string, unknown> | null; errors?: readonly { message: string; extensions?: Record<string, unknown> }[] }>;

/** Who a WebSocket connection is, as the gate accepted it at `connection_init`. */
export type SocketCredential = {
  principal: Principal;
  /** The credential as sent (`Bearer …`), forwarded with every query run for this connection; unset for anonymous ones. */
  authorization: string | undefined;
  /** Token expiry (epoch ms): events after it end the subscription. */
  expiresAt: number | undefined;
};

/** A Subscription root field as the gate sees it (gateway/subscriptions/sources.ts describes each). */
export type SubscriptionField = {
  name: string;
  action: Action;
  /**
   * `public`: anyone. `tenant`: the caller's own tenant's events only. `officer`: the platform's
   * compliance officer only (the probe, answered and audited by the compliance subgraph, says who).
   */
  audience: 'public' | 'tenant' | 'officer';
  /** For API keys (scopes live with the subgraphs): a query needing the same permission. */
  probe?: string;
  /** A query whose null answer means the subscription names something the caller may not see. */
  mustSee?: { query: string; variables: Record<string, unknown>; what: string } | null;
  /**
   * `officer` fields: a read-only query (true while the caller holds the platform role) asked again at
   * every re-verification, so revoking the role ends an open feed as fast as a logout ends a session.
   */
  recheck?: string;
};

/** What a re-verification found. */
export type Reverification =
  | { outcome: 'valid' }
  /** Logged out, removed, revoked, expired: the connection ends (graphql-ws 4401). */
  | { outcome: 'revoked'; reason: string }
  /** Still a member, with another role: its subscriptions must not run with the old rights (4403, reconnect). */
  | { outcome: 'changed'; principal: Principal }
  /** The subgraphs could not answer (down, overloaded): nothing learnt. */
  | { outcome: 'unknown'; reason: string };

/** How often a WebSocket's credential is verified again: the credential cache's lifetime, so a revocation reaches a socket as fast as an HTTP request. */
export const SOCKET_RECHECK_MS = CREDENTIAL_CACHE_TTL_MS;

const unauthenticated = (message: string): AppError => new AppError(ErrorCode.UNAUTHENTICATED, message);
const firstCode = (res: Awaited<ReturnType<RemoteAsk>>): string | undefined => {
  const c = res.errors?.[0]?.extensions?.code;
  return typeof c === 'string' ? c : undefined;
};
/** Codes that mean "this credential is not (or no longer) good", as opposed to "could not check". */
const REFUSALS: ReadonlySet<string> = new Set([ErrorCode.UNAUTHENTICATED, ErrorCode.FORBIDDEN, ErrorCode.NOT_FOUND]);

/**
 * The access gate for the gateway's WebSocket path: who may connect, which principal may subscribe
 * to which field and which tenant's channel, and whether a connection's credential still holds.
 */
export class SubscriptionGate {
  constructor(
    private readonly jwtKeys: JwtKeys,
    private readonly ask: RemoteAsk,
  ) {}

  /**
   * `connection_init`: no credential is anonymous; a JWT is checked here (signature, expiry) and
   * then by the subgraphs (membership, role, logout, tokens-valid-after, session), whose current
   * role it takes; an API key is verified by the subgraphs. Throws UNAUTHENTICATED to refuse.
   */
  async connect(given: string | undefined): Promise<SocketCredential> {
    const token = bearer(given);
    if (!token || given === undefined) return { principal: { kind: 'anonymous' }, authorization: undefined, expiresAt: undefined };
    if (token.startsWith(API_KEY_PREFIX)) return this.connectKey(token, given);
    let claims: VerifiedAccessClaims;
    try {
      claims = await verifyAccessToken(token, this.jwtKeys);
    } catch (err) {
      throw err instanceof AppError ? err : unauthenticated('token is invalid');
    }
    const cred: SocketCredential = { principal: principalFromClaims(claims), authorization: given, expiresAt: claims.expiresAtMs };
    const now = await this.reverify(cred);
    if (now.outcome === 'revoked') throw unauthenticated(now.reason);
    if (now.outcome === 'unknown') throw new AppError(ErrorCode.INTERNAL_SERVER_ERROR, 'could not verify the token; try again');
    return now.outcome === 'changed' ? { ...cred, principal: now.principal } : cred;
  }

  private async connectKey(token: string, authorization: string): Promise<SocketCredential> {
    const parsed = parseApiKey(token);
    if (!parsed) throw unauthenticated('API key is malformed');
    const res = await this.ask('{ tenant { id } }', {}, authorization);
    const tenantId = (res.data as { tenant?: { id?: unknown } } | null | undefined)?.tenant?.id;
    // A valid key without a tenant-bound scope (read:market only) may still use the public streams.
    if (typeof tenantId !== 'string' && firstCode(res) === ErrorCode.FORBIDDEN) return { principal: { kind: 'anonymous' }, authorization: undefined, expiresAt: undefined };
    if (typeof tenantId !== 'string') throw unauthenticated('API key is invalid, revoked or expired');
    // Scopes stay with the subgraphs: each subscription is authorised by the field's probe query.
    return {
      principal: { kind: 'apiKey', keyId: `${API_KEY_PREFIX}${parsed.lookup}`, tenantId: tenantId.toLowerCase(), scopes: [] },
      authorization,
      expiresAt: undefined,
    };
  }

  /**
   * May this connection subscribe to `field`? Users and anonymous callers by the matrix, API keys by
   * the subgraphs' answer to the field's probe; a subscription naming one object must name one the
   * caller can see (else NOT_FOUND). Returns the tenant whose channel it may hear: always the
   * credential's own (never an argument), none for public fields.
   */
  async forSubscription(cred: SocketCredential, field: SubscriptionField): Promise<{ tenantId: string | undefined }> {
    const p = cred.principal;
    if (field.audience === 'officer') return this.forOfficer(cred, field);
    if (p.kind === 'apiKey') {
      if (field.probe) {
        const res = await this.ask(field.probe, {}, cred.authorization);
        if (res.errors?.length) {
          throw new AppError(firstCode(res) === ErrorCode.UNAUTHENTICATED ? ErrorCode.UNAUTHENTICATED : ErrorCode.FORBIDDEN, `this API key may not subscribe to ${field.name}`);
        }
      } else if (!PUBLIC_ACTIONS.has(field.action)) {
        throw new AppError(ErrorCode.FORBIDDEN, `this API key may not subscribe to ${field.name}`);
      }
    } else {
      authorize(p, field.action);
    }
    if (field.mustSee) {
      const res = await this.ask(field.mustSee.query, field.mustSee.variables, cred.authorization);
      const answer = res.data ? Object.values(res.data)[0] : undefined;
      if (answer === null || answer === undefined) throw notFound(field.mustSee.what);
    }
    return { tenantId: field.audience === 'tenant' && p.kind !== 'anonymous' ? p.tenantId : undefined };
  }

  /**
   * An officer-only field: anonymous is UNAUTHENTICATED, an API key FORBIDDEN (keys are tenant-bound),
   * a user whatever the compliance subgraph answers to the probe (it checks the platform role and
   * records the start in the platform's audit chain). Tenant roles never decide it. No tenant channel.
   */
  private async forOfficer(cred: SocketCredential, field: SubscriptionField): Promise<{ tenantId: undefined }> {
    const p = cred.principal;
    if (p.kind === 'anonymous') throw unauthenticated('authentication required');
    if (p.kind === 'apiKey' || !field.probe) throw new AppError(ErrorCode.FORBIDDEN, `${field.name} is for the platform's compliance officer`);
    const res = await this.ask(field.probe, {}, cred.authorization);
    const answer = res.data ? Object.values(res.data)[0] : undefined;
    if (res.errors?.length || answer !== true) {
      const code = firstCode(res);
      if (code === ErrorCode.UNAUTHENTICATED) throw unauthenticated('authentication required');
      if (code !== undefined && code !== ErrorCode.FORBIDDEN && code !== ErrorCode.NOT_FOUND) {
        throw new AppError(ErrorCode.INTERNAL_SERVER_ERROR, 'could not verify the compliance officer; try again');
      }
      throw new AppError(ErrorCode.FORBIDDEN, `${field.name} is for the platform's compliance officer`);
    }
    return { tenantId: undefined };
  }

  /**
   * Does the connection's credential still hold, as an HTTP request with it would be judged now?
   * JWTs: the subgraphs verify it (`me`) and name the member's current role. API keys: revocation
   * and expiry (`tenant`). Anonymous connections hold nothing to revoke.
   */
  async reverify(cred: SocketCredential): Promise<Reverification> {
    const p = cred.principal;
    if (p.kind === 'anonymous') return { outcome: 'valid' };
    if (cred.expiresAt !== undefined && cred.expiresAt <= Date.now()) return { outcome: 'revoked', reason: 'token has expired' };
    let res: Awaited<ReturnType<RemoteAsk>>;
    try {
      res = await this.ask(p.kind === 'user' ? '{ me { id role tenantId } }' : '{ tenant { id } }', {}, cred.authorization);
    } catch (err) {
      return { outcome: 'unknown', reason: err instanceof Error ? err.message : 'no answer' };
    }
    const code = firstCode(res);
    if (code !== undefined && REFUSALS.has(code)) return { outcome: 'revoked', reason: res.errors?.[0]?.message ?? 'credential is no longer valid' };
    const firstError = res.errors?.[0];
    if (firstError) return { outcome: 'unknown', reason: firstError.message };
    if (p.kind === 'apiKey') {
      const tenantId = (res.data as { tenant?: { id?: unknown } } | null | undefined)?.tenant?.id;
      return typeof tenantId === 'string' && tenantId.toLowerCase() === p.tenantId ? { outcome: 'valid' } : { outcome: 'revoked', reason: 'API key is invalid, revoked or expired' };
    }
    const me = (res.data as { me?: { id?: unknown; role?: unknown; tenantId?: unknown } } | null | undefined)?.me;
    if (!me || me.id !== p.userId || typeof me.tenantId !== 'string' || me.tenantId.toLowerCase() !== p.tenantId) {
      return { outcome: 'revoked', reason: 'membership no longer exists' };
    }
    if (!ROLES.includes(me.role as Role)) return { outcome: 'unknown', reason: 'unexpected role' };
    const role = me.role as Role;
    return role === p.role ? { outcome: 'valid' } : { outcome: 'changed', principal: { ...p, role } };
  }
}

/**
 * An officer feed's re-check: the subgraph answers `true` while the caller still holds the platform
 * role. A refusal ends the feed; no answer (subgraph down) learns nothing, as for `reverify`.
 */
export async function reverifyOfficer(ask: RemoteAsk, cred: SocketCredential, recheck: string): Promise<Reverification> {
  let res: Awaited<ReturnType<RemoteAsk>>;
  try {
    res = await ask(recheck, {}, cred.authorization);
  } catch (err) {
    return { outcome: 'unknown', reason: err instanceof Error ? err.message : 'no answer' };
  }
  const code = firstCode(res);
  if (code !== undefined && REFUSALS.has(code)) return { outcome: 'revoked', reason: 'no longer the compliance officer' };
  const firstError = res.errors?.[0];
  if (firstError) return { outcome: 'unknown', reason: firstError.message };
  const answer = res.data ? Object.values(res.data)[0] : undefined;
  return answer === true ? { outcome: 'valid' } : { outcome: 'revoked', reason: 'no longer the compliance officer' };
}

/** The matrix as Markdown tables (roles × actions, scopes × actions); docs/access.md embeds exactly this. */
export function permissionMatrixMarkdown(): string {
  const roles: readonly Role[] = ['OWNER', 'ADMIN', 'USER', 'VIEWER'];
  const scopes = Object.keys(SCOPE_ACTIONS) as ApiKeyScope[];
  const yes = (b: boolean): string => (b ? '✅' : '—');
  const lines = [
    `| action | ${roles.join(' | ')} | anonymous | needs MFA when required | API key scopes |`,
    `|---|${roles.map(() => '---').join('|')}|---|---|---|`,
    ...ACTIONS.map((a) => {
      const viaScopes = scopes.filter((s) => scopesAllow([s], a));
      return `| \`${a}\` | ${roles.map((r) => yes(mayDo(r, a))).join(' | ')} | ${yes(PUBLIC_ACTIONS.has(a))} | ${yes(SENSITIVE_ACTIONS.has(a))} | ${
        viaScopes.length ? viaScopes.map((s) => `\`${s}\``).join(', ') : '—'
      } |`;
    }),
  ];
  return lines.join('\n');
}
