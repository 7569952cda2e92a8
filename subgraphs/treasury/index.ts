import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import { printSchemaWithDirectives } from '@graphql-tools/utils';
import type { GraphQLSchema } from 'graphql';
import gql from 'graphql-tag';
import { buildSchema, createResolversMap, type BuildSchemaOptions } from 'type-graphql';
import { FEDERATION_LINK } from '../../lib/subgraph';
import { TreasuryRule } from './treasury-rule.entity';
import { TenantTreasuryResolver, TreasuryRuleResolver, TenantTreasury, treasuryReferences } from './treasury-rule.resolver';

export const treasuryEntities = [TreasuryRule];

/**
 * type-graphql refuses `@Subscription` fields without a pubSub, even when every one of them has
 * its own `subscribe`. This subgraph never streams (the gateway serves its subscriptions from the
 * bus), so it gets one that refuses to be used.
 */
const NO_PUBSUB: NonNullable<BuildSchemaOptions['pubSub']> = {
  publish: () => {
    throw new Error('the treasury subgraph does not publish through GraphQL; use the event bus');
  },
  subscribe: () => {
    throw new Error('subscriptions are served by the gateway');
  },
};

/** lib/subgraph's buildFederatedSchema recipe, plus the pubSub type-graphql needs for `@Subscription`. */
export async function buildTreasurySchema(): Promise<GraphQLSchema> {
  const schema = await buildSchema({
    resolvers: [TreasuryRuleResolver, TenantTreasuryResolver],
    orphanedTypes: [TenantTreasury],
    pubSub: NO_PUBSUB,
    skipCheck: true,
    validate: false,
  });
  const map = createResolversMap(schema) as GraphQLResolverMap<unknown>;
  for (const [typeName, extra] of Object.entries(treasuryReferences)) {
    map[typeName] = { ...(map[typeName] as object), ...extra } as GraphQLResolverMap<unknown>[string];
  }
  return buildSubgraphSchema({
    typeDefs: gql`
      ${FEDERATION_LINK}
      ${printSchemaWithDirectives(schema)}
    `,
    resolvers: map,
  });
}
