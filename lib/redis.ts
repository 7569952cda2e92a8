import { Cluster, Redis, type ClusterNode, type RedisOptions } from 'ioredis';

/**
 * One Redis client type for the platform: a single node (`redis://`, `rediss://`) or a Redis
 * Cluster (`redis+cluster://`, `rediss+cluster://`). Both speak the same commands for what the
 * platform does (single-key GET/SET/EVAL, PUBLISH, (P)SUBSCRIBE, BullMQ's scripts on hash-tagged keys).
 */
export type RedisClient = Redis | Cluster;

/**
 * `REDIS_URL=redis+cluster://[user:password@]host:port[?nodes=host:port,host:port]`: a cluster, found
 * from the seed node (and the extra seeds in `nodes`, tried when the first is down); `rediss+cluster://`
 * adds TLS (ElastiCache with in-transit encryption). Any other URL is one node, exactly as before.
 */
export type RedisTarget =
  | { kind: 'node'; url: string }
  | { kind: 'cluster'; nodes: ClusterNode[]; username?: string; password?: string; tls: boolean };

const CLUSTER_SCHEMES = new Set(['redis+cluster:', 'rediss+cluster:']);

export function isClusterUrl(url: string): boolean {
  try {
    return CLUSTER_SCHEMES.has(new URL(url).protocol);
  } catch {
    return false;
  }
}

function hostPort(text: string): ClusterNode {
  const at = text.lastIndexOf(':');
  const host = at > 0 ? text.slice(0, at) : text;
  const port = at > 0 ? Number(text.slice(at + 1)) : 6379;
  if (!host || !Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`bad Redis Cluster node "${text}" (host:port)`);
  return { host: host.replace(/^\[|\]$/g, ''), port };
}

export function parseRedisUrl(url: string): RedisTarget {
  const u = new URL(url);
  if (!CLUSTER_SCHEMES.has(u.protocol)) return { kind: 'node', url };
  const seed: ClusterNode = { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 6379) };
  const extra = (u.searchParams.get('nodes') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(hostPort);
  return {
    kind: 'cluster',
    nodes: [seed, ...extra],
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    tls: u.protocol === 'rediss+cluster:',
  };
}

/** A client for REDIS_URL with these per-connection options (retries, lazyConnect, …), node or cluster alike. */
export function connectRedis(url: string, options: RedisOptions = {}): RedisClient {
  const target = parseRedisUrl(url);
  if (target.kind === 'node') return new Redis(url, options);
  const { lazyConnect, ...perNode } = options;
  return new Cluster(target.nodes, {
    lazyConnect,
    redisOptions: {
      ...perNode,
      username: target.username,
      password: target.password,
      ...(target.tls ? { tls: {} } : {}),
    },
    // A node that failed over: follow the MOVED/ASK redirections and refresh the slot map.
    maxRedirections: 16,
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 200,
    slotsRefreshTimeout: 2000,
  });
}

/**
 * The BullMQ key prefix. On a cluster each queue's keys carry a hash tag (`<prefix>:{<queue>}`), so
 * the keys one BullMQ script touches live in one slot while different queues spread over the shards.
 * On a single node the prefix is unchanged (existing keys stay where they are).
 */
export function bullPrefix(url: string, prefix: string, queue: string): string {
  return isClusterUrl(url) ? `${prefix}:{${queue}}` : prefix;
}

/** Closes a client politely (QUIT), cutting it if Redis does not answer in time. */
export async function closeRedis(client: RedisClient, ms = 1000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  try {
    await Promise.race([client.quit().then(() => undefined, () => undefined), late]);
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}
