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
import { WebSocketServer, type WebSocket } from 'ws';
import { SOCKET_RECHECK_MS, SubscriptionGate, reverifyOfficer, type RemoteAsk, type Reverification, type SocketCredential } from '../../lib/access';
import type { JwtKeys } from '../../lib/auth/tokens';
import type { EventBus } from '../../lib/bus';
import { AppError, ErrorCode } from '../../lib/errors';
import { log } from '../../lib/logger';
import { setSubscriberCount } from '../../lib/metrics';
import type { QueryPolicy } from '../edge/query-limits';
import type { QueryRunner } from './execution';
import { Connection, SubscriptionHub, type HubStats, type Prepared } from './hub';
import { SUBSCRIPTION_SOURCES, type SubscriptionSource } from './sources';

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
  /**
   * How often each connection's credential is verified again by the subgraphs (logout, removal,
   * role change, key revocation). Default SOCKET_RECHECK_MS (the credential cache's 5 s).
   */
  credentialRecheckMs?: number;
  /** Consecutive re-verifications the subgraphs could not answer before the connection is closed (1013, retryable). Default 3. */
  maxUnverifiedRechecks?: number;
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

/** graphql-ws close codes for a credential that stopped holding (its client does not retry 4401; it reconnects after 4403 and 1013). */
export const CREDENTIAL_CLOSE = { revoked: CloseCode.Unauthorized, roleChanged: CloseCode.Forbidden, unverified: 1013 } as const;

/** Distinct credentials re-verified at the same time. */
const RECHECK_CONCURRENCY = 8;

/** A close reason fits in a control frame (123 bytes). */
const closeReason = (text: string): string => {
  let out = text;
  while (Buffer.byteLength(out) > 120) out = out.slice(0, -1);
  return out === text ? text : `${out.slice(0, -3)}...`;
};

/** An open connection as the server tracks it for re-verification. */
/** A socket holding a credential; `recheck`: an officer feed's query, asked again with each re-verification. */
type Live = { socket: WebSocket; credential: SocketCredential; unverified: number; recheck?: string };

const coded = (err: GraphQLError, code: string): GraphQLError =>
  new GraphQLError(err.message, { nodes: err.nodes, source: err.source, positions: err.positions, extensions: { ...err.extensions, code } });

