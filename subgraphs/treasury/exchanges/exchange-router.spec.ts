import { randomUUID } from 'node:crypto';
import { configureLogger } from '../../../lib/logger';
import { startFakeSwyftx, type FakeSwyftx } from '../../../test/fakes/swyftx.server';
import { startFakeZerocap, type FakeZerocap } from '../../../test/fakes/zerocap.server';
import { ExchangeRouter, resolveRoute, RoutingError, type RoutingAttempt } from './exchange-router';
import { ExchangeError, type ExchangeAdapter, type ExchangeName, type ExchangeOrder } from './exchange.types';
import { InMemoryOrderIdStore } from './order-id-store';
import { SwyftxClient } from './swyftx.client';
import { ZerocapClient } from './zerocap.client';

async function routingError(p: Promise<unknown>): Promise<RoutingError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof RoutingError) return err;
    throw err;
  }
  throw new Error('expected a RoutingError');
}

// Failover warnings are expected here; keep test output readable.
beforeAll(() => configureLogger('silent'));

/** Buy-routing tests never sell: an adapter's sell here is a loud failure. */
const noSell = (): Promise<never> => Promise.reject(new Error('not a sell test'));
const brief = (a: RoutingAttempt[]) => a.map((x) => `${x.exchange}:${x.operation}:${x.outcome}${x.errorKind ? `:${x.errorKind}` : ''}`);

describe('resolveRoute', () => {
  it('defaults to zerocap → swyftx and puts a tenant primary first', () => {
    expect(resolveRoute()).toEqual(['zerocap', 'swyftx']);
    expect(resolveRoute({ primary: 'kraken' })).toEqual(['kraken', 'zerocap', 'swyftx']);
    expect(resolveRoute({ primary: 'swyftx' })).toEqual(['swyftx', 'zerocap']);
    expect(resolveRoute({ primary: 'paper', failover: [] })).toEqual(['paper']);
  });
});

