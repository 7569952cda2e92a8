import { Ctx, FieldResolver, Resolver, Root } from 'type-graphql';
import { AudCentsScalar } from '../../../lib/money';
import { treasuryLoaders } from '../loaders';
import { TreasuryRule } from '../rules/rule.entity';
import type { TreasuryContext } from '../treasury.context';
import { ExchangeAttemptRecord, Purchase, PurchaseFunding, PurchaseTransition } from './purchase.entity';

type Ctx = TreasuryContext;

/** Fields of a purchase read from other rows: batched per request (DataLoader), never one query per purchase. */
@Resolver(() => Purchase)
export class PurchaseFieldsResolver {
  @FieldResolver(() => [PurchaseTransition])
  transitions(@Root() p: Purchase, @Ctx() ctx: Ctx): Promise<PurchaseTransition[]> {
    return treasuryLoaders(ctx, ctx.gate.require(ctx, 'purchase:read', p.tenantId)).transitions.load(p.id);
  }

  @FieldResolver(() => [ExchangeAttemptRecord], { description: 'Every call made to an exchange for this purchase, failovers included.' })
  exchangeAttempts(@Root() p: Purchase, @Ctx() ctx: Ctx): Promise<ExchangeAttemptRecord[]> {
    return treasuryLoaders(ctx, ctx.gate.require(ctx, 'purchase:read', p.tenantId)).attempts.load(p.id);
  }

  @FieldResolver(() => [PurchaseFunding], {
    description: 'The payments whose accrued shares this purchase took, oldest first, net of what it returned unspent: why it happened.',
  })
  fundedBy(@Root() p: Purchase, @Ctx() ctx: Ctx): Promise<PurchaseFunding[]> {
    return treasuryLoaders(ctx, ctx.gate.require(ctx, 'purchase:read', p.tenantId)).funding.load(p.id);
  }

  @FieldResolver(() => TreasuryRule, { nullable: true })
  rule(@Root() p: Purchase, @Ctx() ctx: Ctx): Promise<TreasuryRule | null> {
    return p.ruleId ? treasuryLoaders(ctx, ctx.gate.require(ctx, 'rule:read', p.tenantId)).rule.load(p.ruleId) : Promise.resolve(null);
  }

  @FieldResolver(() => AudCentsScalar, { description: 'What the bitcoin cost, fees included (its CGT cost base).' })
  costAudCents(@Root() p: Purchase): bigint {
    return p.spentAudCents + p.feeAudCents;
  }
}