/**
 * graphql-ws (`graphql-transport-ws`) on the gateway's own HTTP server and path. Connections
 * authenticate in `connection_init` (`{ authorization: 'Bearer <jwt>' }`) and are verified again
 * every credentialRecheckMs; every access decision is the SubscriptionGate's (lib/access.ts). Each
 * subscription is validated against the API schema, mapped to a bus channel and served by the hub.
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
  // ws drops a client from wss.clients on its 'close' before this listener runs.
  wss.on('connection', (socket: WebSocket) => {
    setSubscriberCount(wss.clients.size);
    socket.once('close', () => setSubscriberCount(wss.clients.size));
  });

  // The subgraphs' gates verify credentials (the gateway holds no database); the few queries it asks are parsed once.
  const asked = new Map<string, DocumentNode>();
  const ask: RemoteAsk = (query, variables, authorization) => {
    let document = asked.get(query);
    if (!document) {
      document = parse(query);
      if (asked.size >= MAX_CACHED_DOCUMENTS) asked.clear();
      asked.set(query, document);
    }
    return opts.runQuery(document, variables, authorization);
  };
  const gate = new SubscriptionGate(opts.jwtSecret, ask);
  /** Connections holding a credential, re-verified every credentialRecheckMs. */
  const live = new Map<WebSocket, Live>();
  const maxUnverified = opts.maxUnverifiedRechecks ?? 3;

  const apply = (l: Live, r: Reverification): void => {
    if (l.socket.readyState !== l.socket.OPEN) return;
    switch (r.outcome) {
      case 'valid':
        l.unverified = 0;
        return;
      case 'revoked':
        l.socket.close(CREDENTIAL_CLOSE.revoked, closeReason(`Unauthorized: ${r.reason}`));
        return;
      case 'changed':
        // Its group shares follow-up results with members of its old role: reconnect to be grouped (and authorised) anew.
        l.socket.close(CREDENTIAL_CLOSE.roleChanged, 'Forbidden: your role changed; reconnect');
        return;
      case 'unknown':
        if (++l.unverified >= maxUnverified) {
          log().warn({ reason: r.reason }, 'closing a WebSocket whose credential could not be verified again');
          l.socket.close(CREDENTIAL_CLOSE.unverified, 'Try Again Later: your credential could not be verified');
        }
        return;
    }
  };

  /** One pass: each distinct credential (and role) is verified once, however many sockets share it. */
  const recheckAll = async (): Promise<void> => {
    const byCredential = new Map<string, Live[]>();
    for (const l of live.values()) {
      const p = l.credential.principal;
      const key = `${l.credential.authorization ?? ''}\n${p.kind === 'user' ? p.role : p.kind}\n${l.recheck ?? ''}`;
      const same = byCredential.get(key);
      if (same) same.push(l);
      else byCredential.set(key, [l]);
    }
    const queue = [...byCredential.values()];
    const worker = async (): Promise<void> => {
      for (let group = queue.pop(); group; group = queue.pop()) {
        const [first] = group;
        if (!first) continue; // groups are created with their first member; never empty
        const failed = (err: Error): Reverification => ({ outcome: 'unknown', reason: err.message });
        let r = await gate.reverify(first.credential).catch(failed);
        // An officer feed also ends when the platform role is revoked (a tenant role never grants it).
        if (r.outcome === 'valid' && first.recheck) r = await reverifyOfficer(ask, first.credential, first.recheck).catch(failed);
        for (const l of group) apply(l, r);
      }
    };
    await Promise.all(Array.from({ length: Math.min(RECHECK_CONCURRENCY, queue.length) }, worker));
  };
  let rechecking: Promise<void> | undefined;
  const recheckTimer = setInterval(() => {
    rechecking ??= recheckAll()
      .catch((err: Error) => log().error({ err }, 'WebSocket credential re-verification failed'))
      .finally(() => {
        rechecking = undefined;
      });
  }, opts.credentialRecheckMs ?? SOCKET_RECHECK_MS);
  recheckTimer.unref();

  const refuse = (socket: WebSocket, reason: string): false => {
    socket.close(CloseCode.Unauthorized, closeReason(`Unauthorized: ${reason}`));
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
        let credential: SocketCredential;
        try {
          credential = await gate.connect(given);
        } catch (err) {
          if (err instanceof AppError && err.code === ErrorCode.INTERNAL_SERVER_ERROR) {
            socket.close(CREDENTIAL_CLOSE.unverified, closeReason(`Try Again Later: ${err.message}`));
            return false;
          }
          return refuse(socket, err instanceof AppError ? err.message : 'token is invalid');
        }
        // Closed while the subgraphs were asked: nothing to track.
        if (socket.readyState !== socket.OPEN) return false;
        // A partner key's subscriptions also end after API_KEY_SESSION_MS (the client resubscribes and is
        // verified afresh); its revocation is caught sooner by re-verification, which asks the subgraphs.
        const expiresAt = credential.principal.kind === 'apiKey' ? Date.now() + (opts.apiKeySessionMs ?? API_KEY_SESSION_MS) : credential.expiresAt;
        connections.set(socket, new Connection(socket, credential.principal, credential.authorization, expiresAt));
        if (credential.authorization !== undefined) {
          live.set(socket, { socket, credential, unverified: 0 });
          socket.once('close', () => live.delete(socket));
        }
        return true;
      },
      onSubscribe: async (ctx, id, payload) => {
        const connection = connections.get(ctx.extra.socket);
        if (!connection) return [new AppError(ErrorCode.UNAUTHENTICATED, 'connection is not initialised')];
        if (Object.keys(ctx.subscriptions).length > maxSubscriptions) {
          return [new AppError(ErrorCode.BAD_USER_INPUT, `at most ${maxSubscriptions} subscriptions per connection`)];
        }
        try {
          const parsed = prepare(payload);
          const credential = live.get(ctx.extra.socket)?.credential ?? {
            principal: connection.principal,
            authorization: connection.authorization,
            expiresAt: connection.expiresAt,
          };
          // The gate decides: the matrix (users), the subgraphs' probe (API keys), visibility of a named object, the tenant.
          const { source } = parsed;
          const grant = await gate.forSubscription(credential, {
            name: parsed.fieldName,
            action: source.action,
            audience: source.audience,
            probe: source.probe,
            mustSee: source.mustSee?.(parsed.args) ?? null,
          });
          const held = live.get(ctx.extra.socket);
          if (held && source.audience === 'officer' && source.recheck) held.recheck = source.recheck;
          return executionArgs(id, payload, parsed, grant.tenantId, connection);
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

  type Parsed = { schema: GraphQLSchema; document: DocumentNode; fieldName: string; source: SubscriptionSource; args: Record<string, unknown> };

  /** Validates the operation and its one root field (the same limits as HTTP); access is the gate's. */
  function prepare(payload: SubscribePayload): Parsed {
    const schema = eventSchema();
    if (!schema) throw new AppError(ErrorCode.INTERNAL_SERVER_ERROR, 'the gateway has not loaded its schema yet');
    const document = parsedDocument(schema, payload.query);
    const operation = getOperationAST(document, payload.operationName);
    if (!operation) throw new AppError(ErrorCode.BAD_USER_INPUT, 'could not identify the operation to run');
    if (operation.operation !== OperationTypeNode.SUBSCRIPTION) {
      throw new AppError(ErrorCode.BAD_USER_INPUT, 'only subscriptions are served over WebSocket; send queries and mutations over HTTP');
    }
    const variables = getVariableValues(schema, operation.variableDefinitions ?? [], payload.variables ?? {});
    if (variables.errors) {
      const [invalid] = variables.errors;
      throw invalid ? coded(invalid, ErrorCode.BAD_USER_INPUT) : new AppError(ErrorCode.BAD_USER_INPUT, 'the variables are not valid');
    }
    const [selection] = operation.selectionSet.selections;
    if (operation.selectionSet.selections.length !== 1 || !selection || selection.kind !== Kind.FIELD || selection.directives?.length) {
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

    source.checkArgs?.(args);
    return { schema, document, fieldName, source, args };
  }

  function executionArgs(id: string, payload: SubscribePayload, parsed: Parsed, tenantId: string | undefined, connection: Connection): ExecutionArgs {
    const { schema, document, fieldName, source, args } = parsed;
    const prepared: Prepared = {
      id,
      op: { schema, document, operationName: payload.operationName ?? undefined, variables: payload.variables ?? {}, rootField: fieldName, source },
      channel: source.channel(args, tenantId),
      tenantId,
      minIntervalMs: source.minIntervalMs?.(args),
      accepts: source.accepts ? (v) => source.accepts!(args, v) : undefined,
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
      clearInterval(recheckTimer);
      await rechecking;
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