describe('ExchangeRouter with fake ZeroCap and Swyftx', () => {
  let zc: FakeZerocap;
  let sx: FakeSwyftx;
  let swyftxStore: InMemoryOrderIdStore;
  let recorded: RoutingAttempt[];
  let t: number;

  const adapters = () => ({
    zerocap: new ZerocapClient({ apiKey: zc.apiKey, apiSecret: zc.apiSecret, baseUrl: zc.url, timeoutMs: 5_000 }),
    swyftx: new SwyftxClient({ apiKey: sx.apiKey, baseUrl: sx.url, orderIds: swyftxStore, timeoutMs: 5_000 }),
  });
  const makeRouter = (overrides: Partial<Record<ExchangeName, ExchangeAdapter>> = {}) =>
    new ExchangeRouter({
      adapters: { ...adapters(), ...overrides },
      recorder: (a) => void recorded.push(a),
      breaker: { failureThreshold: 2, coolDownMs: 1_000 },
      now: () => t,
    });

  beforeEach(async () => {
    zc = await startFakeZerocap({ priceAudPerBtc: '100000.00' });
    sx = await startFakeSwyftx({ priceAudPerBtc: '100000.00' });
    swyftxStore = new InMemoryOrderIdStore();
    recorded = [];
    t = 1_700_000_000_000;
  });
  afterEach(async () => {
    await zc.close();
    await sx.close();
  });

  it('places on the primary (zerocap) when it is healthy', async () => {
    const id = randomUUID();
    const { order, attempts, reconciled } = await makeRouter().placeMarketBuy({ clientOrderId: id, audCents: 10_000n });
    expect(order).toMatchObject({ exchange: 'zerocap', status: 'FILLED', filledSats: 100_000n });
    expect(reconciled).toBe(false);
    expect(brief(attempts)).toEqual(['zerocap:lookup:NOT_FOUND', 'swyftx:lookup:NOT_FOUND', 'zerocap:place:IN_DOUBT', 'zerocap:place:PLACED']);
    expect(recorded).toEqual(attempts);
    expect(attempts.every((a) => a.clientOrderId === id)).toBe(true);
    // On a frozen clock the stamps still increase by a millisecond each, so listing by time keeps their order.
    expect(attempts.map((a) => a.at.getTime() - t)).toEqual([0, 1, 2, 3]);
  });

  it('routes a sell through the same machinery: lookup everywhere, intent, place on zerocap; a second route reconciles instead of selling again', async () => {
    const id = randomUUID();
    const first = await makeRouter().placeMarketSell({ clientOrderId: id, sats: 50_000n });
    expect(first.order).toMatchObject({ exchange: 'zerocap', side: 'sell', status: 'FILLED', filledSats: 50_000n, spentAudCents: 5_000n });
    expect(brief(first.attempts)).toEqual(['zerocap:lookup:NOT_FOUND', 'swyftx:lookup:NOT_FOUND', 'zerocap:place:IN_DOUBT', 'zerocap:place:PLACED']);
    const second = await makeRouter().placeMarketSell({ clientOrderId: id, sats: 50_000n });
    expect(second.reconciled).toBe(true);
    expect(second.order.exchangeOrderId).toBe(first.order.exchangeOrderId);
    expect(zc.orders()).toHaveLength(1);
  });

  it('a sell refused by the primary (swyftx: insufficient funds) stops without failover and places nothing', async () => {
    sx.setMode('insufficient-funds');
    const err = await routingError(makeRouter().placeMarketSell({ clientOrderId: randomUUID(), sats: 50_000n, policy: { primary: 'swyftx', failover: ['zerocap'] } }));
    expect(err.kind).toBe('REJECTED');
    expect(sx.orders()).toHaveLength(0);
    expect(zc.orders()).toHaveLength(0);
  });

  it('fails over zerocap → swyftx when zerocap is down', async () => {
    zc.setMode('outage');
    const { order, attempts } = await makeRouter().placeMarketBuy({ clientOrderId: randomUUID(), audCents: 10_000n });
    expect(order).toMatchObject({ exchange: 'swyftx', status: 'FILLED', filledSats: 100_000n, spentAudCents: 10_000n });
    expect(brief(attempts)).toEqual(['zerocap:lookup:FAILED:UNAVAILABLE', 'swyftx:lookup:NOT_FOUND', 'swyftx:place:IN_DOUBT', 'swyftx:place:PLACED']);
    expect(zc.orders()).toHaveLength(0);
    expect(sx.orders()).toHaveLength(1);
  });

  it('fails over when zerocap rate-limits the placement itself', async () => {
    const id = randomUUID();
    // Lookups pass, then the create call is rate limited.
    const realZc = adapters().zerocap;
    const limited: ExchangeAdapter = {
      name: 'zerocap',
      quote: () => realZc.quote(),
      getOrder: (cid) => realZc.getOrder(cid),
      health: () => realZc.health(),
      placeMarketSell: noSell,
      placeMarketBuy: async (cid, cents) => {
        zc.setMode('rate-limit');
        try {
          return await realZc.placeMarketBuy(cid, cents);
        } finally {
          zc.setMode('normal');
        }
      },
    };
    const r2 = makeRouter({ zerocap: limited });
    const { order, attempts } = await r2.placeMarketBuy({ clientOrderId: id, audCents: 5_000n });
    expect(order.exchange).toBe('swyftx');
    expect(brief(attempts)).toEqual([
      'zerocap:lookup:NOT_FOUND',
      'swyftx:lookup:NOT_FOUND',
      'zerocap:place:IN_DOUBT',
      'zerocap:place:FAILED:RATE_LIMITED',
      'swyftx:place:IN_DOUBT',
      'swyftx:place:PLACED',
    ]);
  });

  it('both down → RoutingError with every attempt recorded, nothing bought', async () => {
    zc.setMode('outage');
    sx.setMode('outage');
    const id = randomUUID();
    const err = await routingError(makeRouter().placeMarketBuy({ clientOrderId: id, audCents: 10_000n }));
    expect(err.kind).toBe('UNAVAILABLE');
    expect(err.outcomeUnknown).toBe(false);
    // Swyftx's lookup is answered from the order-id store (it has no client ids), so its outage shows at placement.
    expect(brief(err.attempts)).toEqual([
      'zerocap:lookup:FAILED:UNAVAILABLE',
      'swyftx:lookup:NOT_FOUND',
      'swyftx:place:IN_DOUBT',
      'swyftx:place:FAILED:UNAVAILABLE',
    ]);
    expect(recorded).toEqual(err.attempts);
    expect(zc.orders()).toHaveLength(0);
    expect(sx.orders()).toHaveLength(0);
  });

  it('both refuse the placement → RoutingError carrying the last kind and every attempt, each placement’s intent first', async () => {
    const down = (name: 'zerocap' | 'swyftx'): ExchangeAdapter => ({
      name,
      quote: () => Promise.reject(new Error('unused')),
      health: () => Promise.resolve({ ok: false }),
      getOrder: () => Promise.resolve(null),
      placeMarketSell: noSell,
      placeMarketBuy: async () => {
        throw new ExchangeError({ exchange: name, kind: 'UNAVAILABLE', message: 'HTTP 503' });
      },
    });
    const err = await routingError(makeRouter({ zerocap: down('zerocap'), swyftx: down('swyftx') }).placeMarketBuy({ clientOrderId: 'x1', audCents: 1n }));
    expect(err.kind).toBe('UNAVAILABLE');
    expect(brief(err.attempts)).toEqual([
      'zerocap:lookup:NOT_FOUND',
      'swyftx:lookup:NOT_FOUND',
      'zerocap:place:IN_DOUBT',
      'zerocap:place:FAILED:UNAVAILABLE',
      'swyftx:place:IN_DOUBT',
      'swyftx:place:FAILED:UNAVAILABLE',
    ]);
  });

  it('reconciliation: a retry returns the existing order instead of placing a second (fake holds exactly one)', async () => {
    const id = randomUUID();
    const first = await makeRouter().placeMarketBuy({ clientOrderId: id, audCents: 10_000n });
    // A new router and fresh clients: nothing cached in-process, the exchange is asked.
    recorded = [];
    const second = await makeRouter().placeMarketBuy({ clientOrderId: id, audCents: 10_000n });
    expect(second.reconciled).toBe(true);
    expect(second.order.exchangeOrderId).toBe(first.order.exchangeOrderId);
    expect(brief(second.attempts)).toEqual(['zerocap:lookup:FOUND_EXISTING']);
    expect(zc.orders()).toHaveLength(1);
    expect(sx.orders()).toHaveLength(0);
  });

  it('reconciliation spans the route: an order that failed over to swyftx is found there once zerocap is back', async () => {
    const id = randomUUID();
    zc.setMode('outage');
    const first = await makeRouter().placeMarketBuy({ clientOrderId: id, audCents: 10_000n });
    expect(first.order.exchange).toBe('swyftx');
    zc.setMode('normal');
    const second = await makeRouter().placeMarketBuy({ clientOrderId: id, audCents: 10_000n });
    expect(second).toMatchObject({ reconciled: true, order: { exchange: 'swyftx', exchangeOrderId: first.order.exchangeOrderId } });
    expect(brief(second.attempts)).toEqual(['zerocap:lookup:NOT_FOUND', 'swyftx:lookup:FOUND_EXISTING']);
    expect(zc.orders()).toHaveLength(0);
    expect(sx.orders()).toHaveLength(1);
  });

  it('a placement with unknown outcome is reconciled on the same exchange, never failed over', async () => {
    zc.setMode('drop-after-place');
    const id = randomUUID();
    const { order, attempts, reconciled } = await makeRouter().placeMarketBuy({ clientOrderId: id, audCents: 10_000n });
    expect(reconciled).toBe(true);
    expect(order).toMatchObject({ exchange: 'zerocap', clientOrderId: id, status: 'FILLED' });
    expect(brief(attempts)).toEqual([
      'zerocap:lookup:NOT_FOUND',
      'swyftx:lookup:NOT_FOUND',
      'zerocap:place:IN_DOUBT',
      'zerocap:place:FAILED:UNAVAILABLE',
      'zerocap:reconcile:FOUND_EXISTING',
    ]);
    expect(zc.orders()).toHaveLength(1);
    expect(sx.orders()).toHaveLength(0);
  });

  it('REJECTED does not move money elsewhere', async () => {
    zc.setMode('insufficient-funds');
    const err = await routingError(makeRouter().placeMarketBuy({ clientOrderId: randomUUID(), audCents: 10_000n }));
    expect(err.kind).toBe('REJECTED');
    expect(brief(err.attempts).at(-1)).toBe('zerocap:place:FAILED:REJECTED');
    expect(sx.orders()).toHaveLength(0);
  });

  it('AUTH does not move money elsewhere', async () => {
    const badZc = new ZerocapClient({ apiKey: zc.apiKey, apiSecret: 'wrong', baseUrl: zc.url });
    const err = await routingError(makeRouter({ zerocap: badZc }).placeMarketBuy({ clientOrderId: randomUUID(), audCents: 10_000n }));
    expect(err.kind).toBe('AUTH');
    expect(brief(err.attempts)).toEqual(['zerocap:lookup:FAILED:AUTH']);
    expect(sx.requests().filter((r) => r.path === '/orders/')).toHaveLength(0);
  });

  it('opens the breaker after repeated failures, skips the exchange, then half-opens after the cool-down', async () => {
    const router = makeRouter();
    zc.setMode('outage');
    await router.placeMarketBuy({ clientOrderId: randomUUID(), audCents: 1_000n });
    await router.placeMarketBuy({ clientOrderId: randomUUID(), audCents: 1_000n });
    expect(router.breakerFor('zerocap').state).toBe('OPEN');
    const zcCalls = zc.requests().length;
    const skipped = await router.placeMarketBuy({ clientOrderId: randomUUID(), audCents: 1_000n });
    expect(brief(skipped.attempts)[0]).toBe('zerocap:lookup:SKIPPED_CIRCUIT_OPEN');
    expect(skipped.order.exchange).toBe('swyftx');
    expect(zc.requests()).toHaveLength(zcCalls);

    zc.setMode('normal');
    t += 1_000;
    expect(router.breakerFor('zerocap').state).toBe('HALF_OPEN');
    const recovered = await router.placeMarketBuy({ clientOrderId: randomUUID(), audCents: 1_000n });
    expect(recovered.order.exchange).toBe('zerocap');
    expect(router.breakerFor('zerocap').state).toBe('CLOSED');
    expect(sx.orders()).toHaveLength(3);
    expect(zc.orders()).toHaveLength(1);
  });

  it('refuses to place when an exchange the id was sent to before cannot be checked', async () => {
    zc.setMode('outage');
    const err = await routingError(makeRouter().placeMarketBuy({ clientOrderId: randomUUID(), audCents: 1_000n, priorExchanges: ['zerocap'] }));
    expect(err).toMatchObject({ kind: 'OUTCOME_UNKNOWN', outcomeUnknown: true });
    expect(brief(err.attempts)).toEqual(['zerocap:lookup:FAILED:UNAVAILABLE', 'swyftx:lookup:NOT_FOUND']);
    expect(sx.orders()).toHaveLength(0);
  });

  it('with no durable record, Swyftx cannot hold the order, so its lookup needs no network call', async () => {
    sx.setMode('outage');
    const { order } = await makeRouter().placeMarketBuy({ clientOrderId: randomUUID(), audCents: 1_000n, priorExchanges: ['swyftx'] });
    expect(order.exchange).toBe('zerocap');
  });

  it('concurrent requests for one clientOrderId share one route and buy once', async () => {
    const router = makeRouter();
    const id = randomUUID();
    const [a, b] = await Promise.all([
      router.placeMarketBuy({ clientOrderId: id, audCents: 1_000n }),
      router.placeMarketBuy({ clientOrderId: id, audCents: 1_000n }),
    ]);
    expect(a.order.exchangeOrderId).toBe(b.order.exchangeOrderId);
    expect(zc.orders()).toHaveLength(1);
  });
});

