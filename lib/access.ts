import type { MikroORM } from '@mikro-orm/postgresql';
import DataLoader from 'dataloader';
import { AppError, ErrorCode, notFound } from './errors';
import type { ApiKeyScope } from './auth/api-keys';
import { CredentialVerifier } from './auth/credentials';
import type { AccessClaims, Role } from './auth/tokens';
import { TenantDirectory, isUuid } from './db/tenant-context';
import { TenantTransactions, type TenantTx } from './db/tenant-tx';
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
  /** Invite members, change roles below OWNER, remove non-owners, list and revoke invitations. */
  'user:manage': MANAGERS,
  'invitation:read': MANAGERS,
  'apikey:read': MANAGERS,
  'apikey:manage': MANAGERS,
  /** Grant, take away or transfer the OWNER role; remove an OWNER. */
  'owner:manage': OWNER,
  /** Tenant security settings such as requireMfaForAdmins. */
  'tenant:security': OWNER,
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
  'user:manage',
  'apikey:manage',
  'owner:manage',
  'tenant:security',
]);

/** What each API key scope allows. Keys never manage users, keys, owners or the tenant. */
export const SCOPE_ACTIONS: Record<ApiKeyScope, readonly Action[]> = {
  'read:treasury': ['tenant:read', 'rule:read', 'purchase:read'],
  'write:purchases': ['tenant:read', 'purchase:read', 'purchase:request'],
  'read:compliance': ['tenant:read', 'audit:read', 'audit:verify'],
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
  /** One tenant transaction of this scope's tenant (lib/db/tenant-tx.ts). */
  tx<T>(fn: (tx: TenantTx) => Promise<T>): Promise<T>;
};

export type GateContext = { principal: Principal };

/** Entities resolved by a subgraph that does not own them, and the tenant table that says which exist. */
export const REFERENCE_TABLES = { BitcoinPurchase: 'purchase' } as const;
/** Per request (context object): one batched visibility query per entity type. */
const visibility = new WeakMap<object, Map<string, DataLoader<string, boolean>>>();

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

  /** For public data: passes anyone, but only for actions the matrix marks public. */
  allowPublic(_ctx: GateContext, action: Action): void {
    if (!PUBLIC_ACTIONS.has(action)) throw new AppError(ErrorCode.FORBIDDEN, `${action} is not public`);
  }

  /** For __resolveReference: null (entity not visible) instead of an error. */
  forReference(ctx: GateContext, action: Action, tenantId: string): Scope | null {
    const p = ctx.principal;
    if (p.kind === 'anonymous' || !isUuid(tenantId) || tenantId.toLowerCase() !== p.tenantId) return null;
    if (p.kind === 'apiKey' ? !scopesAllow(p.scopes, action) : !mayDo(p.role, action)) return null;
    return this.scopeOf(p);
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
        const found = await scope.tx(({ em }) => em.execute<{ id: string }[]>(`select id from ${table} where id in (${ids.map(() => '?::uuid').join(', ')})`, [...ids]));
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
    return this.scopeOf(p);
  }

  private scopeOf(p: Exclude<Principal, { kind: 'anonymous' }>): Scope {
    const tenantId = p.tenantId;
    const tx: Scope['tx'] = (fn) => this.transactions.run(tenantId, fn);
    return p.kind === 'user'
      ? { userId: p.userId, tenantId, role: p.role, actor: 'user', amr: p.amr, tx }
      : { userId: p.keyId, tenantId, role: 'VIEWER', actor: 'apiKey', amr: [], tx };
  }
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
