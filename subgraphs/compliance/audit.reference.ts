import type { SubgraphContext } from '../../lib/subgraph';
import type { TenantAudit } from './audit.resolver';

type Ctx = SubgraphContext;

/** The compliance side of a Tenant: visible to the caller's own tenant only, through the gate. */
export const complianceReferences = {
  Tenant: {
    __resolveReference(ref: { id: string }, ctx: Ctx): TenantAudit | null {
      return ctx.gate.forReference(ctx, 'audit:read', ref.id) ? { id: ref.id } : null;
    },
  },
};