describe('ExchangeRouter outcome-unknown paths (stub adapters)', () => {
  const order = (exchange: ExchangeName, id: string): ExchangeOrder => ({
    exchange,
    clientOrderId: id,
    exchangeOrderId: `${exchange}-1`,
    status: 'FILLED',
    requestedAudCents: 100n,
    filledSats: 1n,
    spentAudCents: 100n,
    feeAudCents: 0n,
    averagePrice: '10000000.00',
  });
  const stub = (name: ExchangeName, impl: Partial<ExchangeAdapter>): ExchangeAdapter & { placed: number } => {
    const s = {
      name,
      placed: 0,
      quote: () => Promise.reject(new Error('unused')),
      health: () => Promise.resolve({ ok: true }),
      getOrder: () => Promise.resolve(null),
      placeMarketSell: noSell,
      placeMarketBuy: async (id: string) => {
        s.placed += 1;
        return order(name, id);
      },
      ...impl,
    };
    return s;
  };
  const timeout = (exchange: ExchangeName) =>
    new ExchangeError({ exchange, kind: 'UNAVAILABLE', message: 'request timed out after 15000ms', outcomeUnknown: true });

  it('stops (no failover) when the ambiguous placement cannot be checked', async () => {
    let lookups = 0;
    const primary = stub('zerocap', {
      placeMarketSell: noSell,
      placeMarketBuy: async () => {
        throw timeout('zerocap');
      },
      getOrder: async () => {
        lookups += 1;
        if (lookups === 1) return null;
        throw new ExchangeError({ exchange: 'zerocap', kind: 'UNAVAILABLE', message: 'HTTP 503' });
      },
    });
    const secondary = stub('swyftx', {});
    const router = new ExchangeRouter({ adapters: { zerocap: primary, swyftx: secondary }, recorder: () => undefined });
    const err = await routingError(router.placeMarketBuy({ clientOrderId: 'amb-1', audCents: 100n }));
    expect(err).toMatchObject({ kind: 'OUTCOME_UNKNOWN', outcomeUnknown: true });
    expect(brief(err.attempts).slice(-2)).toEqual(['zerocap:place:FAILED:UNAVAILABLE', 'zerocap:reconcile:FAILED:UNAVAILABLE']);
    expect(secondary.placed).toBe(0);
  });

  it('fails over once the ambiguous placement is confirmed absent', async () => {
    const primary = stub('zerocap', {
      placeMarketSell: noSell,
      placeMarketBuy: async () => {
        throw timeout('zerocap');
      },
    });
    const secondary = stub('swyftx', {});
    const router = new ExchangeRouter({ adapters: { zerocap: primary, swyftx: secondary }, recorder: () => undefined });
    const { order: placed, attempts } = await router.placeMarketBuy({ clientOrderId: 'amb-2', audCents: 100n });
    expect(placed.exchange).toBe('swyftx');
    expect(brief(attempts)).toContain('zerocap:reconcile:NOT_FOUND');
    expect(secondary.placed).toBe(1);
  });

  it('INVALID_RESPONSE on placement stops the route and reports the unknown outcome', async () => {
    const primary = stub('zerocap', {
      placeMarketSell: noSell,
      placeMarketBuy: async () => {
        throw new ExchangeError({ exchange: 'zerocap', kind: 'INVALID_RESPONSE', message: 'bad JSON', outcomeUnknown: true });
      },
    });
    const secondary = stub('swyftx', {});
    const router = new ExchangeRouter({ adapters: { zerocap: primary, swyftx: secondary }, recorder: () => undefined });
    const err = await routingError(router.placeMarketBuy({ clientOrderId: 'amb-3', audCents: 100n }));
    expect(err).toMatchObject({ kind: 'INVALID_RESPONSE', outcomeUnknown: true });
    expect(secondary.placed).toBe(0);
  });

  it('a recorder failing on lookups does not break routing, and unconfigured exchanges are recorded as skipped', async () => {
    const router = new ExchangeRouter({
      adapters: { swyftx: stub('swyftx', {}) },
      recorder: (a) => {
        if (a.operation === 'lookup') throw new Error('audit store down');
      },
    });
    const { order: placed, attempts } = await router.placeMarketBuy({ clientOrderId: 'rec-1', audCents: 100n });
    expect(placed.exchange).toBe('swyftx');
    expect(brief(attempts)[0]).toBe('zerocap:lookup:SKIPPED_NOT_CONFIGURED');
  });
});

