import type { Request, RequestHandler, Response } from 'express';
import type { RedisClient as Redis } from '../../lib/redis'; // a node or a Redis Cluster
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { log } from '../../lib/logger';
import { callerOf } from './credentials';
import { EdgeCode, EdgeError, sendEdgeError } from './errors';
import { operationsOf } from './operations';

/** `points` operations per `durationSeconds` window; `false` turns that limit off. */
export type RateLimitRule = { points: number; durationSeconds: number };
export type RateLimitScope = 'ip' | 'user' | 'apiKey' | 'tenant';
export type RateLimitOptions = Partial<Record<RateLimitScope, RateLimitRule | false>>;

/** Generous enough for a busy dashboard and for the test suites; tighten per deployment. */
export const RATE_LIMIT_DEFAULTS: Record<RateLimitScope, RateLimitRule> = {
  ip: { points: 1200, durationSeconds: 60 },
  user: { points: 600, durationSeconds: 60 },
  apiKey: { points: 300, durationSeconds: 60 },
  tenant: { points: 3000, durationSeconds: 60 },
};

type Limiter = { scope: RateLimitScope; rule: RateLimitRule; limiter: RateLimiterAbstract };
type Verdict = { scope: RateLimitScope; rule: RateLimitRule; res: RateLimiterRes };

export type RateLimiters = {
  /** Charges `points` to every applicable key; the tightest verdict, and whether it is a refusal. */
  consume(keys: Partial<Record<RateLimitScope, string>>, points: number): Promise<{ verdict?: Verdict; limited: boolean }>;
};

/**
 * One limiter per scope: RateLimiterRedis (shared by every gateway replica) when Redis is given,
 * with an in-memory insurance limiter for when Redis is unreachable; RateLimiterMemory otherwise.
 */
export function createRateLimiters(opts: RateLimitOptions, store: { redis?: Redis; redisPrefix: string }): RateLimiters {
  const limiters: Limiter[] = [];
  for (const scope of Object.keys(RATE_LIMIT_DEFAULTS) as RateLimitScope[]) {
    const configured = opts[scope];
    if (configured === false) continue;
    const rule = configured ?? RATE_LIMIT_DEFAULTS[scope];
    const base = { points: rule.points, duration: rule.durationSeconds, keyPrefix: `${store.redisPrefix}:gateway:rl:${scope}` };
    const limiter = store.redis
      ? new RateLimiterRedis({
          ...base,
          storeClient: store.redis,
          // Redis down or reconnecting: count in this process at once instead of waiting on Redis.
          rejectIfRedisNotReady: true,
          insuranceLimiter: new RateLimiterMemory(base),
        })
      : new RateLimiterMemory(base);
    limiters.push({ scope, rule, limiter });
  }
  return {
    async consume(keys, points) {
      let tightest: Verdict | undefined;
      for (const { scope, rule, limiter } of limiters) {
        const key = keys[scope];
        if (!key) continue;
        try {
          const res = await limiter.consume(key, points);
          if (!tightest || res.remainingPoints < tightest.res.remainingPoints) tightest = { scope, rule, res };
        } catch (err) {
          if (err instanceof RateLimiterRes) return { verdict: { scope, rule, res: err }, limited: true };
          // Both Redis and the insurance limiter failed: let the request through rather than take the API down.
          log().error({ err: (err as Error).message, scope }, 'rate limiter failed; request allowed');
        }
      }
      return { verdict: tightest, limited: false };
    },
  };
}

/** IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers) for the tightest limit that applied. */
function setHeaders(res: Response, v: Verdict, limited: boolean): void {
  const resetSeconds = Math.max(1, Math.ceil(v.res.msBeforeNext / 1000));
  res.set('RateLimit-Limit', String(v.rule.points));
  res.set('RateLimit-Remaining', String(limited ? 0 : Math.max(0, v.res.remainingPoints)));
  res.set('RateLimit-Reset', String(resetSeconds));
  res.set('RateLimit-Policy', `${v.rule.points};w=${v.rule.durationSeconds}`);
  if (limited) res.set('Retry-After', String(resetSeconds));
}

/** Each operation in a request costs one point (a batch of 10 costs 10). */
const pointsOf = (req: Request): number => Math.max(1, operationsOf(req).length);

/**
 * Charges the request to its limits and answers 429 RATE_LIMITED (with Retry-After) when one is
 * spent. `stage: 'ip'` runs before credentials are looked at; `'caller'` after, keyed by the JWT's
 * `sub` and `tid` or by the API key's `abt_live_<prefix>`.
 */
export function rateLimit(limiters: RateLimiters, stage: 'ip' | 'caller'): RequestHandler {
  return (req, res, next) => {
    const keys: Partial<Record<RateLimitScope, string>> = {};
    if (stage === 'ip') keys.ip = req.ip ?? req.socket.remoteAddress ?? 'unknown';
    else {
      const caller = callerOf(res.locals);
      if (caller.kind === 'user') {
        keys.user = caller.userId;
        keys.tenant = caller.tenantId;
      } else if (caller.kind === 'apiKey') keys.apiKey = caller.keyId;
      if (!keys.user && !keys.apiKey) return next();
    }
    const points = pointsOf(req);
    limiters.consume(keys, points).then(({ verdict, limited }) => {
      const previous = res.locals.rateLimitRemaining as number | undefined;
      if (verdict && (limited || previous === undefined || verdict.res.remainingPoints < previous)) {
        setHeaders(res, verdict, limited);
        res.locals.rateLimitRemaining = verdict.res.remainingPoints;
      }
      if (!limited || !verdict) return next();
      const retryAfterSeconds = Math.max(1, Math.ceil(verdict.res.msBeforeNext / 1000));
      const caller = callerOf(res.locals);
      // Warn once per key and window (the request that crossed the limit); the rest at debug, so a
      // flood of refused requests does not become a flood of log lines.
      const firstRefusal = verdict.res.consumedPoints - points <= verdict.rule.points;
      log()[firstRefusal ? 'warn' : 'debug'](
        {
          scope: verdict.scope,
          ip: req.ip,
          userId: caller.kind === 'user' ? caller.userId : undefined,
          tenantId: caller.kind === 'user' ? caller.tenantId : undefined,
          keyId: caller.kind === 'apiKey' ? caller.keyId : undefined,
        },
        'rate limited',
      );
      sendEdgeError(
        res,
        new EdgeError(EdgeCode.RATE_LIMITED, `rate limit exceeded (${verdict.scope}); retry in ${retryAfterSeconds} s`, 429, {
          scope: verdict.scope,
          retryAfterSeconds,
        }),
      );
    }, next);
  };
}
