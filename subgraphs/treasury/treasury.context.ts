import type { SubgraphContext } from '../../lib/subgraph';
import type { PurchaseService } from './purchases/purchase.service';
import type { TreasuryRuleService } from './rules/rule.service';
import type { WithdrawalService } from './withdrawals/service';

/** The services the treasury subgraph's resolvers use. */
export type TreasuryServices = { rules: TreasuryRuleService; purchases: PurchaseService; withdrawals: WithdrawalService };
export type TreasuryContext = SubgraphContext<TreasuryServices>;