describe('ExchangeRouter: the placement intent and open breakers (stub adapters)', () => {
  const filled = (exchange: ExchangeName, id: string): ExchangeOrder => ({
    exchange,
    clientOrderId: id,
    exchangeOrderId: `${exchange}-1`,
    status: 'FILLED',
    requestedAudCents: 100n,
    filledSats: 1n,
    spentAudCents: 100n,
    feeAudCents: 0n,
    averagePrice: '10000000.00',
  });
  const unavailable = (exchange: ExchangeName) => new ExchangeError({ exchange, kind: 'UNAVAILABLE', message: 'HTTP 503' });

  it('records the placement as in doubt (outcome unknown) before the request leaves, then adds its outcome', async () => {
    const recorded: RoutingAttempt[] = [];
    let seenAtPlacement: string[] = [];
    const kraken: ExchangeAdapter = {
      name: 'kraken',
      quote: () => Promise.reject(new Error('unused')),
      health: () => Promise.resolve({ ok: true }),
      getOrder: () => Promise.resolve(null),
      placeMarketSell: noSell,
      placeMarketBuy: async (id) => {
        seenAtPlacement = brief(recorded);
        return filled('kraken', id);
      },
    };
    const router = new ExchangeRouter({ adapters: { kraken }, recorder: (a) => void recorded.push(a) });
    await router.placeMarketBuy({ clientOrderId: 'intent-1', audCents: 100n, policy: { primary: 'kraken', failover: [] } });
    expect(seenAtPlacement).toEqual(['kraken:lookup:NOT_FOUND', 'kraken:place:IN_DOUBT']);
    expect(recorded.find((a) => a.outcome === 'IN_DOUBT')).toMatchObject({ operation: 'place', outcomeUnknown: true });
    expect(brief(recorded)).toEqual(['kraken:lookup:NOT_FOUND', 'kraken:place:IN_DOUBT', 'kraken:place:PLACED']);
  });

  it('does not place when the in-doubt record cannot be written, and leaves the breaker usable', async () => {
    let placed = 0;
    let storeDown = true;
    const kraken: ExchangeAdapter = {
      name: 'kraken',
      quote: () => Promise.reject(new Error('unused')),
      health: () => Promise.resolve({ ok: true }),
      getOrder: () => Promise.resolve(null),
      placeMarketSell: noSell,
      placeMarketBuy: async (id) => {
        placed += 1;
        return filled('kraken', id);
      },
    };
    const router = new ExchangeRouter({
      adapters: { kraken },
      recorder: (a) => {
        if (storeDown && a.outcome === 'IN_DOUBT') throw new Error('database unavailable');
      },
      breaker: { failureThreshold: 1, coolDownMs: 60_000 },
    });
    const policy = { primary: 'kraken' as const, failover: [] };
    const err = await routingError(router.placeMarketBuy({ clientOrderId: 'intent-2', audCents: 100n, policy }));
    expect(err.kind).toBe('INTENT_NOT_RECORDED');
    expect(placed).toBe(0);
    expect(router.breakerFor('kraken').state).toBe('CLOSED');
    storeDown = false;
    const ok = await router.placeMarketBuy({ clientOrderId: 'intent-2', audCents: 100n, policy });
    expect(ok.order.exchange).toBe('kraken');
    expect(placed).toBe(1);
  });

  it('a definite refusal undoes its intent: the exchange is not left "may hold the order"', async () => {
    const kraken: ExchangeAdapter = {
      name: 'kraken',
      quote: () => Promise.reject(new Error('unused')),
      health: () => Promise.resolve({ ok: true }),
      getOrder: () => Promise.resolve(null),
      placeMarketSell: noSell,
      placeMarketBuy: async () => {
        throw unavailable('kraken');
      },
    };
    const router = new ExchangeRouter({ adapters: { kraken }, recorder: () => undefined });
    const err = await routingError(router.placeMarketBuy({ clientOrderId: 'intent-3', audCents: 100n, policy: { primary: 'kraken', failover: [] } }));
    expect(err).toMatchObject({ kind: 'UNAVAILABLE', outcomeUnknown: false });
    expect(brief(err.attempts)).toEqual(['kraken:lookup:NOT_FOUND', 'kraken:place:IN_DOUBT', 'kraken:place:FAILED:UNAVAILABLE']);
  });

  it('open breakers only: CIRCUIT_OPEN ("later"), not NO_ROUTE, and nothing is placed', async () => {
    let placed = 0;
    const down: ExchangeAdapter = {
      name: 'kraken',
      quote: () => Promise.reject(new Error('unused')),
      health: () => Promise.resolve({ ok: false }),
      getOrder: async () => {
        throw unavailable('kraken');
      },
      placeMarketSell: noSell,
      placeMarketBuy: async (id) => {
        placed += 1;
        return filled('kraken', id);
      },
    };
    const router = new ExchangeRouter({ adapters: { kraken: down }, recorder: () => undefined, breaker: { failureThreshold: 1, coolDownMs: 60_000 } });
    const policy = { primary: 'kraken' as const, failover: [] };
    expect((await routingError(router.placeMarketBuy({ clientOrderId: 'open-1', audCents: 100n, policy }))).kind).toBe('UNAVAILABLE');
    expect(router.breakerFor('kraken').state).toBe('OPEN');
    const err = await routingError(router.placeMarketBuy({ clientOrderId: 'open-2', audCents: 100n, policy }));
    expect(err).toMatchObject({ kind: 'CIRCUIT_OPEN', outcomeUnknown: false });
    expect(brief(err.attempts)).toEqual(['kraken:lookup:SKIPPED_CIRCUIT_OPEN']);
    expect(placed).toBe(0);
  });

  it('an exchange that may hold the order (in-doubt before) and whose breaker is open blocks placement anywhere', async () => {
    let swyftxPlaced = 0;
    const kraken: ExchangeAdapter = {
      name: 'kraken',
      quote: () => Promise.reject(new Error('unused')),
      health: () => Promise.resolve({ ok: false }),
      getOrder: async () => {
        throw unavailable('kraken');
      },
      placeMarketSell: noSell,
      placeMarketBuy: async () => {
        throw unavailable('kraken');
      },
    };
    const swyftx: ExchangeAdapter = {
      name: 'swyftx',
      quote: () => Promise.reject(new Error('unused')),
      health: () => Promise.resolve({ ok: true }),
      getOrder: () => Promise.resolve(null),
      placeMarketSell: noSell,
      placeMarketBuy: async (id) => {
        swyftxPlaced += 1;
        return filled('swyftx', id);
      },
    };
    const router = new ExchangeRouter({ adapters: { kraken, swyftx }, recorder: () => undefined, breaker: { failureThreshold: 1, coolDownMs: 60_000 } });
    await routingError(router.placeMarketBuy({ clientOrderId: 'warm-up', audCents: 100n, policy: { primary: 'kraken', failover: [] } }));
    expect(router.breakerFor('kraken').state).toBe('OPEN');
    const err = await routingError(
      router.placeMarketBuy({ clientOrderId: 'doubt-1', audCents: 100n, policy: { primary: 'swyftx', failover: [] }, priorExchanges: ['kraken'] }),
    );
    expect(err).toMatchObject({ kind: 'OUTCOME_UNKNOWN', outcomeUnknown: true });
    expect(brief(err.attempts)).toContain('kraken:lookup:SKIPPED_CIRCUIT_OPEN');
    expect(swyftxPlaced).toBe(0);
  });

  it('an unexpected error from a placement (not an exchange answer) leaves the order in doubt', async () => {
    const kraken: ExchangeAdapter = {
      name: 'kraken',
      quote: () => Promise.reject(new Error('unused')),
      health: () => Promise.resolve({ ok: true }),
      getOrder: () => Promise.resolve(null),
      placeMarketSell: noSell,
      placeMarketBuy: async () => {
        // e.g. a bug reading the answer of an order that was made
        throw new TypeError("Cannot read properties of undefined (reading 'txid')");
      },
    };
    const router = new ExchangeRouter({ adapters: { kraken }, recorder: () => undefined });
    const err = await routingError(router.placeMarketBuy({ clientOrderId: 'bug-1', audCents: 100n, policy: { primary: 'kraken', failover: [] } }));
    expect(err).toMatchObject({ kind: 'UNEXPECTED', outcomeUnknown: true, mayHold: ['kraken'] });
  });
});
