import type { GraphQLSchema } from 'graphql';
import { refuseUnstorableArguments } from '../../lib/storable-text';
import { buildFederatedSchema } from '../../lib/subgraph';
// Import order is the order of types and fields in the published schema (type-graphql registers them as modules load).
import { PaymentEventEffects, PaymentEventEffectsResolver, paymentEventEffectsReferences } from './payment-event.reference';
import { TreasuryRule } from './rules/rule.entity';
import { ExchangeAttemptRecord, Holding, Purchase, PurchaseTransition } from './purchases/purchase.entity';
import { TreasuryRuleResolver } from './rules/rule.resolver';
import { ruleReferences } from './rules/rule.reference';
import { TreasuryRuleMutationsResolver } from './rules/rule-mutations.resolver';
import { TenantTreasury, TenantTreasuryResolver, tenantTreasuryReferences } from './tenant-treasury.reference';
import { PurchaseResolver } from './purchases/purchase.resolver';
import { purchaseReferences } from './purchases/purchase.reference';
import { HoldingResolver } from './purchases/holding.resolver';
import { TreasurySettingsResolver } from './settings/treasury-settings.resolver';
import { PurchaseMutationsResolver } from './purchases/purchase-mutations.resolver';
import { PurchaseFieldsResolver } from './purchases/purchase-fields.resolver';
import { WithdrawalResolver } from './withdrawals/resolvers';
import { SaleResolver } from './sales/sale.resolver';
import { saleReferences } from './sales/sale.reference';

/** The treasury module's public surface (what module.ts, the workers and tests use). */
export { RuleEngine, type ApplyOutcome, type EngineOptions } from './rules/rule-engine';
export { TreasuryRuleService } from './rules/rule.service';
export { PurchaseService } from './purchases/purchase.service';
export { PurchaseExecutor, RetryLater, type ExecutorOptions } from './purchases/purchase-executor';
export { ScheduleRunner } from './schedules/schedule-runner';
export type { PricePort } from './schedules/price.port';
export type { PaymentFacts } from './ledger/payment-accrual';
export { TreasuryScheduler, TENANT_PROFILE_JOB, schedulesProcessor, type SchedulerOptions } from './jobs/scheduler';
export { paymentEventsProcessor } from './jobs/payment-events.processor';
export { purchasesProcessor } from './jobs/purchases.processor';
export { LatestPrice } from './jobs/market-prices';
export type { TreasuryServices } from './treasury.context';

export const treasuryEntities = [TreasuryRule, Purchase, PurchaseTransition, ExchangeAttemptRecord, Holding];

export async function buildTreasurySchema(): Promise<GraphQLSchema> {
  // Rule names and idempotency keys reach text columns: U+0000 is a BAD_USER_INPUT, not a database error.
  return refuseUnstorableArguments(
    await buildFederatedSchema(
      [
        TreasuryRuleResolver,
        TreasuryRuleMutationsResolver,
        TenantTreasuryResolver,
        PurchaseResolver,
        HoldingResolver,
        TreasurySettingsResolver,
        PurchaseMutationsResolver,
        PurchaseFieldsResolver,
        PaymentEventEffectsResolver,
        WithdrawalResolver,
        SaleResolver,
      ],
      { ...tenantTreasuryReferences, ...ruleReferences, ...purchaseReferences, ...paymentEventEffectsReferences, ...saleReferences },
      [TenantTreasury, PaymentEventEffects],
    ),
  );
}
