import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createClient, type Client } from 'graphql-ws';
import { gql } from 'graphql-request';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { signAccessToken } from '../../lib/auth/tokens';
import { RedisBus, type BusHandler, type EventBus } from '../../lib/bus';
import { registry } from '../../lib/metrics';
import { startGateway, type Gateway } from '../../gateway/gateway';
import { SLOW_CONSUMER_CLOSE_CODE } from '../../gateway/subscriptions/server';
import { SUPERGRAPH_PATH } from '../../schema/compose';
import { TEST_REDIS_URL } from '../helpers/db';
import { client, startTestPlatform, type TestPlatform } from '../helpers/platform';
import { waitFor } from '../helpers/wait';
import { at as itemAt, present } from '../helpers/present';

const PASSWORD = 'Correct-Horse-42-Battery';
const SIGN_UP = gql`
  mutation SignUp($input: SignUpInput!) {
    signUp(input: $input) {
      accessToken
      tenant {
        id
      }
    }
  }
`;
const CREATE_RULE = gql`
  mutation Create($input: TreasuryRuleInput!) {
    createTreasuryRule(input: $input) {
      id
    }
  }
`;
const DELETE_RULE = gql`
  mutation Delete($id: ID!) {
    deleteTreasuryRule(id: $id)
  }
`;
const TREASURY_EVENTS = `
  subscription Live {
    treasuryEvents {
      ruleId
      change
      ruleVersion
      rule {
        n: name
        ...Bits
      }
    }
  }
  fragment Bits on TreasuryRule {
    type
    percentageBps
    minOrderAudCents
  }
`;

type Session = { accessToken: string; tenant: { id: string } };
type Formatted = { message: string; extensions?: { code?: unknown } };
type Result<T> = { data?: T; errors?: Formatted[] };
type TreasuryEvent = {
  treasuryEvents: {
    ruleId: string;
    change: string;
    ruleVersion: number;
    rule: { n: string; type: string; percentageBps: number | null; minOrderAudCents: string } | null;
  };
};
type Tick = { btcPrice: { currency: string; price: string; source: string; at: string } };

/** One subscription's results as they arrive, and how it ended. */
type Stream<T> = { values: Result<T>[]; ended: Promise<unknown>; stop: () => void };

function stream<T>(c: Client, query: string, variables?: Record<string, unknown>): Stream<T> {
  const values: Result<T>[] = [];
  let end: (v: unknown) => void = () => undefined;
  const ended = new Promise<unknown>((resolve) => {
    end = resolve;
  });
  const stop = c.subscribe<T>(
    { query, variables },
    { next: (r) => void values.push(r as Result<T>), error: (e) => end(e), complete: () => end('complete') },
  );
  return { values, ended, stop };
}


const codesOf = (e: unknown): unknown[] => (Array.isArray(e) ? e.map((x: Formatted) => x.extensions?.code) : [e]);
const closeOf = (e: unknown): { code: number; reason: string } => {
  const { code, reason } = e as { code: number; reason: string };
  return { code, reason };
};

async function counter(name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))
    .reduce((sum, v) => sum + v.value, 0);
}

