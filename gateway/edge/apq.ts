import type { RequestHandler } from 'express';
import type { RedisClient as Redis } from '../../lib/redis'; // a node or a Redis Cluster
import { log } from '../../lib/logger';
import { recordCacheLookup } from '../../lib/metrics';
import { EdgeCode, EdgeError, sendEdgeError } from './errors';
import { sha256Hex } from './manifest';
import { operationsOf } from './operations';

/** Apollo's KeyValueCache<string> (from @apollo/utils.keyvaluecache), structurally. */
export interface StringCache {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, options?: { ttl?: number | null }): Promise<void>;
  delete(key: string): Promise<boolean | void>;
}

/** Apollo prefixes APQ keys with this before they reach the cache it is given. */
const APQ_PREFIX = 'apq:';

/** APQ entries in Redis, under `<prefix>`, each with a TTL (seconds). Redis trouble degrades to a miss. */
export class RedisStringCache implements StringCache {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly defaultTtlSeconds: number,
  ) {}

  async get(key: string): Promise<string | undefined> {
    try {
      return (await this.redis.get(this.prefix + key)) ?? undefined;
    } catch (err) {
      log().warn({ err: (err as Error).message }, 'persisted query cache read failed; treating as a miss');
      return undefined;
    }
  }

  async set(key: string, value: string, options?: { ttl?: number | null }): Promise<void> {
    const ttl = options?.ttl === null ? undefined : (options?.ttl ?? this.defaultTtlSeconds);
    if (ttl) await this.redis.set(this.prefix + key, value, 'EX', Math.max(1, Math.ceil(ttl)));
    else await this.redis.set(this.prefix + key, value);
  }

  async delete(key: string): Promise<boolean> {
    return (await this.redis.del(this.prefix + key)) > 0;
  }
}

/** In-process LRU (by entry count) with per-entry TTL, for a gateway without Redis. */
export class MemoryStringCache implements StringCache {
  private readonly entries = new Map<string, { value: string; expiresAt: number }>();

  constructor(
    private readonly maxEntries: number,
    private readonly defaultTtlSeconds: number,
  ) {}

  async get(key: string): Promise<string | undefined> {
    const e = this.entries.get(key);
    if (!e) return undefined;
    this.entries.delete(key);
    if (e.expiresAt <= Date.now()) return undefined;
    this.entries.set(key, e); // most recently used last
    return e.value;
  }

  async set(key: string, value: string, options?: { ttl?: number | null }): Promise<void> {
    const ttl = options?.ttl === null ? Infinity : (options?.ttl ?? this.defaultTtlSeconds);
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: Date.now() + ttl * 1000 });
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  async delete(key: string): Promise<boolean> {
    return this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}

/**
 * The APQ cache the gateway gives Apollo: the partner manifest answers first (its ids always
 * resolve, never expire and cannot be overwritten), then the registered-query cache.
 */
export class ManifestFirstCache implements StringCache {
  constructor(
    private readonly manifest: ReadonlyMap<string, string>,
    private readonly registered: StringCache,
  ) {}

  private hash = (key: string): string => (key.startsWith(APQ_PREFIX) ? key.slice(APQ_PREFIX.length) : key);

  async get(key: string): Promise<string | undefined> {
    const found = this.manifest.get(this.hash(key)) ?? (await this.registered.get(key));
    recordCacheLookup('apq', found !== undefined);
    return found;
  }

  async set(key: string, value: string, options?: { ttl?: number | null }): Promise<void> {
    if (this.manifest.has(this.hash(key))) return;
    await this.registered.set(key, value, options);
  }

  async delete(key: string): Promise<boolean | void> {
    return this.registered.delete(key);
  }
}

export type PersistedQueryOptions = {
  /** How long a registered (non-manifest) query stays, in seconds. Default 86 400 (a day). */
  ttlSeconds?: number;
  /** Entries kept in memory when there is no Redis. Default 10 000. */
  maxMemoryEntries?: number;
};

export const PERSISTED_QUERY_DEFAULTS: Required<PersistedQueryOptions> = { ttlSeconds: 86_400, maxMemoryEntries: 10_000 };

/** Apollo Server's `persistedQueries` option: Redis when given, memory otherwise, manifest first. */
export function persistedQueries(
  manifest: ReadonlyMap<string, string>,
  opts: { redis?: Redis; redisPrefix: string } & PersistedQueryOptions,
): { cache: StringCache; ttl: number } {
  const ttlSeconds = opts.ttlSeconds ?? PERSISTED_QUERY_DEFAULTS.ttlSeconds;
  const registered = opts.redis
    ? new RedisStringCache(opts.redis, `${opts.redisPrefix}:gateway:`, ttlSeconds)
    : new MemoryStringCache(opts.maxMemoryEntries ?? PERSISTED_QUERY_DEFAULTS.maxMemoryEntries, ttlSeconds);
  return { cache: new ManifestFirstCache(manifest, registered), ttl: ttlSeconds };
}

/**
 * Coded refusals for malformed APQ requests, which Apollo would answer without a code: a version
 * other than 1 (400 BAD_REQUEST) and a query whose SHA-256 is not the hash sent with it
 * (400 PERSISTED_QUERY_HASH_MISMATCH, as Apollo Router calls it).
 */
export function apqRequestCheck(): RequestHandler {
  return (req, res, next) => {
    for (const op of operationsOf(req)) {
      if (op.persistedQueryVersion === undefined && op.sha256Hash === undefined) continue;
      if (op.persistedQueryVersion !== 1) {
        return sendEdgeError(res, new EdgeError(EdgeCode.BAD_REQUEST, 'unsupported persisted query version (only 1)', 400));
      }
      if (op.query !== undefined && op.sha256Hash !== sha256Hex(op.query)) {
        return sendEdgeError(
          res,
          new EdgeError(EdgeCode.PERSISTED_QUERY_HASH_MISMATCH, 'extensions.persistedQuery.sha256Hash is not the SHA-256 of the query', 400),
        );
      }
    }
    next();
  };
}
