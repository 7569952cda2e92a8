import type { GraphQLSchema } from 'graphql';
import { buildFederatedSchema } from '../../lib/subgraph';
import { TreasuryRule } from './treasury-rule.entity';
import { ExchangeAttemptRecord, Holding, Purchase, PurchaseTransition } from './purchases/purchase.entity';
import { HoldingResolver, PurchaseResolver, purchaseReferences } from './purchases/purchase.resolver';
import { TenantTreasury, TenantTreasuryResolver, TreasuryRuleResolver, treasuryReferences } from './treasury-rule.resolver';

export const treasuryEntities = [TreasuryRule, Purchase, PurchaseTransition, ExchangeAttemptRecord, Holding];

export function buildTreasurySchema(): Promise<GraphQLSchema> {
  return buildFederatedSchema([TreasuryRuleResolver, TenantTreasuryResolver, PurchaseResolver, HoldingResolver], { ...treasuryReferences, ...purchaseReferences }, [
    TenantTreasury,
  ]);
}
