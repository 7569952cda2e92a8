import type { Ctx, PurchaseParcels } from './purchase-parcels';

type Ref = { id: string };

/** BitcoinPurchase.__resolveReference: only a purchase of the caller's tenant (the gate checks under RLS). */
export const purchaseParcelsReferences = {
  BitcoinPurchase: {
    async __resolveReference(ref: Ref, ctx: Ctx): Promise<PurchaseParcels | null> {
      if (typeof ref.id !== 'string' || !(await ctx.gate.forOwnedReference(ctx, 'tax:read', 'BitcoinPurchase', ref.id))) return null;
      return { id: ref.id };
    },
  },
};
