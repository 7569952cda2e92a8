import { Arg, Ctx, Field, FieldResolver, ID, InputType, Int, Mutation, ObjectType, Query, Resolver, Root, Subscription } from 'type-graphql';
import { AudCentsScalar, averagePriceAudPerBtc, DecimalScalar } from '../../../lib/money';
import { servedByGateway, type SubgraphContext } from '../../../lib/subgraph';
import { TreasuryRule } from '../treasury-rule.entity';
import { SENSITIVE_AMOUNT_CENTS } from '../treasury-rule.resolver';
import type { TreasuryRuleService } from '../treasury-rule.service';
import { ExchangeAttemptRecord, Holding, Purchase, PurchaseFunding, PurchaseStatus, PurchaseTransition } from './purchase.entity';
import type { PurchaseService } from './purchase.service';

export type PurchaseServices = { rules: TreasuryRuleService; purchases: PurchaseService };
type Ctx = SubgraphContext<PurchaseServices>;

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

@ObjectType('TreasurySettings', { description: 'Where a tenant’s purchases are routed, and its daily cut-off.' })
export class TreasurySettings {
  @Field(() => String, { description: 'paper (default, simulated), kraken, swyftx or zerocap.' }) primaryExchange!: string;
  @Field(() => [String]) failoverExchanges!: string[];
  @Field(() => String, { description: 'Local time (tenant timezone) when small accruals are flushed, HH:MM.' }) cutoffLocalTime!: string;
}

@InputType('TreasurySettingsPatch')
export class TreasurySettingsPatch {
  @Field(() => String, { nullable: true }) primaryExchange?: string | null;
  @Field(() => [String], { nullable: true }) failoverExchanges?: string[] | null;
  @Field(() => String, { nullable: true }) cutoffLocalTime?: string | null;
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
    return ctx.services.purchases.get(ctx.gate.require(ctx, 'purchase:read'), id);
  }

  @Query(() => [Holding], { description: 'Bitcoin held per exchange, with cost base and fees.' })
  holdings(@Ctx() ctx: Ctx): Promise<Holding[]> {
    return ctx.services.purchases.holdings(ctx.gate.require(ctx, 'purchase:read'));
  }

  @Query(() => TreasurySettings)
  treasurySettings(@Ctx() ctx: Ctx): Promise<TreasurySettings> {
    return ctx.services.purchases.settings(ctx.gate.require(ctx, 'rule:read'));
  }

  @Mutation(() => TreasurySettings)
  updateTreasurySettings(@Ctx() ctx: Ctx, @Arg('patch', () => TreasurySettingsPatch) patch: TreasurySettingsPatch): Promise<TreasurySettings> {
    // Where the money goes is sensitive: a second factor where the tenant requires MFA.
    return ctx.services.purchases.updateSettings(ctx.gate.requireSensitive(ctx, 'rule:write'), patch);
  }

  @Mutation(() => Purchase, {
    description:
      'Buys bitcoin now for amountAudCents. Idempotent per tenant like Stripe: the same key and amount return the same purchase; the same key with another amount is refused.',
  })
  requestPurchase(
    @Ctx() ctx: Ctx,
    @Arg('amountAudCents', () => AudCentsScalar) amountAudCents: bigint,
    @Arg('idempotencyKey', () => String) idempotencyKey: string,
  ): Promise<Purchase> {
    const scope =
      amountAudCents >= SENSITIVE_AMOUNT_CENTS ? ctx.gate.requireSensitive(ctx, 'purchase:request') : ctx.gate.require(ctx, 'purchase:request');
    return ctx.services.purchases.request(scope, amountAudCents, idempotencyKey);
  }

  @Mutation(() => Purchase, { description: 'Cancels a purchase that has not been sent to an exchange yet.' })
  cancelPurchase(@Ctx() ctx: Ctx, @Arg('id', () => ID) id: string): Promise<Purchase> {
    return ctx.services.purchases.cancel(ctx.gate.require(ctx, 'purchase:request'), id);
  }

  @FieldResolver(() => [PurchaseTransition])
  transitions(@Root() p: Purchase, @Ctx() ctx: Ctx): Promise<PurchaseTransition[]> {
    return ctx.services.purchases.transitions(ctx.gate.require(ctx, 'purchase:read', p.tenantId), p.id);
  }

  @FieldResolver(() => [ExchangeAttemptRecord], { description: 'Every call made to an exchange for this purchase, failovers included.' })
  exchangeAttempts(@Root() p: Purchase, @Ctx() ctx: Ctx): Promise<ExchangeAttemptRecord[]> {
    return ctx.services.purchases.attempts(ctx.gate.require(ctx, 'purchase:read', p.tenantId), p.id);
  }

  @FieldResolver(() => [PurchaseFunding], {
    description: 'The payments whose accrued shares this purchase took, oldest first, net of what it returned unspent: why it happened.',
  })
  fundedBy(@Root() p: Purchase, @Ctx() ctx: Ctx): Promise<PurchaseFunding[]> {
    return ctx.services.purchases.funding(ctx.gate.require(ctx, 'purchase:read', p.tenantId), p.id);
  }

  @FieldResolver(() => TreasuryRule, { nullable: true })
  rule(@Root() p: Purchase, @Ctx() ctx: Ctx): Promise<TreasuryRule | null> {
    return p.ruleId ? ctx.services.rules.get(ctx.gate.require(ctx, 'rule:read', p.tenantId), p.ruleId) : Promise.resolve(null);
  }

  @FieldResolver(() => AudCentsScalar, { description: 'What the bitcoin cost, fees included (its CGT cost base).' })
  costAudCents(@Root() p: Purchase): bigint {
    return p.spentAudCents + p.feeAudCents;
  }
}

@Resolver(() => Holding)
export class HoldingResolver {
  @FieldResolver(() => DecimalScalar, { nullable: true, description: 'Average price paid, fees included: AUD per BTC, to the cent (half up).' })
  averagePrice(@Root() h: Holding): string | null {
    return averagePriceAudPerBtc(h.costBaseAudCents, h.sats);
  }
}

export const purchaseReferences = {
  BitcoinPurchase: {
    async __resolveReference(ref: { id: string }, ctx: Ctx): Promise<Purchase | null> {
      const p = ctx.principal;
      const scope = p.kind !== 'anonymous' ? ctx.gate.forReference(ctx, 'purchase:read', p.tenantId) : null;
      return scope ? ctx.services.purchases.get(scope, ref.id) : null;
    },
  },
};
