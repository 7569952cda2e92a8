import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  GraphQLError,
  Kind,
  OperationTypeNode,
  buildSchema,
  getArgumentValues,
  getOperationAST,
  getVariableValues,
  parse,
  printSchema,
  type DocumentNode,
  type ExecutionArgs,
  type GraphQLFormattedError,
  type GraphQLSchema,
} from 'graphql';
import { CloseCode, type SubscribePayload } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { decodeJwt } from 'jose';
import { WebSocketServer, type WebSocket } from 'ws';
import { authorize, principalFromClaims, type Principal } from '../../lib/access';
import { API_KEY_PREFIX, parseApiKey } from '../../lib/auth/api-keys';
import { bearer, verifyAccessToken, type JwtKeys } from '../../lib/auth/tokens';
import type { EventBus } from '../../lib/bus';
import { AppError, ErrorCode } from '../../lib/errors';
import { log } from '../../lib/logger';
import type { QueryPolicy } from '../edge/query-limits';
import type { QueryRunner } from './execution';
import { Connection, SubscriptionHub, type HubStats, type Prepared } from './hub';
import { SUBSCRIPTION_SOURCES } from './sources';

export { SLOW_CONSUMER_CLOSE_CODE } from './hub';

export type SubscriptionLimits = {
  /** graphql-ws `connection_init` must arrive within this (else 4408). Default 5 s. */
  connectionInitWaitTimeoutMs?: number;
  /** Partner API keys: how long a connection lives before it must reconnect. Default API_KEY_SESSION_MS. */
  apiKeySessionMs?: number;
  /** WebSocket ping interval; a peer that misses a pong for as long is terminated. Default 12 s. */
  keepAliveMs?: number;
  /** Unsent bytes (socket buffer + queued results) a connection may owe before it is closed with 4413. Default 1 MiB. */
  maxBufferedBytes?: number;
  /** Concurrent subscriptions per connection. Default 100. */
  maxSubscriptionsPerConnection?: number;
  /** Largest incoming WebSocket message. Default 64 KiB. */
  maxPayloadBytes?: number;
  /** Events a subscription group may have waiting for execution before new ones are dropped. Default 1000. */
  maxPendingEventsPerGroup?: number;
};

export type SubscriptionServerOptions = SubscriptionLimits & {
  server: Server;
  path: string;
  bus: EventBus;
  jwtSecret: JwtKeys;
  /** The edge's limits and error formatting, the same as HTTP's (gateway/edge/query-limits.ts). */
  policy: QueryPolicy;
  /** The supergraph's API schema (what clients may ask for), once the gateway has loaded it. */
  apiSchema: () => GraphQLSchema | undefined;
  runQuery: QueryRunner;
};

export type SubscriptionServer = { stats(): HubStats; close(): Promise<void> };

/** Distinct subscription documents kept parsed and validated, per schema. */
const MAX_CACHED_DOCUMENTS = 500;

/** A document the policy refused, with every error HTTP would answer with. */
class Refused extends Error {
  constructor(readonly errors: readonly GraphQLError[]) {
    super('refused');
  }
}

/** What onSubscribe hands to subscribe through graphql-ws's ExecutionArgs. */
class PreparedOperation {
  constructor(readonly prepared: Prepared) {}
}

/** How long a partner key's WebSocket may live before it must reconnect (and be verified again). */
export const API_KEY_SESSION_MS = 5 * 60_000;

const coded = (err: GraphQLError, code: string): GraphQLError =>
  new GraphQLError(err.message, { nodes: err.nodes, source: err.source, positions: err.positions, extensions: { ...err.extensions, code } });

/**
 * graphql-ws (`graphql-transport-ws`) on the gateway's own HTTP server and path. Connections
 * authenticate once in `connection_init` (`{ authorization: 'Bearer <jwt>' }`); each subscription
 * is validated against the API schema, mapped to a bus channel and served by the hub.
 */
