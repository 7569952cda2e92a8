import type { ApolloServerPlugin } from '@apollo/server';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { ValidationRule } from 'graphql';
import type { RedisClient as Redis } from '../../lib/redis'; // a node or a Redis Cluster
import type { JwtKeys } from '../../lib/auth/tokens';
import { log } from '../../lib/logger';
import { PERSISTED_QUERY_DEFAULTS, apqRequestCheck, persistedQueries, type PersistedQueryOptions, type StringCache } from './apq';
import { BODY_LIMIT_DEFAULTS, batchLimit, declaredBodyLimit, jsonBody, tokenLimit, type BodyLimits } from './body';
import { identify } from './credentials';
import { MANIFEST_PATH, loadManifest, manifestIndex } from './manifest';
import { queryPolicy, type QueryLimits, type QueryPolicy } from './query-limits';
import { createRateLimiters, rateLimit, type RateLimitOptions } from './rate-limit';
import { partnerSafelist } from './safelist';
import { DASHBOARD_MANIFEST_PATH } from '../web';
import { corsAllowlist, securityHeaders, type CspDirectives } from './security-headers';

export { EdgeCode, EdgeError, formatGatewayError } from './errors';
export type { Caller } from './credentials';
export type { QueryPolicy } from './query-limits';

/** Everything the gateway's edge can be tuned with; every field has a production-sane default. */
export type EdgeOptions = {
  /** Prefix of the gateway's Redis keys (`<prefix>:gateway:apq:…`, `<prefix>:gateway:rl:…`). Default `abt`. */
  redisPrefix?: string;
  /** Production defaults (no introspection, no suggestions, no explorer). Default: NODE_ENV=production. */
  production?: boolean;
  /** Introspection (`__schema`, `__type`). Default: on unless production. */
  introspection?: boolean;
  /** Take "Did you mean …?" suggestions out of every error, HTTP and WebSocket. Default: on in production. */
  hideFieldSuggestions?: boolean;
  /** Depth, alias, cost and directive limits (graphql-armor). */
  queryLimits?: Omit<QueryLimits, 'hideFieldSuggestions'>;
  /** Body size, batch size and token limits, enforced before parsing. */
  bodyLimits?: BodyLimits;
  /** Per-IP, per-user, per-tenant and per-API-key limits; `false` turns rate limiting off. */
  rateLimits?: RateLimitOptions | false;
  /** APQ cache TTL and size; `manifestPath` is the partner safelist (default schema/operations/manifest.json). */
  persistedQueries?: PersistedQueryOptions & { manifestPath?: string; dashboardManifestPath?: string };
  /** Origins allowed to call cross-origin (exact, e.g. `https://app.liquidabt.com.au`). Default none. */
  corsOrigins?: string[];
  /** CSP of the explorer page; `false` leaves it to the explorer. Default: 'self' plus inline styles. */
  explorerCsp?: CspDirectives | false;
  /** Express `trust proxy` (which X-Forwarded-For hops to believe for the client IP). Default false. */
  trustProxy?: boolean | number | string;
};

export type Edge = {
  /** For every response (helmet). */
  headers: RequestHandler;
  /** For `/graphql`, in order, before Apollo's middleware. */
  guards: (RequestHandler | ErrorRequestHandler)[];
  /** Limits, introspection and error formatting for every operation: Apollo (HTTP) and graphql-ws use this one definition. */
  policy: QueryPolicy;
  /** ApolloServer options the edge owns. */
  apollo: {
    plugins: ApolloServerPlugin[];
    formatError: QueryPolicy['formatError'];
    validationRules: ValidationRule[];
    persistedQueries: { cache: StringCache; ttl: number };
    allowBatchedHttpRequests: boolean;
    introspection: boolean;
  };
};

export function buildEdge(opts: EdgeOptions & { jwtSecret: JwtKeys; redis?: Redis }): Edge {
  const production = opts.production ?? process.env.NODE_ENV === 'production';
  const redisPrefix = opts.redisPrefix ?? 'abt';
  const body = { ...BODY_LIMIT_DEFAULTS, ...definedOnly(opts.bodyLimits ?? {}) };
  const manifest = manifestIndex(loadManifest(opts.persistedQueries?.manifestPath ?? MANIFEST_PATH));
  log().info({ operations: manifest.size }, 'partner persisted query list loaded');
  const introspection = opts.introspection ?? !production;
  const policy = queryPolicy({ limits: opts.queryLimits, maxTokens: body.maxTokens, introspection, hideSuggestions: opts.hideFieldSuggestions ?? production });
  // The dashboard's own operations (built into web/dist): their ids always resolve, but they are not the partner safelist.
  const dashboardOps = manifestIndex(loadManifest(opts.persistedQueries?.dashboardManifestPath ?? DASHBOARD_MANIFEST_PATH));
  // Rate limiters only use Redis once it is connected (else they count in memory): a first command
  // makes a lazyConnect client connect now.
  if (opts.redis?.status === 'wait') opts.redis.ping().catch((err: Error) => log().warn({ err: err.message }, 'gateway Redis is unreachable'));
  const limiters = opts.rateLimits === false ? undefined : createRateLimiters(opts.rateLimits ?? {}, { redis: opts.redis, redisPrefix });

  const guards: (RequestHandler | ErrorRequestHandler)[] = [
    corsAllowlist(opts.corsOrigins),
    declaredBodyLimit(body.maxBodyBytes),
    ...jsonBody(body.maxBodyBytes),
    batchLimit(body.maxBatchSize),
    ...(limiters ? [rateLimit(limiters, 'ip')] : []),
    identify(opts.jwtSecret),
    ...(limiters ? [rateLimit(limiters, 'caller')] : []),
    apqRequestCheck(),
    partnerSafelist(manifest),
    tokenLimit(body.maxTokens),
  ];
  return {
    headers: securityHeaders({ explorerCsp: opts.explorerCsp }),
    guards,
    policy,
    apollo: {
      plugins: [],
      formatError: policy.formatError,
      validationRules: policy.validationRules,
      persistedQueries: persistedQueries(new Map([...dashboardOps, ...manifest]), { redis: opts.redis, redisPrefix, ...PERSISTED_QUERY_DEFAULTS, ...definedOnly(opts.persistedQueries ?? {}) }),
      allowBatchedHttpRequests: body.maxBatchSize > 1,
      introspection,
    },
  };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
