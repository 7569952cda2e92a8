import { Arg, Ctx, ID, Mutation, Resolver } from 'type-graphql';
import { AudCentsScalar } from '../../../lib/money';
import type { TreasuryContext } from '../treasury.context';
import { Purchase } from './purchase.entity';

type Ctx = TreasuryContext;

@Resolver(() => Purchase)
export class PurchaseMutationsResolver {
  @Mutation(() => Purchase, {
    description:
      'Buys bitcoin now for amountAudCents. Idempotent per tenant like Stripe: the same key and amount return the same purchase; the same key with another amount is refused.',
  })
  requestPurchase(
    @Ctx() ctx: Ctx,
    @Arg('amountAudCents', () => AudCentsScalar) amountAudCents: bigint,
    @Arg('idempotencyKey', () => String) idempotencyKey: string,
  ): Promise<Purchase> {
    const scope = ctx.gate.requireForAmounts(ctx, 'purchase:request', [amountAudCents]);
    return ctx.services.purchases.request(scope, amountAudCents, idempotencyKey);
  }

  @Mutation(() => Purchase, { description: 'Cancels a purchase that has not been sent to an exchange yet.' })
  cancelPurchase(@Ctx() ctx: Ctx, @Arg('id', () => ID) id: string): Promise<Purchase> {
    return ctx.services.purchases.cancel(ctx.gate.require(ctx, 'purchase:request'), id);
  }
}
