import { ApolloGateway, RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import type { LocalObjectStore } from '../lib/storage/local-store';
import { filesRoute } from './files';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import express from 'express';
import { GraphQLError, OperationTypeNode, type GraphQLSchema } from 'graphql';
import type { Fetcher, FetcherResponse } from '@apollo/utils.fetcher';
import type { RedisClient as Redis } from '../lib/redis'; // a node or a Redis Cluster
import type { JwtKeys } from '../lib/auth/tokens';
import type { EventBus } from '../lib/bus';
import { createHttpApp, listen, type Listening, type ReadinessCheck } from '../lib/http';
import { accessLogPlugin } from '../lib/access-log';
import { currentCorrelationId, log, noteRequest, withCorrelation } from '../lib/logger';
import { buildEdge, type Caller, type EdgeOptions } from './edge';
import { deduplicated } from './edge/subgraph-dedupe';
import { signedBy } from './edge/subgraph-signature';
import { tracedSubgraph } from './subgraph-tracing';
import { graphqlTracingPlugin } from '../lib/tracing';
import { explorer } from './explorer';
import { dashboard } from './web';
import type { QueryRunner } from './subscriptions/execution';
import { attachSubscriptions, type SubscriptionLimits, type SubscriptionServer } from './subscriptions/server';
import { oauthCallbackProxy } from './oauth-callback';
import { webhookProxy } from './webhooks';

export type GatewayContext = {
  authorization?: string;
  correlationId?: string;
  caller?: Caller;
  /** The client's address as the gateway sees it (after `trustProxy`); subgraphs throttle logins by it. */
  clientIp?: string;
};

/** Passes the caller's own credential to each subgraph, which verifies it again. */
class CredentialForwardingDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  override willSendRequest(options: GraphQLDataSourceProcessOptions<GatewayContext>): void {
    const { request } = options;
    // Only an incoming operation carries the caller's context; health checks and schema loads carry none.
    const context: GatewayContext = 'incomingRequestContext' in options ? options.context : {};
    if (context.authorization) request.http?.headers.set('authorization', context.authorization);
    const correlationId = context.correlationId ?? currentCorrelationId();
    if (correlationId) request.http?.headers.set('x-correlation-id', correlationId);
    // Always set by the gateway (never the client's own header passed through), so a subgraph's
    // per-IP login throttling sees the real caller rather than the gateway.
    if (context.clientIp) request.http?.headers.set('x-forwarded-for', context.clientIp);
  }

  /** A subgraph's 4xx carries its own (already masked) coded error: pass that on, not "400: Bad Request". */
  override async errorFromResponse(response: FetcherResponse): Promise<GraphQLError> {
    const fallback = await super.errorFromResponse(response);
    const body = (fallback.extensions.response as { body?: unknown } | undefined)?.body;
    const first = (body as { errors?: { message?: unknown; extensions?: { code?: unknown } }[] } | undefined)?.errors?.[0];
    if (response.status < 500 && typeof first?.message === 'string' && typeof first.extensions?.code === 'string') {
      return new GraphQLError(first.message, { extensions: { code: first.extensions.code } });
    }
    return fallback;
  }
}

/**
 * What HTTP can run: exactly the operation the request names (else a 400, not the gateway's planner
 * failing with a 500), and never a subscription — those are served over WebSocket on the same path.
 */
const httpOperations: ApolloServerPlugin<GatewayContext> = {
  async requestDidStart() {
    return {
      async didResolveOperation({ operation, request }) {
        if (!operation) {
          const message = request.operationName
            ? `Unknown operation named "${request.operationName}".`
            : 'Must provide operation name if query contains multiple operations.';
          throw new GraphQLError(message, { extensions: { code: 'OPERATION_RESOLUTION_FAILURE', http: { status: 400 } } });
        }
        if (operation.operation === OperationTypeNode.SUBSCRIPTION) {
          throw new GraphQLError('subscriptions are served over WebSocket (graphql-ws) on this same URL', {
            extensions: { code: 'BAD_REQUEST', http: { status: 400 } },
          });
        }
      },
    };
  },
};

