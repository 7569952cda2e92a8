import { randomBytes, randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { Redis } from 'ioredis';
import { InProcessBus } from '../../lib/bus';
import { openAppOrm } from '../../lib/db/orm';
import { createHttpApp, listen } from '../../lib/http';
import { configureLogger } from '../../lib/logger';
import {
  observePurchaseOutcome,
  recordCacheLookup,
  recordSecurityEvent,
  registry,
  routeOf,
  setSubscriberCount,
} from '../../lib/metrics';
import { OutboxRelay } from '../../lib/outbox';
import { BullQueue, InProcessQueue } from '../../lib/queue';
import { ExchangeError } from '../../subgraphs/treasury/exchanges/exchange.types';
import { operationOf, sendHttp } from '../../subgraphs/treasury/exchanges/exchange-http';
import { TEST_REDIS_URL, createTestDatabase, type TestDatabase } from '../helpers/db';
import { until } from '../helpers/wait';

/** The metrics ops/monitoring relies on, with the labels its rules and dashboard use. */
export const APP_METRICS: Record<string, string[]> = {
  abt_http_request_duration_seconds: ['service', 'method', 'route', 'status'],
  abt_graphql_requests_total: ['service', 'outcome'],
  abt_graphql_request_duration_seconds: ['service'],
  abt_jobs_total: ['queue', 'outcome'],
  abt_purchases_total: ['plan', 'exchange', 'outcome'],
  abt_purchase_processing_seconds: ['plan', 'exchange', 'outcome'],
  abt_exchange_request_duration_seconds: ['exchange', 'operation', 'outcome'],
  abt_queue_depth: ['queue', 'state'],
  abt_outbox_lag_seconds: [],
  abt_outbox_last_pass_timestamp_seconds: [],
  abt_gateway_subscribers: [],
  abt_cache_lookups_total: ['cache', 'outcome'],
  abt_dependency_up: ['service', 'dependency'],
  abt_security_events_total: ['event'],
};

type Sample = { labels: Record<string, string | number>; value: number; metricName?: string };
async function samples(name: string): Promise<Sample[]> {
  const m = registry.getSingleMetric(name);
  if (!m) throw new Error(`${name} is not registered`);
  return (await m.get()).values as Sample[];
}
const valueOf = async (name: string, labels: Record<string, string>, metricName = name): Promise<number | undefined> =>
  (await samples(name)).find((s) => (s.metricName ?? name) === metricName && Object.entries(labels).every(([k, v]) => String(s.labels[k]) === v))?.value;

beforeAll(() => configureLogger('silent'));

describe('lib/metrics registry', () => {
  it.each(Object.entries(APP_METRICS))('%s is registered with its labels', (name, labels) => {
    const m = registry.getSingleMetric(name) as unknown as { labelNames: string[] } | undefined;
    expect(m).toBeDefined();
    expect([...m!.labelNames].sort()).toEqual([...labels].sort());
  });

  it('observePurchaseOutcome counts the purchase and its processing time by plan, exchange and outcome', async () => {
    observePurchaseOutcome({ plan: 'pool', exchange: 'kraken', outcome: 'FAILED', seconds: 2 });
    observePurchaseOutcome({ plan: 'pool', exchange: 'kraken', outcome: 'FILLED', seconds: 0.3 });
    expect(await valueOf('abt_purchases_total', { plan: 'pool', exchange: 'kraken', outcome: 'FAILED' })).toBe(1);
    expect(await valueOf('abt_purchase_processing_seconds', { outcome: 'FILLED', le: '0.5' }, 'abt_purchase_processing_seconds_bucket')).toBe(1);
  });

  it('the setters the gateway and caches call', async () => {
    setSubscriberCount(42);
    recordCacheLookup('apq', true);
    recordCacheLookup('apq', false);
    recordSecurityEvent('audit_chain_broken');
    expect(await valueOf('abt_gateway_subscribers', {})).toBe(42);
    expect(await valueOf('abt_cache_lookups_total', { cache: 'apq', outcome: 'hit' })).toBe(1);
    expect(await valueOf('abt_security_events_total', { event: 'audit_chain_broken' })).toBe(1);
  });

  it('routes are templated so ids never become label values', () => {
    expect(routeOf('/graphql')).toBe('/graphql');
    expect(routeOf('/webhooks/stripe/8f14e45f-ceea-467f-a0e6-0c4b8d1d3a1b')).toBe('/webhooks/stripe/:integrationId');
    expect(routeOf('/webhooks/evil/123')).toBe('/webhooks/:provider/:integrationId');
    expect(routeOf('/assets/index-abc123.js')).toBe('/assets/*');
    expect(routeOf('/settings/integrations')).toBe('/*');
  });
});

describe('HTTP: every role measures each request and its readiness checks', () => {
  it('response time, throughput and status by endpoint; dependency up/down from /api/ready', async () => {
    let dbUp = true;
    const app = createHttpApp('metrics-test', [
      {
        name: 'database',
        check: () => (dbUp ? Promise.resolve() : Promise.reject(new Error('down'))),
      },
    ]);
    app.get('/boom', (_req, res) => void res.status(500).end());
    const server = await listen(app, '127.0.0.1', 0);
    try {
      expect((await fetch(`${server.url}/api/ready`)).status).toBe(200);
      expect(await valueOf('abt_dependency_up', { service: 'metrics-test', dependency: 'database' })).toBe(1);
      dbUp = false;
      expect((await fetch(`${server.url}/api/ready`)).status).toBe(503);
      expect(await valueOf('abt_dependency_up', { service: 'metrics-test', dependency: 'database' })).toBe(0);
      await (await fetch(`${server.url}/boom?x=1`)).arrayBuffer();
      await until('requests measured', async () =>
        (await valueOf('abt_http_request_duration_seconds', { service: 'metrics-test', route: '/*', status: '500' }, 'abt_http_request_duration_seconds_count')) === 1 ? true : undefined,
      );
      expect(await valueOf('abt_http_request_duration_seconds', { service: 'metrics-test', route: '/api/ready', status: '503', method: 'GET' }, 'abt_http_request_duration_seconds_count')).toBe(1);
    } finally {
      await server.close();
    }
  });
});

describe('exchange API calls (subgraphs/treasury/exchanges/exchange-http.ts)', () => {
  it('operation labels template ids and drop the query string', () => {
    expect(operationOf('POST', 'https://api.kraken.com/0/private/AddOrder')).toBe('POST /0/private/AddOrder');
    expect(operationOf('GET', 'https://api.swyftx.com.au/live-rates/36/?x=1')).toBe('GET /live-rates/:id/');
    expect(operationOf('GET', 'https://x.test/orders/8f14e45f-ceea-467f-a0e6-0c4b8d1d3a1b')).toBe('GET /orders/:id');
  });

  it('each call is measured by exchange, operation and outcome, failures included', async () => {
    const ok: typeof fetch = () => Promise.resolve(new Response('{}', { status: 200 }));
    const limited: typeof fetch = () => Promise.resolve(new Response('{}', { status: 429 }));
    const refused: typeof fetch = () => Promise.reject(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } }));
    const base = { exchange: 'kraken' as const, method: 'GET' as const, timeoutMs: 1000, mutation: false };
    await sendHttp({ ...base, url: 'https://k.test/0/public/Ticker', fetchImpl: ok });
    await sendHttp({ ...base, url: 'https://k.test/0/public/Ticker', fetchImpl: limited });
    await expect(sendHttp({ ...base, url: 'https://k.test/0/public/Ticker', fetchImpl: refused })).rejects.toBeInstanceOf(ExchangeError);
    const count = (outcome: string) =>
      valueOf('abt_exchange_request_duration_seconds', { exchange: 'kraken', operation: 'GET /0/public/Ticker', outcome }, 'abt_exchange_request_duration_seconds_count');
    expect(await count('ok')).toBe(1);
    expect(await count('rate_limited')).toBe(1);
    expect(await count('network_error')).toBe(1);
  });
});

