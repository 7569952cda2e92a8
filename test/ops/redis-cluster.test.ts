import { randomBytes } from 'node:crypto';
import { RedisBus } from '../../lib/bus';
import type { BtcPriceEvent } from '../../lib/events';
import { configureLogger } from '../../lib/logger';
import { BullQueue, type JobInfo } from '../../lib/queue';
import { closeRedis, connectRedis, type RedisClient } from '../../lib/redis';
import { RedisStringCache } from '../../gateway/edge/apq';
import { createRateLimiters } from '../../gateway/edge/rate-limit';
import { startRedisCluster, type LocalRedisCluster } from '../helpers/redis-cluster';
import { waitFor } from '../helpers/wait';

/** Every key of the cluster matching the pattern (SCAN on each master). */
async function keysOf(redis: RedisClient, pattern: string): Promise<string[]> {
  if (!('nodes' in redis)) throw new Error('expected a Cluster client');
  const found: string[] = [];
  for (const node of redis.nodes('master')) found.push(...(await node.keys(pattern)));
  return found.sort();
}

/** Through six local redis-server nodes in cluster mode (three masters, three replicas), with REDIS_URL=redis+cluster://. */
describe('Redis Cluster: BullMQ, pub/sub, rate limits and APQ', () => {
  let cluster: LocalRedisCluster | undefined;
  let redis: RedisClient;
  const prefix = `abt-cluster-${randomBytes(3).toString('hex')}`;

  beforeAll(async () => {
    configureLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
    cluster = await startRedisCluster();
    redis = connectRedis(cluster.url, { maxRetriesPerRequest: 3 });
  }, 60_000);
  afterAll(async () => {
    if (redis) await closeRedis(redis);
    await cluster?.stop();
  });

  it('is a cluster of three masters', async () => {
    expect('nodes' in redis).toBe(true);
    await waitFor(async () => (await redis.ping()) === 'PONG', 'the cluster to answer');
    expect(String(await redis.cluster('INFO'))).toMatch(/cluster_state:ok[\s\S]*cluster_size:3/);
  });

  it('a job flows through a BullMQ queue, its keys hash-tagged into one slot per queue', async () => {
    const queue = new BullQueue(cluster!.url, prefix);
    const seen: JobInfo[] = [];
    try {
      queue.process('payment-events', (job) => Promise.resolve(void seen.push(job)));
      queue.process('purchases', (job) => Promise.resolve(void seen.push(job)));
      await queue.add('payment-events', 'apply', { n: 1 }, { jobId: 'pe-1' });
      await queue.add('payment-events', 'apply', { n: 1 }, { jobId: 'pe-1' }); // idempotent enqueue
      await queue.addBulk([{ queue: 'purchases', name: 'execute', data: { n: 2 }, opts: { jobId: 'pu-1' } }]);
      await waitFor(() => seen.length >= 2, 'both jobs to run', 20_000);
      await new Promise((r) => setTimeout(r, 300));
      expect(seen.map((j) => [j.id, j.name, j.data])).toEqual(
        expect.arrayContaining([
          ['pe-1', 'apply', { n: 1 }],
          ['pu-1', 'execute', { n: 2 }],
        ]),
      );
      expect(seen).toHaveLength(2);
      const keys = await keysOf(redis, `${prefix}:*`);
      expect(keys.length).toBeGreaterThan(0);
      // Every BullMQ key carries its queue's hash tag: one slot per queue, queues spread over the shards.
      for (const k of keys) expect(k).toMatch(new RegExp(`^${prefix}:\\{(payment-events|purchases)\\}:(payment-events|purchases):`));
      const slots = new Set(await Promise.all(['payment-events', 'purchases'].map(async (q) => Number(await redis.cluster('KEYSLOT', `${prefix}:{${q}}:x`)))));
      expect(slots.size).toBe(2);
    } finally {
      await queue.close();
    }
  }, 60_000);

  it('a pub/sub event reaches a subscriber (published and subscribed through different nodes)', async () => {
    const publisher = new RedisBus(cluster!.url, prefix);
    const subscriber = new RedisBus(cluster!.url, prefix);
    const got: { channel: string; event: BtcPriceEvent }[] = [];
    try {
      await subscriber.subscribe('price.btc.*', (channel, event) => void got.push({ channel, event }));
      await subscriber.subscribe('price.btc.aud', () => undefined);
      const tick: BtcPriceEvent = { __typename: 'BtcPrice', version: 1, currency: 'AUD', price: '150000.12', source: 'SIMULATED', at: new Date().toISOString() };
      // The subscription is in place once a publish is seen; publish until then (SUBSCRIBE is asynchronous).
      await waitFor(
        async () => {
          await publisher.publish('price.btc.aud', tick);
          await new Promise((r) => setTimeout(r, 100));
          return got.length > 0;
        },
        'the tick to arrive',
        15_000,
      );
      expect(got[0]).toEqual({ channel: 'price.btc.aud', event: tick });
    } finally {
      await publisher.close();
      await subscriber.close();
    }
  });

  it('a rate limit counts in the cluster (shared by every gateway replica)', async () => {
    const limiters = createRateLimiters({ ip: { points: 3, durationSeconds: 60 }, user: false, apiKey: false, tenant: false }, { redis, redisPrefix: prefix });
    const other = connectRedis(cluster!.url, { maxRetriesPerRequest: 3 });
    try {
      const replica = createRateLimiters({ ip: { points: 3, durationSeconds: 60 }, user: false, apiKey: false, tenant: false }, { redis: other, redisPrefix: prefix });
      await waitFor(async () => (await other.ping()) === 'PONG', 'the second client');
      const verdicts = [];
      for (const l of [limiters, replica, limiters, replica]) verdicts.push((await l.consume({ ip: '203.0.113.7' }, 1)).limited);
      expect(verdicts).toEqual([false, false, false, true]);
      expect(await keysOf(redis, `${prefix}:gateway:rl:ip*`)).toHaveLength(1);
    } finally {
      await closeRedis(other);
    }
  });

  it('APQ stores a query and serves it back from the cluster, with its TTL', async () => {
    const cache = new RedisStringCache(redis, `${prefix}:gateway:apq:`, 300);
    const hash = 'apq:' + 'a'.repeat(64);
    await cache.set(hash, '{ __typename }');
    const otherClient = connectRedis(cluster!.url);
    try {
      const other = new RedisStringCache(otherClient, `${prefix}:gateway:apq:`, 300);
      expect(await other.get(hash)).toBe('{ __typename }');
      const ttl = await redis.ttl(`${prefix}:gateway:apq:${hash}`);
      expect(ttl).toBeGreaterThan(290);
      expect(await cache.delete(hash)).toBe(true);
      expect(await other.get(hash)).toBeUndefined();
    } finally {
      await closeRedis(otherClient);
    }
  });
});
