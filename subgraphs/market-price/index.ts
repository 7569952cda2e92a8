import type { GraphQLSchema } from 'graphql';
import { buildFederatedSchema } from '../../lib/subgraph';
import { PriceTick } from './price-tick.entity';
import { PriceResolver } from './price.resolver';
import { PurchaseValuation, PurchaseValuationResolver } from './purchase-valuation';
import { marketPriceReferences } from './purchase-valuation.reference';

export const marketPriceEntities = [PriceTick];

export function buildMarketPriceSchema(): Promise<GraphQLSchema> {
  return buildFederatedSchema([PriceResolver, PurchaseValuationResolver], marketPriceReferences, [PurchaseValuation]);
}
