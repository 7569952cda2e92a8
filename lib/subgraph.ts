import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { expressMiddleware } from '@as-integrations/express5';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { printSchemaWithDirectives } from '@graphql-tools/utils';
import express from 'express';
import type { IncomingMessage } from 'node:http';
import { Kind, type DocumentNode, type GraphQLSchema, type SelectionNode } from 'graphql';
import gql from 'graphql-tag';
import { buildSchema, createResolversMap, type BuildSchemaOptions, type NonEmptyArray } from 'type-graphql';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import type { AccessGate, Principal } from './access';
import { GATEWAY_SIGNATURE_HEADER, verifyGatewayRequest } from './auth/gateway-signature';
import { bearer, type JwtKeys } from './auth/tokens';
import { AppError, ErrorCode, maskError } from './errors';
import { createHttpApp, listen, type Listening, type ReadinessCheck } from './http';
import { accessLogPlugin } from './access-log';
import { log, noteRequest, withCorrelation } from './logger';
import { graphqlDuration, graphqlRequests, recordSecurityEvent } from './metrics';
import { hideSuggestions } from './suggestions';
import { graphqlTracingPlugin } from './tracing';

export const FEDERATION_LINK = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key", "@shareable", "@external", "@requires", "@provides"])`;

/** What every subgraph resolver receives: the verified caller, the gate, and the subgraph's services. */
export type SubgraphContext<S = unknown> = {
  principal: Principal;
  correlationId?: string;
  /** The caller's address: the first `x-forwarded-for` hop (set by the gateway / load balancer), else the peer. */
  clientIp?: string;
  gate: AccessGate;
  services: S;
  /** The request carries the gateway's signature (lib/auth/gateway-signature.ts): it was planned by the gateway. */
  viaGateway?: boolean;
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
  requestDidStart() {
    const end = graphqlDuration.startTimer({ service });
    return Promise.resolve({
      willSendResponse({ errors }) {
        end();
        graphqlRequests.inc({ service, outcome: errors?.length ? 'error' : 'ok' });
        return Promise.resolve();
      },
    });
  },
});

/**
 * Resolves the caller from the Authorization header: an access token (JWT, checked against the
 * user's tokens_valid_after and current membership) or an API key (`abt_live_…`). The subgraph
 * never trusts a bare tenant header.
 */
export async function principalFrom(authorization: string | undefined, jwtSecret: JwtKeys, gate: AccessGate): Promise<Principal> {
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
  /** The JWT key ring (or one secret) every access token is verified with. */
  jwtSecret: JwtKeys;
  gate: AccessGate;
  services: S;
  checks: ReadinessCheck[];
  /** Extra routes (e.g. webhooks) mounted before /graphql. */
  mount?: (app: express.Express) => void;
  /** No introspection, no suggestions, and only the gateway or authenticated callers. Default: NODE_ENV=production. */
  production?: boolean;
  /** Secrets the gateway signs its requests with (GATEWAY_SECRET; the first signs, all verify). */
  gatewaySecrets?: readonly string[];
};

/** Root fields only the gateway needs: the subgraph's SDL and entity resolution. */
const FEDERATION_FIELDS = new Set(['_service', '_entities']);

function rootFields(selections: readonly SelectionNode[], document: DocumentNode, seen = new Set<string>()): string[] {
  return selections.flatMap((sel) => {
    if (sel.kind === Kind.FIELD) return [sel.name.value];
    if (sel.kind === Kind.INLINE_FRAGMENT) return rootFields(sel.selectionSet.selections, document, seen);
    if (seen.has(sel.name.value)) return [];
    seen.add(sel.name.value);
    const def = document.definitions.find((d) => d.kind === Kind.FRAGMENT_DEFINITION && d.name.value === sel.name.value);
    return def?.kind === Kind.FRAGMENT_DEFINITION ? rootFields(def.selectionSet.selections, document, seen) : [];
  });
}

/** In production `_service` and `_entities` answer the gateway alone (composition reads the code, never a live `_service`). */
const federationFieldsForTheGateway = (production: boolean): ApolloServerPlugin<SubgraphContext<unknown>> => ({
  requestDidStart() {
    return Promise.resolve({
      didResolveOperation({ operation, document, contextValue }) {
        if (!production || contextValue.viaGateway || !operation) return Promise.resolve();
        if (rootFields(operation.selectionSet.selections, document).some((f) => FEDERATION_FIELDS.has(f))) {
          return Promise.reject(new AppError(ErrorCode.FORBIDDEN, '_service and _entities are answered to the gateway only'));
        }
        return Promise.resolve();
      },
    });
  },
});

type RawBodyRequest = IncomingMessage & { rawBody?: Buffer };

export async function serveSubgraph<S>(opts: SubgraphServerOptions<S>): Promise<Listening> {
  const app = createHttpApp(opts.name, opts.checks);
  app.use((req, _res, next) => withCorrelation(req.header('x-correlation-id'), { service: opts.name }, () => next()));
  opts.mount?.(app);
  const production = opts.production ?? process.env.NODE_ENV === 'production';
  const secrets = opts.gatewaySecrets ?? [];
  const apollo = new ApolloServer<SubgraphContext<S>>({
    schema: opts.schema,
    formatError: production ? (f, e) => hideSuggestions(maskError(f, e)) : maskError,
    includeStacktraceInErrorResponses: false,
    csrfPrevention: true,
    introspection: !production,
    // ops/start.ts owns SIGINT/SIGTERM and stops each server once (Apollo's handler would stop it a second time).
    stopOnTerminationSignals: false,
    plugins: [
      metricsPlugin(opts.name),
      accessLogPlugin,
      graphqlTracingPlugin,
      ApolloServerPluginInlineTraceDisabled(),
      federationFieldsForTheGateway(production),
    ],
  });
  await apollo.start();
  app.use(
    '/graphql',
    // The exact bytes are kept for the gateway's signature, which covers them.
    express.json({ limit: '1mb', verify: (req: RawBodyRequest, _res, buf) => void (req.rawBody = buf) }),
    (req, res, next) => {
      const signature = req.header(GATEWAY_SIGNATURE_HEADER);
      const viaGateway = verifyGatewayRequest(secrets, opts.name, (req as RawBodyRequest).rawBody, signature);
      if (signature !== undefined && !viaGateway) {
        log().warn({ service: opts.name }, 'subgraph request with a gateway signature that does not verify');
        recordSecurityEvent('gateway_signature_invalid');
      }
      res.locals.viaGateway = viaGateway;
      // Production subgraphs answer the gateway, or a caller with a credential (verified next, like every request's).
      if (production && !viaGateway && !req.header('authorization')) {
        res.status(401).json({ errors: [{ message: 'this subgraph answers the gateway or authenticated callers only', extensions: { code: ErrorCode.UNAUTHENTICATED } }] });
        return;
      }
      next();
    },
    expressMiddleware(apollo, {
      context: async ({ req, res }) => {
        const principal = await principalFrom(req.header('authorization'), opts.jwtSecret, opts.gate);
        if (principal.kind !== 'anonymous') noteRequest({ tenantId: principal.tenantId });
        return {
          viaGateway: res.locals.viaGateway === true,
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
    // Stop accepting and drain first, then Apollo: a request still in flight is answered, not refused.
    close: async () => {
      await listening.close();
      await apollo.stop();
    },
  };
}
