import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { TEST_REDIS_URL } from '../../test/helpers/db';
import { createRateLimiters } from './rate-limit';

describe('rate limiters', () => {
  it('memory: counts points per key and scope, reports the tightest limit, refuses when spent', async () => {
    const l = createRateLimiters(
      { ip: { points: 10, durationSeconds: 60 }, user: { points: 3, durationSeconds: 60 }, tenant: false },
      { redisPrefix: 'unit' },
    );
    const first = await l.consume({ ip: '1.1.1.1', user: 'u1', tenant: 't1' }, 1);
    expect(first.limited).toBe(false);
    expect(first.verdict).toMatchObject({ scope: 'user', rule: { points: 3 } });
    expect(first.verdict!.res.remainingPoints).toBe(2);
    await l.consume({ user: 'u1' }, 2);
    const over = await l.consume({ ip: '1.1.1.1', user: 'u1' }, 1);
    expect(over.limited).toBe(true);
    expect(over.verdict!.scope).toBe('user');
    expect(over.verdict!.res.msBeforeNext).toBeGreaterThan(0);
    // Another user is unaffected; the IP has points left.
    expect((await l.consume({ ip: '1.1.1.1', user: 'u2' }, 1)).limited).toBe(false);
  });

  it('charges a batch one point per operation', async () => {
    const l = createRateLimiters({ apiKey: { points: 10, durationSeconds: 60 } }, { redisPrefix: 'unit' });
    expect((await l.consume({ apiKey: 'abt_live_AAAAAAAAAAAA' }, 10)).limited).toBe(false);
    expect((await l.consume({ apiKey: 'abt_live_AAAAAAAAAAAA' }, 1)).limited).toBe(true);
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

    it('shares the count between gateway replicas through Redis', async () => {
      const a = createRateLimiters({ tenant: { points: 4, durationSeconds: 60 } }, { redis, redisPrefix: prefix });
      const b = createRateLimiters({ tenant: { points: 4, durationSeconds: 60 } }, { redis, redisPrefix: prefix });
      await a.consume({ tenant: 't1' }, 2);
      await b.consume({ tenant: 't1' }, 2);
      expect((await a.consume({ tenant: 't1' }, 1)).limited).toBe(true);
      expect(await redis.exists(`${prefix}:gateway:rl:tenant:t1`)).toBe(1);
    });

    it('falls back to its in-memory insurance when Redis is down', async () => {
      const broken = { status: 'reconnecting' } as unknown as Redis;
      const l = createRateLimiters({ ip: { points: 2, durationSeconds: 60 } }, { redis: broken, redisPrefix: prefix });
      expect((await l.consume({ ip: '9.9.9.9' }, 2)).limited).toBe(false);
      expect((await l.consume({ ip: '9.9.9.9' }, 1)).limited).toBe(true);
    });
  });
});