describe.each([
  ['with Redis', true],
  ['single-node (in-process bus)', false],
])('live subscriptions through the gateway, %s', (_mode, redis) => {
  let t: TestPlatform;
  let gw: Gateway;
  const gateways: Gateway[] = [];
  const clients: Client[] = [];

  const subgraphUrls = (): Record<string, string> => ({
    tenant: t.platform.urls.tenant!,
    treasury: t.platform.urls.treasury!,
    'market-price': t.platform.urls['market-price']!,
    compliance: t.platform.urls.compliance!,
  });
  const gateway = async (bus = t.platform.bus): Promise<Gateway> => {
    const g = await startGateway({
      host: '127.0.0.1',
      port: 0,
      supergraphSdl: readFileSync(SUPERGRAPH_PATH, 'utf8'),
      subgraphUrls: subgraphUrls(),
      jwtSecret: t.platform.jwtSecret,
      bus,
    });
    gateways.push(g);
    return g;
  };
  const connect = (g: Gateway, token?: string, impl: new (address: string, protocols?: string | string[]) => WebSocket = WebSocket): Client => {
    const c = createClient({
      url: `${g.url.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: impl,
      connectionParams: token ? { authorization: `Bearer ${token}` } : {},
      retryAttempts: 0,
    });
    clients.push(c);
    return c;
  };
  const subscribers = (g: Gateway): number => g.subscriptions!.stats().subscribers;
  const signUp = async (name: string): Promise<Session> =>
    (
      await client(`${gw.url}/graphql`).request<{ signUp: Session }>(SIGN_UP, {
        input: { tenantName: name, email: `${randomUUID()}@${name.toLowerCase().replace(/\W+/g, '-')}.example`, password: PASSWORD },
      })
    ).signUp;
  const createRule = async (s: Session, name: string): Promise<string> =>
    (
      await client(`${gw.url}/graphql`, s.accessToken).request<{ createTreasuryRule: { id: string } }>(CREATE_RULE, {
        input: { name, type: 'PERCENTAGE_OF_REVENUE', percentageBps: 1000, minOrderAudCents: '2500' },
      })
    ).createTreasuryRule.id;

  beforeAll(async () => {
    t = await startTestPlatform({ redis });
    gw = await gateway();
  });
  afterEach(async () => {
    await Promise.all(
      clients.splice(0).map(async (c) => {
        await c.dispose();
      }),
    );
    for (const g of gateways) await waitFor(() => subscribers(g) === 0, 'subscriptions to end');
  });
  afterAll(async () => {
    for (const g of gateways.splice(0)) await g.close();
    await t?.stop();
  });

  it('streams SIMULATED BTC ticks to an anonymous client, exactly as recorded', async () => {
    const s = stream<Tick>(connect(gw), 'subscription { btcPrice(currency: AUD) { currency price source at } }');
    await waitFor(() => s.values.length >= 2, 'two ticks');
    for (const tick of s.values.slice(0, 2)) {
      const { currency, price, source, at } = tick.data!.btcPrice;
      const rows = await t.db.owner.em
        .getConnection()
        .execute<{ price: string; source: string }[]>(`select price::text as price, source from public.price_tick where currency = 'AUD' and at = ?`, [at]);
      expect([currency, source, price]).toEqual(['AUD', 'SIMULATED', expect.stringMatching(/^\d+\.\d{2}$/)]);
      expect(rows).toEqual([{ price, source: 'SIMULATED' }]);
      expect(Object.keys(tick)).toEqual(['data']);
    }
  });

  it('thins ticks to minIntervalMs per subscriber', async () => {
    const c = connect(gw);
    const thin = stream<Tick>(c, 'subscription ($ms: Int) { btcPrice(currency: USD, minIntervalMs: $ms) { at currency } }', { ms: 600 });
    const all = stream<Tick>(c, 'subscription { btcPrice(currency: USD) { at currency } }');
    await waitFor(() => thin.values.length >= 3, 'three thinned ticks');
    const at = thin.values.map((v) => Date.parse(v.data!.btcPrice.at));
    for (let i = 1; i < at.length; i++) expect(itemAt(at, i) - itemAt(at, i - 1)).toBeGreaterThanOrEqual(600);
    expect(new Set(thin.values.map((v) => v.data!.btcPrice.currency))).toEqual(new Set(['USD']));
    expect(all.values.length).toBeGreaterThan(thin.values.length);
  });

  it('routes each result to its own subscription id on a shared connection, and stops one the client completes', async () => {
    const c = connect(gw);
    const aud = stream<Tick>(c, 'subscription { btcPrice(currency: AUD) { currency } }');
    const usd = stream<Tick>(c, 'subscription { btcPrice(currency: USD) { currency } }');
    await waitFor(() => aud.values.length >= 2 && usd.values.length >= 2, 'ticks on both');
    expect(new Set(aud.values.map((v) => v.data!.btcPrice.currency))).toEqual(new Set(['AUD']));
    expect(new Set(usd.values.map((v) => v.data!.btcPrice.currency))).toEqual(new Set(['USD']));
    aud.stop();
    await waitFor(() => subscribers(gw) === 1, 'the completed subscription to be released');
    const [audSeen, usdSeen] = [aud.values.length, usd.values.length];
    await waitFor(() => usd.values.length >= usdSeen + 2, 'more USD ticks');
    expect(aud.values.length).toBe(audSeen);
  });

  it('delivers a rule created over HTTP to the tenant, with rule fields resolved from the treasury subgraph, once per group', async () => {
    const a = await signUp('Acme Live');
    const [first, second] = [connect(gw, a.accessToken), connect(gw, a.accessToken)].map((c) => stream<TreasuryEvent>(c, TREASURY_EVENTS));
    if (!first || !second) throw new Error('expected first, second to be present');
    await waitFor(() => subscribers(gw) === 2, 'both subscribed');
    expect(gw.subscriptions!.stats()).toEqual({ channels: 1, groups: 1, subscribers: 2 });
    const followUpsBefore = await counter('abt_gateway_subscription_follow_ups_total');

    const id = await createRule(a, 'Ten percent');
    await waitFor(() => first.values.length === 1 && second.values.length === 1, 'the CREATED event');
    const created = {
      data: {
        treasuryEvents: {
          ruleId: id,
          change: 'CREATED',
          ruleVersion: 1,
          rule: { n: 'Ten percent', type: 'PERCENTAGE_OF_REVENUE', percentageBps: 1000, minOrderAudCents: '2500' },
        },
      },
    };
    expect(first.values).toEqual([created]);
    expect(second.values).toEqual([created]);
    expect((await counter('abt_gateway_subscription_follow_ups_total')) - followUpsBefore).toBe(1);

    await client(`${gw.url}/graphql`, a.accessToken).request(DELETE_RULE, { id });
    await waitFor(() => first.values.length === 2, 'the DELETED event');
    expect(first.values[1]).toEqual({ data: { treasuryEvents: { ruleId: id, change: 'DELETED', ruleVersion: 1, rule: null } } });
    // A deleted rule needs no query: still one follow-up in all.
    expect((await counter('abt_gateway_subscription_follow_ups_total')) - followUpsBefore).toBe(1);
  });

  it('never shows one tenant another tenant’s events', async () => {
    const a = await signUp('Tenant A');
    const b = await signUp('Tenant B');
    const sa = stream<TreasuryEvent>(connect(gw, a.accessToken), 'subscription { treasuryEvents { ruleId change } }');
    const sb = stream<TreasuryEvent>(connect(gw, b.accessToken), 'subscription { treasuryEvents { ruleId change } }');
    await waitFor(() => subscribers(gw) === 2, 'both subscribed');
    const aRule = await createRule(a, 'A only');
    await waitFor(() => sa.values.length === 1, 'A’s event');
    // B's own event arrives after A's was published: had A's been routed to B, it would be here first.
    const bRule = await createRule(b, 'B only');
    await waitFor(() => sb.values.length === 1, 'B’s event');
    await new Promise((r) => setTimeout(r, 200));
    expect(sa.values).toEqual([{ data: { treasuryEvents: { ruleId: aRule, change: 'CREATED' } } }]);
    expect(sb.values).toEqual([{ data: { treasuryEvents: { ruleId: bRule, change: 'CREATED' } } }]);
  });

  it('refuses treasuryEvents without a token but serves btcPrice on the same connection', async () => {
    const c = connect(gw);
    const events = stream<TreasuryEvent>(c, 'subscription { treasuryEvents { ruleId } }');
    expect(codesOf(await events.ended)).toEqual(['UNAUTHENTICATED']);
    const ticks = stream<Tick>(c, 'subscription { btcPrice { source } }');
    await waitFor(() => ticks.values.length >= 1, 'a tick');
    expect(ticks.values[0]).toEqual({ data: { btcPrice: { source: 'SIMULATED' } } });
  });

  it('closes connections with an invalid or expired token with 4401', async () => {
    const s = await signUp('Token Co');
    const expired = await signAccessToken({ sub: randomUUID(), tid: s.tenant.id, role: 'OWNER', amr: ['pwd'], sid: randomUUID() }, t.platform.jwtSecret, -60);
    const forged = await signAccessToken({ sub: randomUUID(), tid: s.tenant.id, role: 'OWNER', amr: ['pwd'], sid: randomUUID() }, 'x'.repeat(64));
    const outcomes = [];
    for (const token of ['garbage', expired, forged]) {
      outcomes.push(closeOf(await stream(connect(gw, token), 'subscription { btcPrice { price } }').ended));
    }
    expect(outcomes).toEqual([
      { code: 4401, reason: 'Unauthorized: token is invalid' },
      { code: 4401, reason: 'Unauthorized: token has expired' },
      { code: 4401, reason: 'Unauthorized: token is invalid' },
    ]);
  });

  it('answers bad operations with coded errors and keeps the connection', async () => {
    const c = connect(gw);
    const cases: [string, Record<string, unknown> | undefined, string][] = [
      ['subscription { nope }', undefined, 'GRAPHQL_VALIDATION_FAILED'],
      ['subscription { btcPrice { ', undefined, 'GRAPHQL_PARSE_FAILED'],
      ['{ btcPrice { price } }', undefined, 'BAD_USER_INPUT'],
      ['subscription { btcPrice(minIntervalMs: -1) { price } }', undefined, 'BAD_USER_INPUT'],
      ['subscription ($c: Currency!) { btcPrice(currency: $c) { price } }', { c: 'EUR' }, 'BAD_USER_INPUT'],
    ];
    const codes = [];
    for (const [query, variables] of cases) codes.push(codesOf(await stream(c, query, variables).ended)[0]);
    expect(codes).toEqual(cases.map(([, , code]) => code));
    const ticks = stream<Tick>(c, 'subscription { btcPrice { source } }');
    await waitFor(() => ticks.values.length >= 1, 'a tick after the errors');

    const overHttp = await fetch(`${gw.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'subscription { btcPrice { price } }' }),
    });
    expect([overHttp.status, await overHttp.json()]).toEqual([
      400,
      { errors: [{ message: 'subscriptions are served over WebSocket (graphql-ws) on this same URL', extensions: { code: 'BAD_REQUEST' } }] },
    ]);
    // An operation name the document does not define (GraphiQL sends a stale one when run mid-edit): a 400, not a 500.
    const misnamed = await fetch(`${gw.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ btcPrice { price } }', operationName: 'Price' }),
    });
    expect([misnamed.status, await misnamed.json()]).toEqual([
      400,
      { errors: [{ message: 'Unknown operation named "Price".', extensions: { code: 'OPERATION_RESOLUTION_FAILURE' } }] },
    ]);
  });

  it('applies the HTTP limits over WebSocket: depth 50, 1,600 aliases and a fragment bomb are refused with the same codes', async () => {
    const http = async (query: string): Promise<unknown[]> => {
      const res = await fetch(`${gw.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
      return codesOf(((await res.json()) as { errors?: Formatted[] }).errors ?? []);
    };
    // Each attack as a query (for HTTP) and as a subscription on the same field (for WebSocket).
    const attacks: Record<string, { root: string; body: (root: string) => string; expect: string }> = {
      depth50: { root: 'Query', body: (root) => `{ ${`... on ${root} { `.repeat(49)}btcPrice { price }${' }'.repeat(49)} }`, expect: 'MAX_DEPTH_EXCEEDED' },
      aliases1600: { root: 'Query', body: () => `{ ${Array.from({ length: 1600 }, (_, i) => `a${i}: btcPrice { price }`).join(' ')} }`, expect: 'MAX_TOKENS_EXCEEDED' },
      // 12 fragments each spreading the next 4 times: 4^12 (16.7 million) copies of `price` once expanded.
      fragmentBomb: {
        root: 'Query',
        body: () =>
          `{ btcPrice { ...F0 } } ${Array.from({ length: 12 }, (_, i) => `fragment F${i} on BtcPrice { price ${i < 11 ? `...F${i + 1} `.repeat(4) : ''}}`).join(' ')}`,
        expect: 'MAX_COST_EXCEEDED',
      },
    };
    const c = connect(gw);
    const seen: Record<string, { http: unknown[]; ws: unknown[] }> = {};
    for (const [name, a] of Object.entries(attacks)) {
      const query = a.body('Query');
      const subscription = `subscription ${a.body('Subscription')}`;
      seen[name] = { http: await http(query), ws: codesOf(await stream(c, subscription).ended) };
    }
    for (const [name, a] of Object.entries(attacks)) {
      const got = present(seen[name], `the replies to ${name}`);
      expect([name, got.ws]).toEqual([name, got.http]);
      expect([name, got.ws]).toEqual([name, expect.arrayContaining([a.expect])]);
    }
    // The connection still serves.
    const ticks = stream<Tick>(c, 'subscription { btcPrice { source } }');
    await waitFor(() => ticks.values.length >= 1, 'a tick after the refusals');
  });

  it('a production gateway never suggests over WebSocket (fields, enum values) nor over HTTP; a development one does', async () => {
    const prod = await startGateway({
      host: '127.0.0.1',
      port: 0,
      supergraphSdl: readFileSync(SUPERGRAPH_PATH, 'utf8'),
      subgraphUrls: subgraphUrls(),
      jwtSecret: t.platform.jwtSecret,
      bus: t.platform.bus,
      production: true,
    });
    gateways.push(prod);
    const typos = ['subscription { btcPrice { pric } }', 'subscription { btcPrice(currency: AUX) { price } }', 'subscription { btcPrise { price } }'];
    const messages = async (g: Gateway): Promise<string> => {
      const out: string[] = [];
      for (const q of typos) {
        out.push(...((await stream(connect(g), q).ended) as Formatted[]).map((e) => e.message));
        const res = await fetch(`${g.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: q.replace(/^subscription/, 'query') }) });
        out.push(...(((await res.json()) as { errors: Formatted[] }).errors.map((e) => e.message)));
      }
      return out.join('\n');
    };
    const dev = await messages(gw);
    expect(dev).toMatch(/Did you mean "price"/);
    expect(dev).toMatch(/Did you mean the enum value "AUD"/);
    const production = await messages(prod);
    expect(production).not.toMatch(/Did you mean/);
    expect(production).toMatch(/Cannot query field "pric" on type "BtcPrice"\.$/m);
  });

  it('checks the tenant of every event, even when the bus hands it events of other tenants', async () => {
    // A bus that (as a misconfigured pattern would) delivers every tenant's rule events to every subscriber.
    const bus = t.platform.bus;
    const leaky: EventBus = {
      kind: bus.kind,
      publish: (channel, event) => bus.publish(channel, event),
      subscribe: (pattern, handler) => bus.subscribe<string>(pattern.startsWith('tenant.') ? 'tenant.*.rule' : pattern, handler as BusHandler),
      close: async () => undefined,
    };
    const leakyGw = await gateway(leaky);
    const a = await signUp('Leak A');
    const b = await signUp('Leak B');
    const sa = stream<TreasuryEvent>(connect(leakyGw, a.accessToken), 'subscription { treasuryEvents { ruleId change } }');
    await waitFor(() => subscribers(leakyGw) === 1, 'A subscribed');
    const dropped = await counter('abt_gateway_subscription_events_total', { field: 'treasuryEvents', outcome: 'dropped_tenant' });
    await createRule(b, 'Not for A');
    await waitFor(async () => (await counter('abt_gateway_subscription_events_total', { field: 'treasuryEvents', outcome: 'dropped_tenant' })) === dropped + 1, 'B’s event to be dropped');
    const aRule = await createRule(a, 'For A');
    await waitFor(() => sa.values.length === 1, 'A’s event');
    await new Promise((r) => setTimeout(r, 200));
    expect(sa.values).toEqual([{ data: { treasuryEvents: { ruleId: aRule, change: 'CREATED' } } }]);
  });

  it('drops a client that stops reading with the slow-consumer close code; a fast one keeps receiving', async () => {
    const opened: WebSocket[] = [];
    class Tracked extends WebSocket {
      constructor(address: string, protocols?: string | string[]) {
        super(address, protocols);
        opened.push(this);
      }
    }
    const query = 'subscription { btcPrice(currency: USD) { source } }';
    const fast = stream<Tick>(connect(gw), query);
    const slowClient = connect(gw, undefined, Tracked);
    let closed: { code: number; reason: string } | undefined;
    slowClient.on('closed', (e) => {
      closed = closeOf(e);
    });
    const slow = stream<Tick>(slowClient, query);
    await waitFor(() => subscribers(gw) === 2, 'both subscribed');
    itemAt(opened, 0).pause();

    const big = `BIG-${'x'.repeat(32 * 1024)}`;
    const isBig = (v: Result<Tick>): boolean => v.data?.btcPrice.source === big;
    const total = 600; // ~20 MB: more than the kernel will buffer for a reader that stopped
    for (let sent = 0; sent < total; sent += 8) {
      for (let i = 0; i < 8; i++) {
        await t.platform.bus.publish('price.btc.usd', { __typename: 'BtcPrice', version: 1, currency: 'USD', price: '1.00', source: big, at: new Date().toISOString() });
      }
      await waitFor(() => fast.values.filter(isBig).length === sent + 8, 'the fast client to keep up');
    }
    expect(closed).toBeUndefined();
    itemAt(opened, 0).resume();
    await waitFor(() => closed !== undefined, 'the slow client to learn it was dropped', 30_000);
    expect(closed).toEqual({ code: SLOW_CONSUMER_CLOSE_CODE, reason: 'Slow consumer: too many unsent bytes' });
    expect(closeOf(await slow.ended).code).toBe(SLOW_CONSUMER_CLOSE_CODE);
    expect(fast.values.filter(isBig).length).toBe(total);
    expect(slow.values.filter(isBig).length).toBeLessThan(total);
    await waitFor(() => subscribers(gw) === 1, 'the slow subscription to be released');
  });

  if (redis) {
    it('two gateways on the same Redis bus each deliver one published event', async () => {
      // The platform's Redis prefix, learnt from the channel name of a probe it publishes.
      const probe = new Redis(TEST_REDIS_URL);
      const nonce = randomUUID();
      const learnt = new Promise<string>((resolve) => probe.on('pmessage', (_p: string, ch: string) => resolve(ch.slice(0, -`:probe.${nonce}`.length))));
      await probe.psubscribe(`*:probe.${nonce}`);
      // A channel outside the catalog's typed names: published as a plain string.
      const channel: string = `probe.${nonce}`;
      await t.platform.bus.publish(channel, { __typename: 'OutboxKick', version: 1 });
      const prefix = await learnt;
      await probe.quit();

      const bus2 = new RedisBus(TEST_REDIS_URL, prefix);
      try {
        const gw2 = await gateway(bus2);
        const a = await signUp('Two Gateways');
        const on1 = stream<TreasuryEvent>(connect(gw, a.accessToken), TREASURY_EVENTS);
        const on2 = stream<TreasuryEvent>(connect(gw2, a.accessToken), TREASURY_EVENTS);
        await waitFor(() => subscribers(gw) === 1 && subscribers(gw2) === 1, 'one subscriber on each gateway');
        const id = await createRule(a, 'Seen twice');
        await waitFor(() => on1.values.length === 1 && on2.values.length === 1, 'the event on both gateways');
        await new Promise((r) => setTimeout(r, 200));
        const expected = {
          data: {
            treasuryEvents: {
              ruleId: id,
              change: 'CREATED',
              ruleVersion: 1,
              rule: { n: 'Seen twice', type: 'PERCENTAGE_OF_REVENUE', percentageBps: 1000, minOrderAudCents: '2500' },
            },
          },
        };
        expect(on1.values).toEqual([expected]);
        expect(on2.values).toEqual([expected]);
        await Promise.all(
          clients.splice(0).map(async (c) => {
            await c.dispose();
          }),
        );
        await waitFor(() => subscribers(gw2) === 0, 'gw2 subscriptions to end');
        gateways.splice(gateways.indexOf(gw2), 1);
        await gw2.close();
      } finally {
        await bus2.close();
      }
    });
  }
});
