import type { GraphQLSchema } from 'graphql';
import { buildFederatedSchema } from '../../lib/subgraph';
import { PriceTick } from './price-tick.entity';
import { PriceResolver } from './price.resolver';

export const marketPriceEntities = [PriceTick];

export function buildMarketPriceSchema(): Promise<GraphQLSchema> {
  return buildFederatedSchema([PriceResolver]);
}