export function attachSubscriptions(opts: SubscriptionServerOptions): SubscriptionServer {
  const maxSubscriptions = opts.maxSubscriptionsPerConnection ?? 100;
  const hub = new SubscriptionHub(opts.bus, opts.runQuery, {
    maxBufferedBytes: opts.maxBufferedBytes ?? 1024 * 1024,
    maxPendingEventsPerGroup: opts.maxPendingEventsPerGroup ?? 1000,
    formatError: opts.policy.formatError,
  });
  const format = (e: GraphQLError): GraphQLFormattedError => opts.policy.formatError(e.toJSON(), e);
  const connections = new WeakMap<WebSocket, Connection>();
  const wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxPayloadBytes ?? 64 * 1024 });

  const refuse = (socket: WebSocket, reason: string): false => {
    socket.close(CloseCode.Unauthorized, `Unauthorized: ${reason}`);
    return false;
  };

  useServer(
    {
      isProd: true,
      connectionInitWaitTimeout: opts.connectionInitWaitTimeoutMs ?? 5000,
      onConnect: async (ctx) => {
        const { socket, request } = ctx.extra;
        const params = ctx.connectionParams ?? {};
        const given = params.authorization ?? params.Authorization ?? request.headers.authorization;
        if (given !== undefined && typeof given !== 'string') return refuse(socket, 'authorization must be "Bearer <token>"');
        let principal: Principal = { kind: 'anonymous' };
        let expiresAt: number | undefined;
        try {
          const token = bearer(given);
          if (token?.startsWith(API_KEY_PREFIX)) {
            // Partner keys are verified by the subgraphs (the gateway holds no key store): the key's tenant is the answer.
            principal = await apiKeyPrincipal(token, given as string);
            // A key revoked or expired later must not stream forever: its connections end after
            // API_KEY_SESSION_MS and reconnect (checked again by the subgraphs).
            if (principal.kind === 'apiKey') expiresAt = Date.now() + (opts.apiKeySessionMs ?? API_KEY_SESSION_MS);
          } else if (token) {
            const claims = await verifyAccessToken(token, opts.jwtSecret);
            principal = principalFromClaims(claims);
            const exp = decodeJwt(token).exp;
            expiresAt = exp === undefined ? undefined : exp * 1000;
          }
        } catch (err) {
          return refuse(socket, err instanceof AppError ? err.message : 'token is invalid');
        }
        connections.set(socket, new Connection(socket, principal, principal.kind === 'anonymous' ? undefined : given, expiresAt));
        return true;
      },
      onSubscribe: async (ctx, id, payload) => {
        const connection = connections.get(ctx.extra.socket);
        if (!connection) return [new AppError(ErrorCode.UNAUTHENTICATED, 'connection is not initialised')];
        if (Object.keys(ctx.subscriptions).length > maxSubscriptions) {
          return [new AppError(ErrorCode.BAD_USER_INPUT, `at most ${maxSubscriptions} subscriptions per connection`)];
        }
        try {
          const args = prepare(id, payload, connection);
          await checkKeyScope(args.contextValue as PreparedOperation, connection);
          await checkVisible(args.contextValue as PreparedOperation, connection);
          return args;
        } catch (err) {
          if (err instanceof Refused) return [...err.errors];
          if (err instanceof GraphQLError) return [err];
          throw err;
        }
      },
      subscribe: async (args: ExecutionArgs) => {
        if (!(args.contextValue instanceof PreparedOperation)) throw new Error('subscription was not prepared');
        try {
          return await hub.join(args.contextValue.prepared);
        } catch (err) {
          log().error({ err }, 'could not subscribe to the event bus');
          return { errors: [new AppError(ErrorCode.INTERNAL_SERVER_ERROR, 'live events are unavailable')] };
        }
      },
      // Hub results are masked and written by the hub itself; anything else graphql-ws sends is masked here.
      onNext: (_ctx, _id, _payload, _args, result) => ({ ...result, errors: result.errors?.map(format) }),
      onError: (_ctx, _id, _payload, errors) => errors.map(format),
    },
    wss,
    opts.keepAliveMs ?? 12_000,
  );

  // Apollo Server instruments the gateway schema's resolvers in place (and they ignore a custom
  // fieldResolver), so events are executed against a private, resolver-free copy of it.
  const copies = new WeakMap<GraphQLSchema, GraphQLSchema>();
  const eventSchema = (): GraphQLSchema | undefined => {
    const api = opts.apiSchema();
    if (!api) return undefined;
    let copy = copies.get(api);
    if (!copy) {
      copy = buildSchema(printSchema(api));
      copies.set(api, copy);
    }
    return copy;
  };

  // Thousands of clients send the same few documents: each is parsed and validated once per schema and
  // shared (a DocumentNode is never mutated), which saves the CPU and a few KB of AST per subscriber.
  const documents = new WeakMap<GraphQLSchema, Map<string, DocumentNode | readonly GraphQLError[]>>();
  function parsedDocument(schema: GraphQLSchema, query: string): DocumentNode {
    let cache = documents.get(schema);
    if (!cache) {
      cache = new Map();
      documents.set(schema, cache);
    }
    let hit = cache.get(query);
    if (hit === undefined) {
      // The same token, depth, alias, cost and directive limits as HTTP, from the same definition.
      hit = opts.policy.check(schema, query);
      // Bounded: a client sending ever-new documents evicts the oldest entries, it cannot grow the map.
      if (cache.size >= MAX_CACHED_DOCUMENTS) cache.delete(cache.keys().next().value as string);
      cache.set(query, hit);
    }
    if (Array.isArray(hit)) throw new Refused(hit);
    return hit as DocumentNode;
  }

  /** An API key's tenant, as the subgraphs see it: a key that is unknown, revoked or expired is refused. */
  async function apiKeyPrincipal(token: string, authorization: string): Promise<Principal> {
    const parsed = parseApiKey(token);
    if (!parsed) throw new AppError(ErrorCode.UNAUTHENTICATED, 'API key is malformed');
    const res = await opts.runQuery(parse('{ tenant { id } }'), {}, authorization);
    const tenantId = (res.data as { tenant?: { id?: unknown } } | null | undefined)?.tenant?.id;
    // A valid key without a tenant-bound scope (read:market only) may still use the public streams.
    if (typeof tenantId !== 'string' && res.errors?.[0]?.extensions?.code === 'FORBIDDEN') return { kind: 'anonymous' };
    if (typeof tenantId !== 'string') throw new AppError(ErrorCode.UNAUTHENTICATED, 'API key is invalid, revoked or expired');
    // Scopes stay with the subgraphs: each subscription is authorised by a probe query (SubscriptionSource.probe).
    return { kind: 'apiKey', keyId: `${API_KEY_PREFIX}${parsed.lookup}`, tenantId: tenantId.toLowerCase(), scopes: [] };
  }

  /** API keys: the subgraphs' gate decides, through a query needing the same permission. */
  async function checkKeyScope(op: PreparedOperation, connection: Connection): Promise<void> {
    const source = op.prepared.op.source;
    if (connection.principal.kind !== 'apiKey' || !source.probe) return;
    const res = await opts.runQuery(parse(source.probe), {}, connection.authorization);
    const code = res.errors?.[0]?.extensions?.code;
    if (res.errors?.length) {
      throw new AppError(code === 'UNAUTHENTICATED' ? ErrorCode.UNAUTHENTICATED : ErrorCode.FORBIDDEN, `this API key may not subscribe to ${op.prepared.op.rootField}`);
    }
  }

  /** A subscription naming one object (a purchase) is refused unless the subscriber can see it. */
  async function checkVisible(op: PreparedOperation, connection: Connection): Promise<void> {
    const probe = op.prepared.visibility;
    if (!probe) return;
    const res = await opts.runQuery(parse(probe.query), probe.variables, connection.authorization);
    const data = res.data as Record<string, unknown> | null | undefined;
    if (!data || Object.values(data)[0] === null || Object.values(data)[0] === undefined) {
      throw new AppError(ErrorCode.NOT_FOUND, `${probe.what} not found`);
    }
  }

  function prepare(id: string, payload: SubscribePayload, connection: Connection): ExecutionArgs {
    const schema = eventSchema();
    if (!schema) throw new AppError(ErrorCode.INTERNAL_SERVER_ERROR, 'the gateway has not loaded its schema yet');
    const document = parsedDocument(schema, payload.query);
    const operation = getOperationAST(document, payload.operationName);
    if (!operation) throw new AppError(ErrorCode.BAD_USER_INPUT, 'could not identify the operation to run');
    if (operation.operation !== OperationTypeNode.SUBSCRIPTION) {
      throw new AppError(ErrorCode.BAD_USER_INPUT, 'only subscriptions are served over WebSocket; send queries and mutations over HTTP');
    }
    const variables = getVariableValues(schema, operation.variableDefinitions ?? [], payload.variables ?? {});
    if (variables.errors) throw coded(variables.errors[0], ErrorCode.BAD_USER_INPUT);
    const [selection] = operation.selectionSet.selections;
    if (operation.selectionSet.selections.length !== 1 || selection.kind !== Kind.FIELD || selection.directives?.length) {
      throw new AppError(ErrorCode.BAD_USER_INPUT, 'select exactly one subscription field, directly and without directives');
    }
    const fieldName = selection.name.value;
    const fieldDef = schema.getSubscriptionType()?.getFields()[fieldName];
    const source = SUBSCRIPTION_SOURCES[fieldName];
    if (!fieldDef || !source) throw new AppError(ErrorCode.BAD_USER_INPUT, `${fieldName} is not served by this gateway`);
    let args: Record<string, unknown>;
    try {
      args = getArgumentValues(fieldDef, selection, variables.coerced);
    } catch (err) {
      throw err instanceof GraphQLError ? coded(err, ErrorCode.BAD_USER_INPUT) : err;
    }

    const p = connection.principal;
    // A key's scopes are checked by the subgraphs (checkKeyScope); users and anonymous callers by the matrix here.
    if (p.kind !== 'apiKey') authorize(p, source.action);
    source.checkArgs?.(args);
    const tenantId = source.audience === 'tenant' && p.kind !== 'anonymous' ? p.tenantId : undefined;
    const prepared: Prepared = {
      id,
      op: { schema, document, operationName: payload.operationName ?? undefined, variables: payload.variables ?? {}, rootField: fieldName, source },
      channel: source.channel(args, tenantId),
      tenantId,
      minIntervalMs: source.minIntervalMs?.(args),
      accepts: source.accepts ? (v) => source.accepts!(args, v) : undefined,
      visibility: source.mustSee?.(args) ?? undefined,
      connection,
    };
    return { schema, document, operationName: payload.operationName, variableValues: payload.variables, contextValue: new PreparedOperation(prepared) };
  }

  const path = opts.path;
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (new URL(req.url ?? '/', 'http://gateway').pathname !== path) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    // graphql-ws keeps the request for the connection's lifetime (ctx.extra.request); only its
    // Authorization header is ever read, so it gets that, not the IncomingMessage with every header
    // and buffer (~2 KB per connection at 10k connections).
    const slim: Pick<IncomingMessage, 'headers'> = { headers: { authorization: req.headers.authorization } };
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, slim));
  };
  opts.server.on('upgrade', onUpgrade);
  log().info({ path, channels: Object.keys(SUBSCRIPTION_SOURCES) }, 'gateway serves subscriptions over graphql-ws');

  return {
    stats: () => hub.stats(),
    async close() {
      opts.server.off('upgrade', onUpgrade);
      const clients = [...wss.clients];
      for (const c of clients) c.close(1001, 'Going away');
      // A peer that does not answer the close handshake promptly is cut off.
      const deadline = Date.now() + 1000;
      while (clients.some((c) => c.readyState !== c.CLOSED) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      for (const c of clients) if (c.readyState !== c.CLOSED) c.terminate();
      await hub.close();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
