import { randomBytes, randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { InProcessBus, RedisBus, type BusEvent, type EventBus } from '../../lib/bus';
import { OUTBOX_KICK_CHANNEL, type BtcPriceEvent, type PurchaseUpdatedEvent, type TreasuryRuleChangedEvent } from '../../lib/events';
import { configureLogger } from '../../lib/logger';
import { BullQueue, InProcessQueue, type JobInfo, type JobQueue, type QueueName } from '../../lib/queue';
import { TEST_REDIS_URL, eventually } from '../helpers/db';
import { at as itemAt } from '../helpers/present';

/**
 * The event bus and the job queue against real Redis (pub/sub, BullMQ), and their in-process
 * stand-ins held to the same contracts. Every Redis key lives under one prefix per run.
 */

const RUN = `abt-itest-${randomBytes(5).toString('hex')}`;
let counter = 0;
const unique = (what: string): string => `${RUN}:${what}${++counter}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let raw: Redis;

beforeAll(() => {
  configureLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
  raw = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 3 });
});

afterAll(async () => {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await raw.scan(cursor, 'MATCH', `${RUN}*`, 'COUNT', 500);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  if (keys.length > 0) await raw.del(...keys);
  const [, left] = await raw.scan('0', 'MATCH', `${RUN}*`, 'COUNT', 10_000);
  await raw.quit();
  expect(left).toEqual([]);
});

// ---------------------------------------------------------------------------------------------
// Event bus
// ---------------------------------------------------------------------------------------------

type Received = [channel: string, event: BusEvent];

function inbox(): { got: Received[]; handler: (channel: string, event: BusEvent) => void } {
  const got: Received[] = [];
  return { got, handler: (channel, event) => void got.push([channel, event]) };
}

/** Purchase ids by label, so expectations read "before", "between", "after". */
const ids = new Map<string, string>();
const pid = (label: string): string => {
  if (!ids.has(label)) ids.set(label, randomUUID());
  return ids.get(label) ?? '';
};
const at = new Date('2026-11-25T10:00:00.000Z').toISOString();
const purchase = (tenant: string, label: string): PurchaseUpdatedEvent => ({
  __typename: 'PurchaseUpdated',
  version: 1,
  tenantId: tenant,
  purchaseId: pid(label),
  status: 'FILLED',
  previousStatus: 'SUBMITTED',
  at,
});
const ruleChanged = (tenant: string): TreasuryRuleChangedEvent => ({ __typename: 'TreasuryRuleChanged', version: 1, tenantId: tenant, id: randomUUID(), change: 'CREATED', ruleVersion: 1 });
const tick = (currency: 'AUD' | 'USD', price = '101234.56'): BtcPriceEvent => ({ __typename: 'BtcPrice', version: 1, currency, price, source: 'KRAKEN', sources: ['KRAKEN'], at });

/**
 * Proves absence without sleeping: subscribers get messages in the order the bus accepted them,
 * so once a sentinel published afterwards has arrived on every bus, anything earlier has too.
 */
async function withSentinel(buses: EventBus[]): Promise<() => Promise<void>> {
  const boxes = await Promise.all(
    buses.map(async (bus) => {
      const box = inbox();
      await bus.subscribe(OUTBOX_KICK_CHANNEL, box.handler);
      return box;
    }),
  );
  let n = 0;
  return async () => {
    n++;
    await buses[0]?.publish(OUTBOX_KICK_CHANNEL, { __typename: 'OutboxKick', version: 1 });
    await eventually(
      async () => boxes.map((b) => b.got.length),
      (counts) => counts.every((c) => c >= n),
    );
  };
}

const busImpls: { kind: string; make: (prefix: string) => EventBus }[] = [
  { kind: 'RedisBus', make: (prefix) => new RedisBus(TEST_REDIS_URL, prefix) },
  { kind: 'InProcessBus', make: () => new InProcessBus() },
];

describe.each(busImpls)('$kind', ({ kind, make }) => {
  const open: EventBus[] = [];
  const newBus = (prefix: string): EventBus => {
    const bus = make(prefix);
    open.push(bus);
    return bus;
  };
  let bus: EventBus;
  let settle: () => Promise<void>;

  beforeEach(async () => {
    bus = newBus(unique('bus'));
    settle = await withSentinel([bus]);
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((b) => b.close()));
  });

  it('reports its kind', () => {
    expect(bus.kind).toBe(kind === 'RedisBus' ? 'redis' : 'in-process');
  });

  it('delivers an event on an exact channel with its local channel name and an equal payload, and nothing from other channels', async () => {
    const box = inbox();
    await bus.subscribe('price.btc.aud', box.handler);
    await bus.publish('price.btc.usd', tick('USD'));
    await bus.publish('price.btc.aud', tick('AUD'));
    await bus.publish('price.btc.aud.old', tick('AUD'));
    await settle();
    expect(box.got).toEqual([['price.btc.aud', tick('AUD')]]);
  });

  it("matches tenant.*.purchase against every tenant's purchase channel and nothing else", async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const box = inbox();
    await bus.subscribe('tenant.*.purchase', box.handler);
    await bus.publish(`tenant.${a}.purchase`, purchase(a, 'p1'));
    await bus.publish(`tenant.${a}.rule`, ruleChanged(a));
    await bus.publish('price.btc.aud', tick('AUD'));
    await bus.publish(`tenant.${b}.purchase`, purchase(b, 'p2'));
    // Channels outside the catalog do not type-check; forced through, they are still not delivered.
    await bus.publish<string>(`tenant.${b}.purchases`, purchase(b, 'p3'));
    await bus.publish<string>(`xtenant.${b}.purchase`, purchase(b, 'p4'));
    await settle();
    expect(box.got).toEqual([
      [`tenant.${a}.purchase`, purchase(a, 'p1')],
      [`tenant.${b}.purchase`, purchase(b, 'p2')],
    ]);
  });

  it('delivers one publish once to each subscriber: two on the pattern, one on the exact channel', async () => {
    const t = randomUUID();
    const [p1, p2, exact] = [inbox(), inbox(), inbox()];
    await bus.subscribe('tenant.*.purchase', p1.handler);
    await bus.subscribe('tenant.*.purchase', p2.handler);
    await bus.subscribe(`tenant.${t}.purchase`, exact.handler);
    await bus.publish(`tenant.${t}.purchase`, purchase(t, 'p1'));
    await settle();
    const once: Received[] = [[`tenant.${t}.purchase`, purchase(t, 'p1')]];
    expect([p1.got, p2.got, exact.got]).toEqual([once, once, once]);
  });

  it('stops delivering to an unsubscribed handler, keeps the others, and tolerates a second unsubscribe', async () => {
    const t = randomUUID();
    const [first, second, exact] = [inbox(), inbox(), inbox()];
    const offFirst = await bus.subscribe('tenant.*.purchase', first.handler);
    const offSecond = await bus.subscribe('tenant.*.purchase', second.handler);
    const offExact = await bus.subscribe(`tenant.${t}.purchase`, exact.handler);
    await bus.publish(`tenant.${t}.purchase`, purchase(t, 'before'));
    await settle();
    await offFirst();
    await offExact();
    await bus.publish(`tenant.${t}.purchase`, purchase(t, 'between'));
    await settle();
    await offFirst();
    await offExact();
    await offSecond();
    await bus.publish(`tenant.${t}.purchase`, purchase(t, 'after'));
    await settle();
    const idsOf = (box: ReturnType<typeof inbox>): string[] => box.got.map(([, e]) => (e.__typename === 'PurchaseUpdated' ? e.purchaseId : '?'));
    expect(idsOf(first)).toEqual([pid('before')]);
    expect(idsOf(exact)).toEqual([pid('before')]);
    expect(idsOf(second)).toEqual([pid('before'), pid('between')]);
  });

  it('resubscribes after the last handler left (the Redis subscription is dropped and made again)', async () => {
    const t = randomUUID();
    const box = inbox();
    const off = await bus.subscribe(`tenant.${t}.purchase`, box.handler);
    await off();
    await bus.subscribe(`tenant.${t}.purchase`, box.handler);
    await bus.publish(`tenant.${t}.purchase`, purchase(t, 'again'));
    await settle();
    expect(box.got).toEqual([[`tenant.${t}.purchase`, purchase(t, 'again')]]);
  });

  it('hands subscribers a copy: changing the event after publishing changes nothing they receive', async () => {
    const t = randomUUID();
    const box = inbox();
    await bus.subscribe(`tenant.${t}.purchase`, box.handler);
    const event = purchase(t, 'p1');
    const sent = bus.publish(`tenant.${t}.purchase`, event);
    event.status = 'FAILED';
    await sent;
    await settle();
    expect(box.got).toEqual([[`tenant.${t}.purchase`, purchase(t, 'p1')]]);
  });

  it('drops events the catalog refuses (wrong shape, unknown version, another tenant, wrong currency) and keeps delivering good ones', async () => {
    const [t, other] = [randomUUID(), randomUUID()];
    const [purchases, prices] = [inbox(), inbox()];
    await bus.subscribe('tenant.*.purchase', purchases.handler);
    await bus.subscribe('price.btc.*', prices.handler);
    const forced = (channel: string, value: unknown): Promise<void> => bus.publish<string>(channel, value as BusEvent);
    await forced(`tenant.${t}.purchase`, { ...purchase(t, 'bad'), status: 'TAMPERED' });
    await forced(`tenant.${t}.purchase`, { ...purchase(t, 'bad'), version: 2 });
    await forced(`tenant.${t}.purchase`, { ...purchase(t, 'bad'), purchaseId: 12 });
    await forced(`tenant.${t}.purchase`, purchase(other, 'bad'));
    await forced(`tenant.${t}.purchase`, ruleChanged(t));
    await forced('price.btc.aud', tick('USD'));
    await forced('price.btc.aud', { ...tick('AUD'), price: 101234.56 });
    await forced('price.btc.aud', null);
    await bus.publish(`tenant.${t}.purchase`, purchase(t, 'good'));
    await bus.publish('price.btc.aud', tick('AUD', '1.00'));
    await settle();
    expect(purchases.got).toEqual([[`tenant.${t}.purchase`, purchase(t, 'good')]]);
    expect(prices.got).toEqual([['price.btc.aud', tick('AUD', '1.00')]]);
  });

  if (kind === 'RedisBus') {
    it('delivers one publish exactly once to each of two bus instances (two gateway replicas)', async () => {
      const prefix = unique('bus');
      const [gatewayA, gatewayB, worker] = [newBus(prefix), newBus(prefix), newBus(prefix)];
      const sentinel = await withSentinel([worker, gatewayA, gatewayB]);
      const t = randomUUID();
      const [boxA, boxB, unrelated] = [inbox(), inbox(), inbox()];
      await gatewayA.subscribe('tenant.*.purchase', boxA.handler);
      await gatewayB.subscribe('tenant.*.purchase', boxB.handler);
      await gatewayB.subscribe('price.btc.aud', unrelated.handler);
      await worker.publish(`tenant.${t}.purchase`, purchase(t, 'p1'));
      await sentinel();
      const once: Received[] = [[`tenant.${t}.purchase`, purchase(t, 'p1')]];
      expect({ a: boxA.got, b: boxB.got, unrelated: unrelated.got }).toEqual({ a: once, b: once, unrelated: [] });
    });

    it('keeps deployments with different prefixes apart', async () => {
      const other = newBus(unique('bus'));
      const otherSettle = await withSentinel([other]);
      const [mine, theirs] = [inbox(), inbox()];
      await bus.subscribe('tenant.*.purchase', mine.handler);
      await other.subscribe('tenant.*.purchase', theirs.handler);
      const t = randomUUID();
      await bus.publish(`tenant.${t}.purchase`, purchase(t, 'p1'));
      await settle();
      await otherSettle();
      expect(mine.got).toHaveLength(1);
      expect(theirs.got).toEqual([]);
    });

    it('drops a malformed message on the wire and keeps delivering good ones', async () => {
      const prefix = unique('bus');
      const redisBus = newBus(prefix);
      const sentinel = await withSentinel([redisBus]);
      const t = randomUUID();
      const box = inbox();
      await redisBus.subscribe('tenant.*.purchase', box.handler);
      expect(await raw.publish(`${prefix}:tenant.${t}.purchase`, '{not json')).toBe(1);
      expect(await raw.publish(`${prefix}:tenant.${t}.purchase`, JSON.stringify({ __typename: 'Purchase', version: 1 }))).toBe(1);
      await redisBus.publish(`tenant.${t}.purchase`, purchase(t, 'good'));
      await sentinel();
      expect(box.got).toEqual([[`tenant.${t}.purchase`, purchase(t, 'good')]]);
    });

    it('holds one Redis subscription per channel however many handlers share it, and releases it with the last', async () => {
      const prefix = unique('bus');
      const redisBus = newBus(prefix);
      const t = randomUUID();
      const channel = `${prefix}:tenant.${t}.purchase`;
      const subscribers = async (): Promise<number> => {
        const reply = (await raw.call('PUBSUB', 'NUMSUB', channel)) as [string, number];
        return Number(reply[1]);
      };
      const offs = await Promise.all([inbox(), inbox(), inbox()].map((b) => redisBus.subscribe(`tenant.${t}.purchase`, b.handler)));
      expect(await subscribers()).toBe(1);
      for (const off of offs.slice(1)) await off();
      expect(await subscribers()).toBe(1);
      await offs[0]?.();
      await eventually(subscribers, (n) => n === 0);
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Job queue
// ---------------------------------------------------------------------------------------------

type Made = { queue: JobQueue; inspect?: (name: QueueName) => Queue };

function bullConnection() {
  const u = new URL(TEST_REDIS_URL);
  return { host: u.hostname, port: Number(u.port || 6379), maxRetriesPerRequest: null };
}

const queueImpls: { kind: string; make: () => Made }[] = [
  {
    kind: 'BullQueue',
    make: () => {
      const prefix = unique('q');
      return { queue: new BullQueue(TEST_REDIS_URL, prefix), inspect: (name) => new Queue(name, { connection: bullConnection(), prefix }) };
    },
  },
  { kind: 'InProcessQueue', make: () => ({ queue: new InProcessQueue() }) },
];

describe.each(queueImpls)('$kind', ({ kind, make }) => {
  let q: JobQueue;
  let inspectors: Queue[];
  let inspectFn: Made['inspect'];
  /** BullMQ's own view of a queue (Redis state), when the implementation has one. */
  const inspect = (name: QueueName): Queue | undefined => {
    if (!inspectFn) return undefined;
    const i = inspectFn(name);
    inspectors.push(i);
    return i;
  };

  beforeEach(() => {
    ({ queue: q, inspect: inspectFn } = make());
    inspectors = [];
  });

  afterEach(async () => {
    await q.close();
    await Promise.all(inspectors.map((i) => i.close()));
  });

  /** Records every run of a handler; `fail(job)` decides whether that attempt throws. */
  function recorder(fail: (job: JobInfo) => boolean = () => false) {
    const runs: (JobInfo & { at: number })[] = [];
    const handler = async (job: JobInfo): Promise<void> => {
      runs.push({ ...job, at: Date.now() });
      if (fail(job)) throw new Error(`attempt ${job.attempt} of ${job.id} failed`);
    };
    return { runs, handler };
  }
  const ran = (runs: JobInfo[], n: number) => eventually(async () => runs.length, (len) => len >= n);

  it('reports its kind', () => {
    expect(q.kind).toBe(kind === 'BullQueue' ? 'bullmq' : 'in-process');
  });

  it('runs a job with its id, name, a copy of its data and attempt 1', async () => {
    const { runs, handler } = recorder();
    q.process('audit', handler, { concurrency: 1 });
    const data = { tenantId: randomUUID(), nested: { audCents: '2500' }, list: [1, 'two'] };
    const added = q.add('audit', 'purchase.filled', data, { jobId: 'job-1' });
    data.nested.audCents = '999999';
    await added;
    await ran(runs, 1);
    expect(runs.map(({ at: _at, ...job }) => job)).toEqual([
      { id: 'job-1', name: 'purchase.filled', data: { tenantId: data.tenantId, nested: { audCents: '2500' }, list: [1, 'two'] }, attempt: 1 },
    ]);
  });

  it('holds a job added before any worker and runs it once a handler is registered', async () => {
    const { runs, handler } = recorder();
    await q.add('schedules', 'report.monthly', { month: '2026-01' }, { jobId: 'early' });
    await sleep(100);
    expect(runs).toEqual([]);
    q.process('schedules', handler, { concurrency: 1 });
    await ran(runs, 1);
    expect(runs.map((r) => [r.id, r.attempt])).toEqual([['early', 1]]);
  });

  it('runs a job added 20 times concurrently with one jobId exactly once, and ignores a later re-add', async () => {
    const { runs, handler } = recorder();
    q.process('purchases', handler, { concurrency: 1 });
    await Promise.all(Array.from({ length: 20 }, (_, i) => q.add('purchases', 'purchase.submit', { copy: i }, { jobId: 'purchase-42' })));
    await ran(runs, 1);
    await q.add('purchases', 'purchase.submit', { copy: 'late' }, { jobId: 'purchase-42' });
    await q.add('purchases', 'purchase.submit', { copy: 'sentinel' }, { jobId: 'sentinel' });
    await ran(runs, 2);
    await sleep(200);
    expect(runs.map((r) => r.id)).toEqual(['purchase-42', 'sentinel']);
    expect(itemAt(runs, 0, 'runs').data).toEqual({ copy: 0 }); // the first add wins
    const bull = inspect('purchases');
    if (bull) {
      expect(await bull.getJobCounts('completed', 'failed', 'waiting', 'delayed', 'active')).toEqual({
        completed: 2,
        failed: 0,
        waiting: 0,
        delayed: 0,
        active: 0,
      });
    }
  });

  it('deduplicates per queue: the same jobId on two queues runs on each', async () => {
    const [a, b] = [recorder(), recorder()];
    q.process('purchases', a.handler);
    q.process('schedules', b.handler);
    await q.add('purchases', 'sync', {}, { jobId: 'same-id' });
    await q.add('schedules', 'tick', {}, { jobId: 'same-id' });
    await ran(a.runs, 1);
    await ran(b.runs, 1);
    expect([a.runs.map((r) => r.name), b.runs.map((r) => r.name)]).toEqual([['sync'], ['tick']]);
  });

  it('retries a failing handler with backoff, then succeeds and stops', async () => {
    const { runs, handler } = recorder((job) => job.attempt < 3);
    q.process('payment-events', handler, { concurrency: 1 });
    await q.add('payment-events', 'stripe.charge', { n: 1 }, { jobId: 'flaky', attempts: 5 });
    await ran(runs, 3);
    await sleep(1000); // longer than the next backoff (800 ms) would be
    expect(runs.map((r) => [r.id, r.attempt])).toEqual([
      ['flaky', 1],
      ['flaky', 2],
      ['flaky', 3],
    ]);
    // Exponential backoff from 200 ms: at least 200 + 400 ms between the first and the third attempt.
    expect(itemAt(runs, 2, 'runs').at - itemAt(runs, 0, 'runs').at).toBeGreaterThanOrEqual(550);
    const bull = inspect('payment-events');
    if (bull) expect(await bull.getJobState('flaky')).toBe('completed');
  });

  it('gives up after the configured number of attempts', async () => {
    const { runs, handler } = recorder(() => true);
    q.process('audit', handler, { concurrency: 1 });
    await q.add('audit', 'email', {}, { jobId: 'doomed', attempts: 2 });
    await ran(runs, 2);
    await sleep(1000); // longer than a third attempt's backoff (400 ms)
    expect(runs.map((r) => r.attempt)).toEqual([1, 2]);
    const bull = inspect('audit');
    if (bull) expect(await bull.getJobState('doomed')).toBe('failed');
  });

  it('keeps the attempts limit of a job added before any worker', async () => {
    const { runs, handler } = recorder(() => true);
    await q.add('schedules', 'report.failing', {}, { jobId: 'early-doomed', attempts: 2 });
    await sleep(100); // the job is due and waiting for a worker
    q.process('schedules', handler, { concurrency: 1 });
    await ran(runs, 2);
    await sleep(1000); // a third attempt would come 400 ms after the second
    expect(runs.map((r) => r.attempt)).toEqual([1, 2]);
  });

  it('never runs more jobs of a queue at once than the concurrency it was given', async () => {
    let running = 0;
    const peaks: number[] = [];
    const done: string[] = [];
    q.process(
      'purchases',
      async (job) => {
        running++;
        peaks.push(running);
        await sleep(100);
        running--;
        done.push(job.id);
      },
      { concurrency: 2 },
    );
    await Promise.all(Array.from({ length: 6 }, (_, i) => q.add('purchases', 'xero.sync', {}, { jobId: `sync-${i}` })));
    await eventually(async () => done.length, (n) => n === 6);
    expect(Math.max(...peaks)).toBe(2);
  });

  it('lets a running job finish before close() resolves', async () => {
    const events: string[] = [];
    q.process('purchases', async () => {
      events.push('started');
      await sleep(300);
      events.push('finished');
    });
    await q.add('purchases', 'purchase.submit', {}, { jobId: 'in-flight' });
    await eventually(async () => events.length, (n) => n >= 1);
    await q.close();
    events.push('closed');
    expect(events).toEqual(['started', 'finished', 'closed']);
  });

  it('runs a delayed job no earlier than its delay', async () => {
    const { runs, handler } = recorder();
    q.process('schedules', handler, { concurrency: 1 });
    const added = Date.now();
    await q.add('schedules', 'dca', {}, { jobId: 'later', delayMs: 400 });
    await sleep(200);
    expect(runs).toEqual([]);
    await ran(runs, 1);
    expect(itemAt(runs, 0, 'runs').at - added).toBeGreaterThanOrEqual(390);
  });
});
