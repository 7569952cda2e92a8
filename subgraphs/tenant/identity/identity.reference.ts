import type { SubgraphContext } from '../../../lib/subgraph';
import type { Tenant, User } from './tenant.entity';
import type { TenantServices } from './tenant.resolver';

type Ctx = SubgraphContext<TenantServices>;

/** Tenant and User as other subgraphs reference them (`_entities`): each through the gate, "not found" for anything not the caller's. */
export const tenantReferences = {
  Tenant: {
    async __resolveReference(ref: { id: string }, ctx: Ctx): Promise<Tenant | null> {
      const scope = ctx.gate.forReference(ctx, 'tenant:read', ref.id);
      return scope ? ctx.services.auth.tenant(scope.tenantId) : null;
    },
  },
  User: {
    async __resolveReference(ref: { id: string }, ctx: Ctx): Promise<User | null> {
      const p = ctx.principal;
      const scope = p.kind === 'user' ? ctx.gate.forReference(ctx, 'member:read', p.tenantId) : null;
      return scope ? ctx.services.auth.user(scope.tenantId, ref.id) : null;
    },
  },
};
