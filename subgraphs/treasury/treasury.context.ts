import type { SubgraphContext } from '../../lib/subgraph';
import type { PurchaseService } from './purchases/purchase.service';
import type { TreasuryRuleService } from './rules/rule.service';

/** The services the treasury subgraph's resolvers use. */
export type TreasuryServices = { rules: TreasuryRuleService; purchases: PurchaseService };
export type TreasuryContext = SubgraphContext<TreasuryServices>;
