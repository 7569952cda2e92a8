import { treasuryLoaders } from '../loaders';
import type { TreasuryContext } from '../treasury.context';
import type { Purchase } from './purchase.entity';

type Ctx = TreasuryContext;

/** A BitcoinPurchase another subgraph refers to: only the caller's tenant's, through the gate, batched per request. */
export const purchaseReferences = {
  BitcoinPurchase: {
    async __resolveReference(ref: { id: string }, ctx: Ctx): Promise<Purchase | null> {
      const p = ctx.principal;
      const scope = p.kind !== 'anonymous' ? ctx.gate.forReference(ctx, 'purchase:read', p.tenantId) : null;
      // An `_entities` call resolves many purchases at once: one query for all of them.
      return scope && typeof ref.id === 'string' ? treasuryLoaders(ctx, scope).purchase.load(ref.id) : null;
    },
  },
};