describe('queue depth and outbox lag (real Redis and PostgreSQL)', () => {
  it('in-process queue: waiting and active jobs of the queues this process consumes', async () => {
    const q = new InProcessQueue();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    q.process('schedules', () => gate, { concurrency: 1 });
    for (let i = 0; i < 3; i++) await q.add('schedules', 'r', {}, { jobId: `depth-${i}` });
    await until('depth', async () => ((await valueOf('abt_queue_depth', { queue: 'schedules', state: 'waiting' })) === 2 ? true : undefined));
    expect(await valueOf('abt_queue_depth', { queue: 'schedules', state: 'active' })).toBe(1);
    release();
    await q.close();
    expect(await valueOf('abt_queue_depth', { queue: 'schedules' })).toBeUndefined();
  });

  it('BullMQ: counts read from Redis at scrape time', async () => {
    const prefix = `abt-test-metrics-${randomBytes(4).toString('hex')}`;
    const q = new BullQueue(TEST_REDIS_URL, prefix);
    const redis = new Redis(TEST_REDIS_URL);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    try {
      q.process('purchases', () => gate, { concurrency: 1 });
      for (let i = 0; i < 4; i++) await q.add('purchases', 'sync', {}, { jobId: `depth-${i}` });
      await q.add('purchases', 'later', {}, { jobId: 'depth-delayed', delayMs: 60_000 });
      await until(
        'BullMQ depth',
        async () => ((await valueOf('abt_queue_depth', { queue: 'purchases', state: 'active' })) === 1 ? true : undefined),
        10_000,
      );
      expect(await valueOf('abt_queue_depth', { queue: 'purchases', state: 'waiting' })).toBe(3);
      expect(await valueOf('abt_queue_depth', { queue: 'purchases', state: 'delayed' })).toBe(1);
    } finally {
      release();
      await q.close();
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    }
  });

  describe('outbox relay', () => {
    let db: TestDatabase;
    let relayOrm: MikroORM;
    const tenantId = randomUUID();
    beforeAll(async () => {
      db = await createTestDatabase();
      await db.owner.em.getConnection().execute(`insert into public.tenant (id, name) values (?, 'Metrics Pty Ltd')`, [tenantId]);
      relayOrm = await openAppOrm(db.relayUrl, [], 2);
    }, 60_000);
    afterAll(async () => {
      await relayOrm?.close(true);
      await db?.drop();
    });

    it('abt_outbox_lag_seconds: how long the oldest row a pass moved had waited; 0 when none waited', async () => {
      await db.owner.em
        .getConnection()
        .execute(`insert into pool.outbox (tenant_id, id, queue, job_name, payload, created_at) values (?, ?, 'schedules', 'r', '{}', now() - interval '42 seconds')`, [
          tenantId,
          randomUUID(),
        ]);
      const queue = new InProcessQueue();
      const bus = new InProcessBus();
      const relay = new OutboxRelay(relayOrm, queue, bus, 60_000);
      const before = Date.now() / 1000;
      expect(await relay.drain()).toBe(1);
      const lag = (await valueOf('abt_outbox_lag_seconds', {}))!;
      expect(lag).toBeGreaterThanOrEqual(42);
      expect(lag).toBeLessThan(60);
      expect((await valueOf('abt_outbox_last_pass_timestamp_seconds', {}))!).toBeGreaterThanOrEqual(Math.floor(before));
      expect(await relay.drain()).toBe(0);
      expect(await valueOf('abt_outbox_lag_seconds', {})).toBe(0);
      await queue.close();
      await bus.close();
    });
  });
});
