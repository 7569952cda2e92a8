import type { GraphQLSchema } from 'graphql';
import { refuseUnstorableArguments } from '../../lib/storable-text';
import { buildFederatedSchema } from '../../lib/subgraph';
import { PaymentEventEffects, PaymentEventEffectsResolver, paymentEventEffectsReferences } from './payment-event.reference';
import { TreasuryRule } from './treasury-rule.entity';
import { ExchangeAttemptRecord, Holding, Purchase, PurchaseTransition } from './purchases/purchase.entity';
import { HoldingResolver, PurchaseResolver, purchaseReferences } from './purchases/purchase.resolver';
import { TenantTreasury, TenantTreasuryResolver, TreasuryRuleResolver, treasuryReferences } from './treasury-rule.resolver';

export const treasuryEntities = [TreasuryRule, Purchase, PurchaseTransition, ExchangeAttemptRecord, Holding];

export async function buildTreasurySchema(): Promise<GraphQLSchema> {
  // Rule names and idempotency keys reach text columns: U+0000 is a BAD_USER_INPUT, not a database error.
  return refuseUnstorableArguments(
    await buildFederatedSchema(
      [TreasuryRuleResolver, TenantTreasuryResolver, PurchaseResolver, HoldingResolver, PaymentEventEffectsResolver],
      { ...treasuryReferences, ...purchaseReferences, ...paymentEventEffectsReferences },
      [TenantTreasury, PaymentEventEffects],
    ),
  );
}
