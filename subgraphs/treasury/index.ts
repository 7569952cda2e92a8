import type { GraphQLSchema } from 'graphql';
import { buildFederatedSchema } from '../../lib/subgraph';
import { TreasuryRule } from './treasury-rule.entity';
import { TenantTreasury, TenantTreasuryResolver, TreasuryRuleResolver, treasuryReferences } from './treasury-rule.resolver';

export const treasuryEntities = [TreasuryRule];

export function buildTreasurySchema(): Promise<GraphQLSchema> {
  return buildFederatedSchema([TreasuryRuleResolver, TenantTreasuryResolver], treasuryReferences, [TenantTreasury]);
}
