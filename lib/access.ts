import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { AppError, ErrorCode, notFound } from './errors';
import type { AccessClaims, Role } from './auth/tokens';
import { TenantDirectory, isUuid, withTenant } from './db/tenant-context';

export type Principal =
  | { kind: 'user'; userId: string; tenantId: string; role: Role; amr: string[] }
  | { kind: 'anonymous' };

const ALL: readonly Role[] = ['OWNER', 'ADMIN', 'USER', 'VIEWER'];
const MANAGERS: readonly Role[] = ['OWNER', 'ADMIN'];

/** The permission matrix: the one place that says which role may do what. */
export const PERMISSIONS = {
  'tenant:read': ALL,
  'user:read-self': ALL,
  'rule:read': ALL,
  'rule:write': MANAGERS,
  'audit:read': ALL,
  'audit:verify': ALL,
  'price:read': ALL,
  'integration:read': ALL,
  'integration:write': MANAGERS,
  'purchase:read': ALL,
  'purchase:request': ['OWNER', 'ADMIN', 'USER'],
} as const satisfies Record<string, readonly Role[]>;

/** Actions open to anyone, signed in or not: public market data. */
const PUBLIC_ACTIONS: ReadonlySet<Action> = new Set<Action>(['price:read']);
export type Action = keyof typeof PERMISSIONS;

export const mayDo = (role: Role, action: Action): boolean => (PERMISSIONS[action] as readonly Role[]).includes(role);

/** The matrix applied to a caller with no tenant in play: may they do `action` at all? */
export function authorize(p: Principal, action: Action): void {
  if (p.kind !== 'user') {
    if (PUBLIC_ACTIONS.has(action)) return;
    throw new AppError(ErrorCode.UNAUTHENTICATED, 'authentication required');
  }
  if (!mayDo(p.role, action)) throw new AppError(ErrorCode.FORBIDDEN, `role ${p.role} may not ${action.replace(':', ' ')}`);
}

/** A verified token's claims as the caller every subgraph and the gateway reason about. */
export function principalFromClaims(c: AccessClaims): Principal {
  return { kind: 'user', userId: c.sub, tenantId: c.tid.toLowerCase(), role: c.role, amr: c.amr };
}

/** What a resolver gets once the gate lets it through: who, which tenant, and a scoped transaction. */
export type Scope = {
  userId: string;
  tenantId: string;
  role: Role;
  tx<T>(fn: (em: EntityManager) => Promise<T>): Promise<T>;
};

export type GateContext = { principal: Principal };

/**
 * The single access gate. Every resolver and every __resolveReference asks it; anything of
 * another tenant is "not found" (never "forbidden"), so ids of other tenants leak nothing.
 */
export class AccessGate {
  constructor(
    private readonly orm: MikroORM,
    readonly directory: TenantDirectory,
  ) {}

  require(ctx: GateContext, action: Action, tenantId?: string): Scope {
    const p = ctx.principal;
    if (p.kind !== 'user') throw new AppError(ErrorCode.UNAUTHENTICATED, 'authentication required');
    if (tenantId !== undefined && (!isUuid(tenantId) || tenantId.toLowerCase() !== p.tenantId)) throw notFound('tenant');
    authorize(p, action);
    return this.scope(p.userId, p.tenantId, p.role);
  }

  /** For public data: passes anyone, but only for actions the matrix marks public. */
  allowPublic(_ctx: GateContext, action: Action): void {
    if (!PUBLIC_ACTIONS.has(action)) throw new AppError(ErrorCode.FORBIDDEN, `${action} is not public`);
  }

  /** For __resolveReference: null (entity not visible) instead of an error. */
  forReference(ctx: GateContext, action: Action, tenantId: string): Scope | null {
    const p = ctx.principal;
    if (p.kind !== 'user' || !isUuid(tenantId) || tenantId.toLowerCase() !== p.tenantId) return null;
    if (!mayDo(p.role, action)) return null;
    return this.scope(p.userId, p.tenantId, p.role);
  }

  private scope(userId: string, tenantId: string, role: Role): Scope {
    return { userId, tenantId, role, tx: (fn) => withTenant(this.orm, this.directory, tenantId, fn) };
  }
}
