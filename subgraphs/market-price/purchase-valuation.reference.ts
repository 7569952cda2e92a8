import type { Ctx, PurchaseValuation } from './purchase-valuation';

const INTEGER = /^-?\d{1,30}$/;

export const marketPriceReferences = {
  BitcoinPurchase: {
    /**
     * The representation's satoshis and costAudCents come from whoever sent it: the gate must find
     * the purchase in the caller's tenant (under row-level security) before anything is valued.
     */
    async __resolveReference(ref: { id: string; satoshis?: string; costAudCents?: string }, ctx: Ctx): Promise<PurchaseValuation | null> {
      if (typeof ref.id !== 'string' || !(await ctx.gate.forOwnedReference(ctx, 'purchase:read', 'BitcoinPurchase', ref.id))) return null;
      const { satoshis, costAudCents } = ref;
      if (typeof satoshis !== 'string' || typeof costAudCents !== 'string' || !INTEGER.test(satoshis) || !INTEGER.test(costAudCents)) return null;
      return { id: ref.id, satoshis: BigInt(satoshis), costAudCents: BigInt(costAudCents) };
    },
  },
};
