import { Arg, Ctx, Directive, Field, FieldResolver, ID, Int, Mutation, ObjectType, Query, Resolver, Root, Subscription } from 'type-graphql';
import type { Scope } from '../../lib/access';
import { servedByGateway, type SubgraphContext } from '../../lib/subgraph';
import { TreasuryRule } from './treasury-rule.entity';
import { TreasuryRuleInput, TreasuryRulePatch } from './treasury-rule.input';
import type { PurchaseServices } from './purchases/purchase.resolver';
import { Holding, Purchase } from './purchases/purchase.entity';

export type TreasuryServices = PurchaseServices;
type Ctx = SubgraphContext<TreasuryServices>;

/** Treasury's view of a tenant: it adds the tenant's rules. */
@ObjectType('Tenant')
@Directive('@key(fields: "id")')
export class TenantTreasury {
  @Field(() => ID) id!: string;
}

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


type Amounts = Pick<TreasuryRuleInput, 'amountAudCents' | 'maxPerPurchaseAudCents' | 'dailyCapAudCents' | 'monthlyCapAudCents'>;

/** The gate decides whether amounts this large need a second factor (lib/access.ts SENSITIVE_AMOUNT_CENTS). */
function ruleWriteScope(ctx: Ctx, r: Amounts): Scope {
  return ctx.gate.requireForAmounts(ctx, 'rule:write', [r.amountAudCents, r.maxPerPurchaseAudCents, r.dailyCapAudCents, r.monthlyCapAudCents]);
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
    return ctx.services.rules.get(ctx.gate.require(ctx, 'rule:read'), id);
  }

  @Mutation(() => TreasuryRule)
  createTreasuryRule(@Ctx() ctx: Ctx, @Arg('input', () => TreasuryRuleInput) input: TreasuryRuleInput): Promise<TreasuryRule> {
    return ctx.services.rules.create(ruleWriteScope(ctx, input), input);
  }

  @Mutation(() => TreasuryRule)
  updateTreasuryRule(
    @Ctx() ctx: Ctx,
    @Arg('id', () => ID) id: string,
    @Arg('patch', () => TreasuryRulePatch) patch: TreasuryRulePatch,
  ): Promise<TreasuryRule> {
    return ctx.services.rules.update(ruleWriteScope(ctx, patch), id, patch);
  }

  @Mutation(() => TreasuryRule)
  enableTreasuryRule(@Ctx() ctx: Ctx, @Arg('id', () => ID) id: string): Promise<TreasuryRule> {
    return ctx.services.rules.setEnabled(ctx.gate.require(ctx, 'rule:write'), id, true);
  }

  @Mutation(() => TreasuryRule)
  disableTreasuryRule(@Ctx() ctx: Ctx, @Arg('id', () => ID) id: string): Promise<TreasuryRule> {
    return ctx.services.rules.setEnabled(ctx.gate.require(ctx, 'rule:write'), id, false);
  }

  @Mutation(() => ID, { description: 'Deletes the rule and returns its id.' })
  deleteTreasuryRule(@Ctx() ctx: Ctx, @Arg('id', () => ID) id: string): Promise<string> {
    return ctx.services.rules.delete(ctx.gate.require(ctx, 'rule:write'), id);
  }
}

@Resolver(() => TenantTreasury)
export class TenantTreasuryResolver {
  @FieldResolver(() => [TreasuryRule])
  treasuryRules(@Root() tenant: TenantTreasury, @Ctx() ctx: Ctx): Promise<TreasuryRule[]> {
    return ctx.services.rules.list(ctx.gate.require(ctx, 'rule:read', tenant.id));
  }

  @FieldResolver(() => [Purchase], { description: 'The tenant’s latest purchases, newest first.' })
  purchases(@Root() tenant: TenantTreasury, @Ctx() ctx: Ctx, @Arg('limit', () => Int, { defaultValue: 50 }) limit: number): Promise<Purchase[]> {
    return ctx.services.purchases.list(ctx.gate.require(ctx, 'purchase:read', tenant.id), null, limit);
  }

  @FieldResolver(() => [Holding])
  holdings(@Root() tenant: TenantTreasury, @Ctx() ctx: Ctx): Promise<Holding[]> {
    return ctx.services.purchases.holdings(ctx.gate.require(ctx, 'purchase:read', tenant.id));
  }
}

export const treasuryReferences = {
  Tenant: {
    __resolveReference(ref: { id: string }, ctx: Ctx): TenantTreasury | null {
      return ctx.gate.forReference(ctx, 'rule:read', ref.id) ? { id: ref.id } : null;
    },
  },
  TreasuryRule: {
    async __resolveReference(ref: { id: string }, ctx: Ctx): Promise<TreasuryRule | null> {
      const p = ctx.principal;
      const scope = p.kind !== 'anonymous' ? ctx.gate.forReference(ctx, 'rule:read', p.tenantId) : null;
      return scope ? ctx.services.rules.get(scope, ref.id) : null;
    },
  },
};
