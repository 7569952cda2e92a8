import { treasuryLoaders } from '../loaders';
import type { TreasuryContext } from '../treasury.context';
import type { TreasuryRule } from './rule.entity';

type Ctx = TreasuryContext;

/** A TreasuryRule another subgraph refers to: only the caller's tenant's, through the gate, batched per request. */
export const ruleReferences = {
  TreasuryRule: {
    async __resolveReference(ref: { id: string }, ctx: Ctx): Promise<TreasuryRule | null> {
      const p = ctx.principal;
      const scope = p.kind !== 'anonymous' ? ctx.gate.forReference(ctx, 'rule:read', p.tenantId) : null;
      return scope && typeof ref.id === 'string' ? treasuryLoaders(ctx, scope).rule.load(ref.id) : null;
    },
  },
};
