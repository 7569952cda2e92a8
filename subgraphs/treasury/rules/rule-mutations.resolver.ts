import { Arg, Ctx, ID, Mutation, Resolver } from 'type-graphql';
import type { Scope } from '../../../lib/access';
import type { TreasuryContext } from '../treasury.context';
import { TreasuryRule } from './rule.entity';
import { TreasuryRuleInput, TreasuryRulePatch } from './rule.input';

type Ctx = TreasuryContext;

type Amounts = Pick<TreasuryRuleInput, 'amountAudCents' | 'maxPerPurchaseAudCents' | 'dailyCapAudCents' | 'monthlyCapAudCents'>;

/** The gate decides whether amounts this large need a second factor (lib/access.ts SENSITIVE_AMOUNT_CENTS). */
function ruleWriteScope(ctx: Ctx, r: Amounts): Scope {
  return ctx.gate.requireForAmounts(ctx, 'rule:write', [r.amountAudCents, r.maxPerPurchaseAudCents, r.dailyCapAudCents, r.monthlyCapAudCents]);
}

@Resolver(() => TreasuryRule)
export class TreasuryRuleMutationsResolver {
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
