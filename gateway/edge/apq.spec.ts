import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { configureLogger } from '../../lib/logger';
import { TEST_REDIS_URL } from '../../test/helpers/db';
import { ManifestFirstCache, MemoryStringCache, RedisStringCache, persistedQueries } from './apq';

configureLogger(process.env.TEST_LOG_LEVEL ?? 'silent');

describe('the APQ caches', () => {
  it('memory: evicts the least recently used entry and expires by TTL', async () => {
    const c = new MemoryStringCache(2, 60);
    await c.set('a', '1');
    await c.set('b', '2');
    expect(await c.get('a')).toBe('1'); // a is now the most recent
    await c.set('c', '3');
    expect(await c.get('b')).toBeUndefined();
    expect(await c.get('a')).toBe('1');
    await c.set('d', '4', { ttl: 0.001 });
    await new Promise((r) => setTimeout(r, 10));
    expect(await c.get('d')).toBeUndefined();
  });

  it('manifest first: manifest ids always resolve and cannot be overwritten; the rest is the registered cache', async () => {
    const registered = new MemoryStringCache(10, 60);
    const c = new ManifestFirstCache(new Map([['abc', 'query A { tenant { id } }']]), registered);
    expect(await c.get('apq:abc')).toBe('query A { tenant { id } }');
    await c.set('apq:abc', 'query Evil { me { id } }');
    expect(await c.get('apq:abc')).toBe('query A { tenant { id } }');
    expect(registered.size).toBe(0);
    expect(await c.get('apq:def')).toBeUndefined();
    await c.set('apq:def', '{ btcPrice { price } }');
    expect(await c.get('apq:def')).toBe('{ btcPrice { price } }');
  });

  describe('Redis (real)', () => {
    let redis: Redis;
    const prefix = `abt-test-${randomBytes(4).toString('hex')}`;
    beforeAll(async () => {
      redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
      await redis.ping();
    });
    afterAll(async () => {
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length) await redis.del(...keys);
      await redis.quit();
    });

    it('stores under the prefix with a TTL, and is what persistedQueries() picks when Redis is given', async () => {
      const { cache, ttl } = persistedQueries(new Map(), { redis, redisPrefix: prefix, ttlSeconds: 120 });
      expect(ttl).toBe(120);
      await cache.set('apq:h1', '{ tenant { id } }', { ttl: 120 });
      expect(await redis.get(`${prefix}:gateway:apq:h1`)).toBe('{ tenant { id } }');
      const remaining = await redis.ttl(`${prefix}:gateway:apq:h1`);
      expect(remaining).toBeGreaterThan(100);
      expect(remaining).toBeLessThanOrEqual(120);
      expect(await cache.get('apq:h1')).toBe('{ tenant { id } }');
      expect(await cache.delete('apq:h1')).toBe(true);
      expect(await cache.get('apq:h1')).toBeUndefined();
    });

    it('treats a Redis failure as a miss (the client then sends the full query)', async () => {
      const broken = { get: async () => Promise.reject(new Error('Connection is closed.')) } as unknown as Redis;
      const c = new RedisStringCache(broken, 'x:', 60);
      expect(await c.get('apq:h')).toBeUndefined();
    });
  });
});
