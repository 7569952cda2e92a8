import { Arg, Ctx, Field, ID, Int, ObjectType, Query, Resolver, Root, Subscription } from 'type-graphql';
import { servedByGateway } from '../../../lib/subgraph';
import { treasuryLoaders } from '../loaders';
import type { TreasuryContext } from '../treasury.context';
import { TreasuryRule } from './rule.entity';

type Ctx = TreasuryContext;

/** One change to one of the caller's tenant's treasury rules (the `tenant.<tid>.rule` event). */
@ObjectType('TreasuryEvent', { description: 'A change to one of your tenant’s treasury rules.' })
export class TreasuryEvent {
  @Field(() => ID) ruleId!: string;
  @Field(() => String, {
    description: 'CREATED, UPDATED, ENABLED, DISABLED, DELETED; FIRED (it created a purchase) or LIMIT_REACHED (a cap held a purchase back).',
  })
  change!: string;
  @Field(() => Int, { description: 'The rule’s version after the change.' }) ruleVersion!: number;
  @Field(() => TreasuryRule, { nullable: true, description: 'The rule as it is when the event is delivered; null once deleted.' })
  rule?: TreasuryRule | null;
}

@Resolver(() => TreasuryRule)
export class TreasuryRuleResolver {
  @Subscription(() => TreasuryEvent, {
    name: 'treasuryEvents',
    description: 'Changes to the caller’s tenant’s treasury rules, live. The tenant is the signed-in one; it cannot be chosen.',
    subscribe: servedByGateway,
  })
  treasuryEvents(@Root() event: TreasuryEvent): TreasuryEvent {
    return event;
  }

  @Query(() => [TreasuryRule], { description: 'The caller’s tenant’s treasury rules, oldest first.' })
  treasuryRules(@Ctx() ctx: Ctx): Promise<TreasuryRule[]> {
    return ctx.services.rules.list(ctx.gate.require(ctx, 'rule:read'));
  }

  @Query(() => TreasuryRule, { nullable: true })
  treasuryRule(@Ctx() ctx: Ctx, @Arg('id', () => ID) id: string): Promise<TreasuryRule | null> {
    return treasuryLoaders(ctx, ctx.gate.require(ctx, 'rule:read')).rule.load(id);
  }
}
