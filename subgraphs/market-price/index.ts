import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import { printSchemaWithDirectives } from '@graphql-tools/utils';
import type { GraphQLSchema } from 'graphql';
import gql from 'graphql-tag';
import { buildSchema, createResolversMap, type BuildSchemaOptions } from 'type-graphql';
import { FEDERATION_LINK } from '../../lib/subgraph';
import { PriceTick } from './price-tick.entity';
import { PriceResolver } from './price.resolver';

export const marketPriceEntities = [PriceTick];

/**
 * type-graphql refuses `@Subscription` fields without a pubSub, even when every one of them has
 * its own `subscribe`. This subgraph never streams (the gateway serves its subscriptions from the
 * bus), so it gets one that refuses to be used.
 */
const NO_PUBSUB: NonNullable<BuildSchemaOptions['pubSub']> = {
  publish: () => {
    throw new Error('the market-price subgraph does not publish through GraphQL; use the event bus');
  },
  subscribe: () => {
    throw new Error('subscriptions are served by the gateway');
  },
};

/** lib/subgraph's buildFederatedSchema recipe, plus the pubSub type-graphql needs for `@Subscription`. */
export async function buildMarketPriceSchema(): Promise<GraphQLSchema> {
  const schema = await buildSchema({ resolvers: [PriceResolver], pubSub: NO_PUBSUB, skipCheck: true, validate: false });
  return buildSubgraphSchema({
    typeDefs: gql`
      ${FEDERATION_LINK}
      ${printSchemaWithDirectives(schema)}
    `,
    resolvers: createResolversMap(schema) as GraphQLResolverMap<unknown>,
  });
}