export type GatewayOptions = {
  host: string;
  port: number;
  supergraphSdl: string;
  /** Subgraph name → URL, overriding the routing URLs baked into the supergraph. */
  subgraphUrls: Record<string, string>;
  /** The JWT key ring (or one secret), for HTTP and WebSocket alike. */
  jwtSecret: JwtKeys;
  redis?: Redis;
  /**
   * The event bus subscriptions are fed from (the platform's; Redis in queue mode). Without it the
   * gateway serves queries and mutations only (WebSocket handshakes get no 101).
   */
  bus?: EventBus;
  subscriptions?: SubscriptionLimits;
  /** Signs every subgraph request (GATEWAY_SECRET, lib/auth/gateway-signature.ts): production subgraphs answer only it or authenticated callers. */
  gatewaySecret?: string;
  /** Serve the bundled GraphiQL explorer on GET /graphql (default: on outside production). */
  explorer?: boolean;
  /** The local object store whose signed download URLs GET /files serves (gateway/files.ts). */
  files?: LocalObjectStore;
} & EdgeOptions;

/**
 * Node's own fetch (undici) to the subgraphs, not Apollo's default make-fetch-happen: undici retires a
 * kept-alive connection before the server's advertised `Keep-Alive: timeout` ends it, whereas
 * make-fetch-happen's agent reuses its oldest idle socket first (FIFO) and so, once few sockets are busy
 * (identical queries shared), hands requests to sockets the subgraph is closing that very moment:
 * `ECONNRESET` / `socket hang up`, masked as INTERNAL_SERVER_ERROR (docs/benchmarks.md, "Query path").
 */
const subgraphFetch: Fetcher = (url, init) => fetch(url, init);

/** Subgraphs whose queries have effects (compliance audits every officer read): never deduplicated. */
const UNSHARED_SUBGRAPHS: ReadonlySet<string> = new Set(['compliance']);

export type Gateway = Listening & { subscriptions?: SubscriptionServer };

