import { Ctx, Directive, Field, FieldResolver, ID, ObjectType, Resolver, Root } from 'type-graphql';
import type { SubgraphContext } from '../../../lib/subgraph';
import { replayHistory } from './parcel-ledger';
import { TaxParcelGql } from './tax.resolver';
import { loadHistory } from './tax.store';
import type { Parcel } from './tax.types';

export type Ctx = SubgraphContext;

/** The tax ledger's view of a purchase (owned by treasury): the parcels its fills created. */
@ObjectType('BitcoinPurchase')
@Directive('@key(fields: "id")')
export class PurchaseParcels {
  @Field(() => ID) id!: string;
}

/** The tenant's parcels held now, replayed once per request however many purchases ask. */
const held = new WeakMap<Ctx, Promise<Parcel[]>>();

@Resolver(() => PurchaseParcels)
export class PurchaseParcelsResolver {
  @FieldResolver(() => [TaxParcelGql], {
    description: 'The tax parcels of this purchase still held (one per fill; a part moved to another wallet is a parcel of its own), cost bases after any edit.',
  })
  async parcels(@Root() p: PurchaseParcels, @Ctx() ctx: Ctx): Promise<TaxParcelGql[]> {
    const scope = ctx.gate.require(ctx, 'tax:read');
    let all = held.get(ctx);
    if (!all) {
      all = scope.tx(async (tx) => {
        const { history, profile } = await loadHistory(tx);
        return replayHistory(history, profile).parcels;
      });
      held.set(ctx, all);
    }
    return (await all).filter((parcel) => parcel.purchaseId === p.id);
  }
}
