import type { TreasuryContext } from '../treasury.context';
import { loadSale, type BitcoinSale } from './sale.resolver';

type Ctx = TreasuryContext;

/** A BitcoinSale another subgraph refers to: only the caller's tenant's, through the gate. */
export const saleReferences = {
  BitcoinSale: {
    async __resolveReference(ref: { id: string }, ctx: Ctx): Promise<BitcoinSale | null> {
      const p = ctx.principal;
      const scope = p.kind !== 'anonymous' ? ctx.gate.forReference(ctx, 'purchase:read', p.tenantId) : null;
      return scope && typeof ref.id === 'string' ? loadSale(scope, ref.id) : null;
    },
  },
};