export async function startGateway(opts: GatewayOptions): Promise<Gateway> {
  // @apollo/gateway otherwise starts its own OpenTelemetry usage exporter, whose cloud resource
  // detectors probe metadata addresses (169.254.169.254) and report to Apollo: the platform never phones home.
  process.env.APOLLO_TELEMETRY_DISABLED = 'true';
  const gateway = new ApolloGateway({
    supergraphSdl: opts.supergraphSdl,
    buildService: ({ name, url }) => {
      // The trace wraps the real HTTP fetch: one client span per request sent (a shared fetch is one).
      const source = tracedSubgraph(
        name,
        signedBy(opts.gatewaySecret, name, new CredentialForwardingDataSource({ url: opts.subgraphUrls[name] ?? url, fetcher: subgraphFetch })),
      );
      // Identical in-flight queries per credential share one fetch, public answers are reused for their
      // max-age (gateway/edge/subgraph-dedupe.ts); outside the signing, so each fetch sent is signed fresh.
      // Not compliance: its officer reads are audited one by one, so each must reach it.
      return UNSHARED_SUBGRAPHS.has(name) ? source : deduplicated(source, { subgraph: name });
    },
  });
  let apiSchema: GraphQLSchema | undefined;
  gateway.onSchemaLoadOrUpdate((s) => {
    apiSchema = s.apiSchema;
  });
  // The edge (gateway/edge): security headers, CORS, body/batch/token limits, rate limits, the
  // credential door check, the partner safelist, graphql-armor's limits and APQ.
  const edge = buildEdge(opts);
  const apollo = new ApolloServer<GatewayContext>({
    gateway,
    formatError: edge.apollo.formatError,
    includeStacktraceInErrorResponses: false,
    csrfPrevention: true,
    // ops/start.ts owns SIGINT/SIGTERM and stops each server once (Apollo's handler would stop it a second time).
    stopOnTerminationSignals: false,
    introspection: edge.apollo.introspection,
    persistedQueries: edge.apollo.persistedQueries,
    allowBatchedHttpRequests: edge.apollo.allowBatchedHttpRequests,
    validationRules: edge.apollo.validationRules,
    plugins: [httpOperations, accessLogPlugin, graphqlTracingPlugin, ...edge.apollo.plugins],
  });
  await apollo.start();

  const checks: ReadinessCheck[] = Object.entries(opts.subgraphUrls).map(([name, url]) => ({
    name,
    check: async () => {
      const res = await fetch(url.replace(/\/graphql$/, '/api/ready'));
      if (!res.ok) throw new Error(`${name} not ready`);
    },
  }));
  if (opts.redis) {
    const redis = opts.redis;
    checks.push({ name: 'redis', check: async () => void (await redis.ping()) });
  }
  // helmet's headers go on every response, health and metrics included: an outer app runs them first.
  const outer = express();
  outer.disable('x-powered-by');
  outer.locals.service = 'gateway'; // named on its access-log lines
  outer.use(edge.headers);
  if (opts.subgraphUrls.tenant) outer.use(webhookProxy({ tenantUrl: opts.subgraphUrls.tenant, headers: edge.headers }));
  // Payment processors' OAuth redirect (#12): relayed to the tenant subgraph, like webhooks.
  if (opts.subgraphUrls.tenant) outer.use(oauthCallbackProxy({ tenantUrl: opts.subgraphUrls.tenant }));
  const app = createHttpApp('gateway', checks);
  if (opts.trustProxy !== undefined) app.set('trust proxy', opts.trustProxy);
  outer.use(app);
  app.use((req, _res, next) => withCorrelation(req.header('x-correlation-id'), { service: 'gateway' }, () => next()));
  if (opts.files) app.use('/files', filesRoute(opts.files));
  app.get('/graphql', explorer({ enabled: opts.explorer ?? !(opts.production ?? process.env.NODE_ENV === 'production') }));
  app.use(
    '/graphql',
    // Refusals before Apollo: CORS, body size, batch size, rate limits, the credential door check
    // (JWTs verified here and again by the subgraphs; partner keys only shape-checked here), the
    // partner safelist and the token limit.
    ...edge.guards,
    expressMiddleware(apollo, {
      context: async ({ req, res }) => {
        const caller = res.locals.caller as Caller | undefined;
        if (caller?.kind === 'user') noteRequest({ tenantId: caller.tenantId });
        return { authorization: req.header('authorization'), correlationId: currentCorrelationId(), caller, clientIp: req.ip };
      },
    }),
  );
  app.use(dashboard());
  const listening = await listen(outer, opts.host, opts.port);

  // Follow-up queries for subscription events run through this gateway's own execution, with the
  // subscriber's credential forwarded to the subgraphs like any HTTP request's.
  const runQuery: QueryRunner = async (document, variables, authorization) => {
    const res = await apollo.executeOperation({ query: document, variables }, { contextValue: { authorization } });
    if (res.body.kind !== 'single') throw new Error('incremental delivery is not expected for a follow-up query');
    return res.body.singleResult;
  };
  const subscriptions = opts.bus
    ? attachSubscriptions({
        ...opts.subscriptions,
        server: listening.server,
        path: '/graphql',
        bus: opts.bus,
        jwtSecret: opts.jwtSecret,
        policy: edge.policy,
        apiSchema: () => apiSchema,
        runQuery,
      })
    : undefined;
  if (!subscriptions) log().warn('gateway started without an event bus: subscriptions are disabled');
  log().info({ url: `${listening.url}/graphql` }, 'gateway listening');
  return {
    ...listening,
    subscriptions,
    // Stop accepting first (HTTP drains while the subscriptions close with 1001), then Apollo: a
    // request still in flight is answered, not refused by a stopped server.
    close: async () => {
      await Promise.all([listening.close(), subscriptions?.close()]);
      await apollo.stop();
    },
  };
}
