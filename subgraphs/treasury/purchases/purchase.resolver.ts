import { Arg, Ctx, Field, ID, Int, ObjectType, Query, Resolver, Root, Subscription } from 'type-graphql';
import { servedByGateway } from '../../../lib/subgraph';
import { treasuryLoaders } from '../loaders';
import type { TreasuryContext } from '../treasury.context';
import { Purchase, PurchaseStatus } from './purchase.entity';

type Ctx = TreasuryContext;

/** A change of one of the caller's tenant's purchases (the `tenant.<tid>.purchase` event). */
@ObjectType('PurchaseEvent', { description: 'A status change of one of your tenant’s purchases.' })
export class PurchaseEvent {
  @Field(() => ID) purchaseId!: string;
  @Field(() => PurchaseStatus) status!: PurchaseStatus;
  @Field(() => PurchaseStatus, { nullable: true }) previousStatus?: PurchaseStatus | null;
  @Field(() => Date) at!: Date;
  @Field(() => Purchase, { nullable: true, description: 'The purchase as it is when the event is delivered.' })
  purchase?: Purchase | null;
}

@Resolver(() => Purchase)
export class PurchaseResolver {
  @Subscription(() => PurchaseEvent, {
    name: 'purchaseUpdated',
    description: 'Status changes of one purchase of the caller’s tenant, or of all of them when no id is given.',
    subscribe: servedByGateway,
  })
  purchaseUpdated(@Root() event: PurchaseEvent, @Arg('purchaseId', () => ID, { nullable: true }) _purchaseId?: string): PurchaseEvent {
    return event;
  }

  @Query(() => [Purchase], { description: 'The caller’s tenant’s purchases, newest first.' })
  purchases(
    @Ctx() ctx: Ctx,
    @Arg('status', () => PurchaseStatus, { nullable: true }) status?: PurchaseStatus | null,
    @Arg('limit', () => Int, { defaultValue: 50 }) limit = 50,
  ): Promise<Purchase[]> {
    return ctx.services.purchases.list(ctx.gate.require(ctx, 'purchase:read'), status ?? null, limit);
  }

  @Query(() => Purchase, { nullable: true })
  purchase(@Ctx() ctx: Ctx, @Arg('id', () => ID) id: string): Promise<Purchase | null> {
    const scope = ctx.gate.require(ctx, 'purchase:read');
    return treasuryLoaders(ctx, scope).purchase.load(id);
  }
}
