import { Arg, Ctx, Directive, Field, FieldResolver, ID, Int, ObjectType, Resolver, Root } from 'type-graphql';
import { Holding, Purchase } from './purchases/purchase.entity';
import { TreasuryRule } from './rules/rule.entity';
import type { TreasuryContext } from './treasury.context';

type Ctx = TreasuryContext;

/** Treasury's view of a tenant: it adds the tenant's rules. */
@ObjectType('Tenant')
@Directive('@key(fields: "id")')
export class TenantTreasury {
  @Field(() => ID) id!: string;
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

export const tenantTreasuryReferences = {
  Tenant: {
    __resolveReference(ref: { id: string }, ctx: Ctx): TenantTreasury | null {
      return ctx.gate.forReference(ctx, 'rule:read', ref.id) ? { id: ref.id } : null;
    },
  },
};
