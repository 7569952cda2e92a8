import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { expressMiddleware } from '@as-integrations/express5';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { printSchemaWithDirectives } from '@graphql-tools/utils';
import express from 'express';
import type { GraphQLSchema } from 'graphql';
import gql from 'graphql-tag';
import { buildSchema, createResolversMap, type BuildSchemaOptions, type NonEmptyArray } from 'type-graphql';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import type { AccessGate, Principal } from './access';
import { bearer } from './auth/tokens';
import { AppError, ErrorCode, maskError } from './errors';
import { createHttpApp, listen, type Listening, type ReadinessCheck } from './http';
import { accessLogPlugin } from './access-log';
import { log, noteRequest, withCorrelation } from './logger';
import { graphqlDuration, graphqlRequests } from './metrics';

export const FEDERATION_LINK = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key", "@shareable", "@external", "@requires", "@provides"])`;

/** What every subgraph resolver receives: the verified caller, the gate, and the subgraph's services. */
export type SubgraphContext<S = unknown> = {
  principal: Principal;
  correlationId?: string;
  /** The caller's address: the first `x-forwarded-for` hop (set by the gateway / load balancer), else the peer. */
  clientIp?: string;
  gate: AccessGate;
  services: S;
};

/** `__resolveReference` per entity type; each must ask the access gate. */
export type ReferenceResolvers = Record<string, { __resolveReference: (ref: never, ctx: never) => unknown }>;

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
type ResolverClass = Function;

/**
 * type-graphql refuses `@Subscription` fields without a pubSub. Subgraphs only declare their
 * subscription fields; the gateway serves them from the event bus, so this one refuses use.
 */
const GATEWAY_SERVES_SUBSCRIPTIONS: NonNullable<BuildSchemaOptions['pubSub']> = {
  publish: () => {
    throw new Error('subgraphs do not publish through GraphQL; use the event bus');
  },
  subscribe: () => {
    throw new Error('subscriptions are served by the gateway');
  },
};

/**
 * The `subscribe` of every subgraph @Subscription field: declared by the subgraph that owns it so
 * it is part of its SDL and of the supergraph; served by the gateway (graphql-ws, fed by the bus),
 * which resolves fields the event lacks through ordinary federated queries.
 */
export function servedByGateway(): never {
  throw new AppError(ErrorCode.BAD_USER_INPUT, 'subscriptions are served by the gateway over graphql-ws, not by a subgraph');
}

/** type-graphql schema → SDL with federation directives → Apollo subgraph schema (type-graphql's own recipe). */
export async function buildFederatedSchema(
  resolvers: NonEmptyArray<ResolverClass>,
  referenceResolvers: ReferenceResolvers = {},
  orphanedTypes: ResolverClass[] = [],
): Promise<GraphQLSchema> {
  const schema = await buildSchema({ resolvers, orphanedTypes, pubSub: GATEWAY_SERVES_SUBSCRIPTIONS, skipCheck: true, validate: false });
  const map = createResolversMap(schema) as GraphQLResolverMap<unknown>;
  for (const [typeName, extra] of Object.entries(referenceResolvers)) {
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

const metricsPlugin = (service: string): ApolloServerPlugin => ({
  async requestDidStart() {
    const end = graphqlDuration.startTimer({ service });
    return {
      async willSendResponse({ errors }) {
        end();
        graphqlRequests.inc({ service, outcome: errors?.length ? 'error' : 'ok' });
      },
    };
  },
});

/**
 * Resolves the caller from the Authorization header: an access token (JWT, checked against the
 * user's tokens_valid_after and current membership) or an API key (`abt_live_…`). The subgraph
 * never trusts a bare tenant header.
 */
export async function principalFrom(authorization: string | undefined, jwtSecret: string, gate: AccessGate): Promise<Principal> {
  const token = bearer(authorization);
  if (!token) return { kind: 'anonymous' };
  return gate.credentials.principal(token, jwtSecret);
}

export function clientIpOf(forwardedFor: string | undefined, peer: string | undefined): string | undefined {
  const first = forwardedFor?.split(',')[0]?.trim();
  return first && first.length <= 64 ? first : peer;
}

export type SubgraphServerOptions<S> = {
  name: string;
  schema: GraphQLSchema;
  host: string;
  port: number;
  jwtSecret: string;
  gate: AccessGate;
  services: S;
  checks: ReadinessCheck[];
  /** Extra routes (e.g. webhooks) mounted before /graphql. */
  mount?: (app: express.Express) => void;
};

export async function serveSubgraph<S>(opts: SubgraphServerOptions<S>): Promise<Listening> {
  const app = createHttpApp(opts.name, opts.checks);
  app.use((req, _res, next) => withCorrelation(req.header('x-correlation-id'), { service: opts.name }, () => next()));
  opts.mount?.(app);
  const apollo = new ApolloServer<SubgraphContext<S>>({
    schema: opts.schema,
    formatError: maskError,
    includeStacktraceInErrorResponses: false,
    csrfPrevention: true,
    // ops/start.ts owns SIGINT/SIGTERM and stops each server once (Apollo's handler would stop it a second time).
    stopOnTerminationSignals: false,
    plugins: [metricsPlugin(opts.name), accessLogPlugin, ApolloServerPluginInlineTraceDisabled()],
  });
  await apollo.start();
  app.use(
    '/graphql',
    express.json({ limit: '1mb' }),
    expressMiddleware(apollo, {
      context: async ({ req }) => {
        const principal = await principalFrom(req.header('authorization'), opts.jwtSecret, opts.gate);
        if (principal.kind !== 'anonymous') noteRequest({ tenantId: principal.tenantId });
        return {
          principal,
          correlationId: req.header('x-correlation-id'),
          clientIp: clientIpOf(req.header('x-forwarded-for'), req.socket.remoteAddress),
          gate: opts.gate,
          services: opts.services,
        };
      },
    }),
  );
  const listening = await listen(app, opts.host, opts.port);
  log().info({ service: opts.name, url: `${listening.url}/graphql` }, 'subgraph listening');
  return {
    ...listening,
    close: async () => {
      await apollo.stop();
      await listening.close();
    },
  };
}
