import { Arg, Ctx, Directive, Field, FieldResolver, ID, Mutation, ObjectType, Query, Resolver, Root } from 'type-graphql';
import type { SubgraphContext } from '../../lib/subgraph';
import { TreasuryRule } from './treasury-rule.entity';
import { TreasuryRuleInput, TreasuryRulePatch } from './treasury-rule.input';
import type { TreasuryRuleService } from './treasury-rule.service';

export type TreasuryServices = { rules: TreasuryRuleService };
type Ctx = SubgraphContext<TreasuryServices>;

/** Treasury's view of a tenant: it adds the tenant's rules. */
@ObjectType('Tenant')
@Directive('@key(fields: "id")')
export class TenantTreasury {
  @Field(() => ID) id!: string;
}

@Resolver(() => TreasuryRule)
export class TreasuryRuleResolver {
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
    return ctx.services.rules.create(ctx.gate.require(ctx, 'rule:write'), input);
  }

  @Mutation(() => TreasuryRule)
  updateTreasuryRule(
    @Ctx() ctx: Ctx,
    @Arg('id', () => ID) id: string,
    @Arg('patch', () => TreasuryRulePatch) patch: TreasuryRulePatch,
  ): Promise<TreasuryRule> {
    return ctx.services.rules.update(ctx.gate.require(ctx, 'rule:write'), id, patch);
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
      const scope = p.kind === 'user' ? ctx.gate.forReference(ctx, 'rule:read', p.tenantId) : null;
      return scope ? ctx.services.rules.get(scope, ref.id) : null;
    },
  },
};
