import type { MikroORM } from '@mikro-orm/postgresql';
import { createClient, type Client } from 'graphql-ws';
import { gql } from 'graphql-request';
import WebSocket from 'ws';
import { InProcessBus } from '../../lib/bus';
import type { BtcPriceEvent } from '../../lib/events';
import { openAppOrm } from '../../lib/db/orm';
import { configureLogger } from '../../lib/logger';
import { marketPriceEntities } from '../../subgraphs/market-price';
import { compareDecimal } from '../../lib/money';
import { createPriceFeeds, parsePriceFeedList, type PriceFeed, type PriceSource, type SourceQuote } from '../../subgraphs/market-price/feeds';
import { Currency } from '../../subgraphs/market-price/price-tick.entity';
import { MAX_HISTORY_CANDLES, PriceService } from '../../subgraphs/market-price/price.service';
import { FakeKrakenWsServer } from '../fakes/kraken-ws.server';
import { FakePriceRestServer } from '../fakes/price-rest.server';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { client, errorCodes, startTestPlatform, type TestPlatform } from '../helpers/platform';
import { waitFor } from '../helpers/wait';
import { at, present } from '../helpers/present';

configureLogger(process.env.TEST_LOG_LEVEL ?? 'silent');

/** A feed the test drives by hand. */
class ManualFeed implements PriceFeed {
  private onQuote: ((q: SourceQuote) => void) | undefined;
  constructor(readonly source: PriceSource) {}
  async start(onQuote: (q: SourceQuote) => void): Promise<void> {
    this.onQuote = onQuote;
  }
  async stop(): Promise<void> {
    this.onQuote = undefined;
  }
  quote(currency: 'AUD' | 'USD', price: string, at: Date): void {
    this.onQuote?.({ source: this.source, currency, price, at });
  }
}


type Published = { channel: string; event: BtcPriceEvent };

describe('market data: aggregation, ticks and candles (PriceService on PostgreSQL)', () => {
  let db: TestDatabase;
  let orm: MikroORM;
  let bus: InProcessBus;
  const published: Published[] = [];
  let clock = new Date('2026-11-25T10:00:00.000Z');
  const services: PriceService[] = [];

  const service = (opts: ConstructorParameters<typeof PriceService>[2] = {}): PriceService => {
    const s = new PriceService(orm, bus, { publishIntervalMs: 0, candleFlushMs: 60_000, now: () => clock, ...opts });
    services.push(s);
    return s;
  };
  /** Stored and published: the in-process bus delivers on a later turn. */
  const settle = async (s: PriceService): Promise<void> => {
    await s.flush();
    await new Promise((r) => setTimeout(r, 10));
  };
  const sql = <T>(query: string, params: unknown[] = []): Promise<T[]> => db.owner.em.getConnection().execute<T[]>(query, params);

  beforeAll(async () => {
    db = await createTestDatabase();
    orm = await openAppOrm(db.appUrl, marketPriceEntities, 2);
    bus = new InProcessBus();
    await bus.subscribe('price.btc.*', (channel, event) => void published.push({ channel, event }));
  });
  afterEach(async () => {
    for (const s of services.splice(0)) await s.stop();
    published.length = 0;
    await sql('truncate public.price_tick, public.price_candle');
  });
  afterAll(async () => {
    await bus?.close();
    await orm?.close(true);
    await db?.drop();
  });

  it('publishes the median of fresh sources, says which it used, rejects an outlier and a stale one, stores the tick', async () => {
    const s = service({ maxDeviationBps: 100, staleAfterMs: 30_000 });
    const [kraken, ir, btcm, sim] = (['KRAKEN', 'INDEPENDENT_RESERVE', 'BTC_MARKETS', 'SIMULATED'] as const).map((n) => new ManualFeed(n));
    if (!btcm || !ir || !kraken || !sim) throw new Error('expected btcm, ir, kraken, sim to be present');
    await s.start([kraken, ir, btcm, sim]);
    sim.quote('AUD', '140000.00', new Date(clock.getTime() - 31_000)); // stale by the time the others arrive
    kraken.quote('AUD', '150000.10', clock);
    ir.quote('AUD', '150020.12', clock);
    btcm.quote('AUD', '180000.00', clock); // 20% off: an outlier
    await settle(s);

    const last = published.at(-1)!;
    expect(last).toEqual({
      channel: 'price.btc.aud',
      event: {
        __typename: 'BtcPrice',
        version: 1,
        currency: 'AUD',
        // The median of the two accepted sources is 150010.11 exactly: whole cents, nothing rounded here.
        price: '150010.11',
        source: 'INDEPENDENT_RESERVE+KRAKEN',
        sources: ['INDEPENDENT_RESERVE', 'KRAKEN'],
        at: clock.toISOString(),
      },
    });
    const rows = await sql<{ price: string; source: string }[]>(
      `select price::text as price, source from public.price_tick where currency = 'AUD' order by id desc limit 1`,
    );
    expect(rows).toEqual([{ price: '150010.11', source: 'INDEPENDENT_RESERVE+KRAKEN' }]);
    expect(await s.current(Currency.AUD)).toMatchObject({ price: '150010.11', sources: ['INDEPENDENT_RESERVE', 'KRAKEN'] });
  });

  it('rounds a median between cents half to even, and never publishes more often than the rate limit', async () => {
    const s = service({ publishIntervalMs: 60_000 });
    const [a, b] = [new ManualFeed('KRAKEN'), new ManualFeed('INDEPENDENT_RESERVE')];
    await s.start([a, b]);
    a.quote('USD', '97500.50', clock);
    await settle(s);
    b.quote('USD', '97530.55', clock); // median 97515.525 → inside the window: held back
    a.quote('USD', '97500.51', clock);
    await settle(s);
    expect(published.map((p) => p.event.price)).toEqual(['97500.50']);
    await s.stop();
    // A fresh service (no window yet) publishes at once: (97500.50 + 97530.55) / 2 = 97515.525 → 97515.52 (half-even).
    const t = service();
    const [c, d] = [new ManualFeed('KRAKEN'), new ManualFeed('INDEPENDENT_RESERVE')];
    await t.start([c, d]);
    c.quote('USD', '97500.50', clock);
    d.quote('USD', '97530.55', clock);
    await settle(t);
    expect(published.map((p) => p.event.price)).toEqual(['97500.50', '97500.50', '97515.52']);
  });

  it('folds ticks into exact 1m/1h/1d candles, written in batches as deltas that merge across restarts', async () => {
    const feed = new ManualFeed('SIMULATED');
    const s = service();
    await s.start(feed);
    const base = new Date('2026-11-25T10:00:00.000Z').getTime();
    const tick = (offsetMs: number, price: string): void => {
      clock = new Date(base + offsetMs);
      feed.quote('AUD', price, clock);
    };
    tick(5_000, '100.00');
    tick(20_000, '103.50');
    tick(40_000, '99.25');
    tick(59_999, '101.00');
    tick(60_000, '102.00'); // next minute
    await settle(s);
    expect(await sql('select count(*)::int as n from public.price_candle')).toEqual([{ n: 4 }]); // two 1m, one 1h, one 1d

    // Restart: a new service adds to the same buckets; the stored rows merge, they are not overwritten.
    await s.stop();
    const feed2 = new ManualFeed('SIMULATED');
    const s2 = service();
    await s2.start(feed2);
    clock = new Date(base + 30_000);
    feed2.quote('AUD', '98.00', clock); // late tick for 10:00, a new low, not the close
    clock = new Date(base + 61_000);
    feed2.quote('AUD', '104.00', clock);
    await waitFor(() => published.length === 7, 'both ticks published');
    // Their candle deltas are not written yet, but history already includes them.
    const before = await s2.history(Currency.AUD, '1m', new Date(base), new Date(base + 120_000));
    await s2.flush();
    const after = await s2.history(Currency.AUD, '1m', new Date(base), new Date(base + 120_000));
    expect(after).toEqual(before);
    const candle = (bucketStart: string, open: string, high: string, low: string, close: string, ticks: number, interval = '1m'): unknown => ({
      currency: 'AUD',
      interval,
      bucketStart: new Date(bucketStart),
      open,
      high,
      low,
      close,
      ticks,
    });
    expect(after).toEqual([
      candle('2026-11-25T10:00:00.000Z', '100.00', '103.50', '98.00', '101.00', 5),
      candle('2026-11-25T10:01:00.000Z', '102.00', '104.00', '102.00', '104.00', 2),
    ]);
    expect(await s2.history(Currency.AUD, '1h', new Date(base + 1), new Date(base + 3_600_000))).toEqual([
      candle('2026-11-25T10:00:00.000Z', '100.00', '104.00', '98.00', '104.00', 7, '1h'),
    ]);
    expect(await s2.history(Currency.AUD, '1d', new Date(base), new Date(base + 1))).toEqual([
      candle('2026-11-25T00:00:00.000Z', '100.00', '104.00', '98.00', '104.00', 7, '1d'),
    ]);
    expect(await s2.history(Currency.USD, '1m', new Date(base), new Date(base + 120_000))).toEqual([]);
  });

  it('refuses empty, inverted and over-long ranges with BAD_USER_INPUT', async () => {
    const s = service();
    const base = new Date('2026-11-25T10:00:00.000Z');
    const plus = (ms: number): Date => new Date(base.getTime() + ms);
    const codeOf = async (p: Promise<unknown>): Promise<unknown> => p.then(() => 'ok', (e: { extensions?: { code?: unknown } }) => e.extensions?.code);
    expect(await codeOf(s.history(Currency.AUD, '1m', base, base))).toBe('BAD_USER_INPUT');
    expect(await codeOf(s.history(Currency.AUD, '1m', plus(1), base))).toBe('BAD_USER_INPUT');
    expect(await codeOf(s.history(Currency.AUD, '1m', base, plus(MAX_HISTORY_CANDLES * 60_000)))).toBe('ok');
    expect(await codeOf(s.history(Currency.AUD, '1m', base, plus(MAX_HISTORY_CANDLES * 60_000 + 1)))).toBe('BAD_USER_INPUT');
    expect(await codeOf(s.history(Currency.AUD, '1d', base, plus(3 * 365 * 86_400_000)))).toBe('BAD_USER_INPUT');
  });

  it('aggregates the real-market feeds createPriceFeeds builds (fake Kraken WS, Independent Reserve, BTC Markets)', async () => {
    const rest = await FakePriceRestServer.start({ independentReserve: { Aud: '150020.12', Usd: '97530.55' }, btcMarkets: '150030.45' });
    const ws = await FakeKrakenWsServer.start({ snapshot: [{ symbol: 'BTC/AUD', last: '150000.10' }, { symbol: 'BTC/USD', last: '97500.5' }] });
    try {
      const feeds = createPriceFeeds({
        feeds: parsePriceFeedList('kraken, independent-reserve,btc-markets'),
        kraken: { wsUrl: ws.url, restBaseUrl: rest.baseUrl },
        independentReserve: { baseUrl: rest.baseUrl, pollMs: 60_000 },
        btcMarkets: { baseUrl: rest.baseUrl, pollMs: 60_000 },
      });
      const s = service({ now: () => new Date() });
      await s.start(feeds);
      const latest = (ccy: string): BtcPriceEvent | undefined => published.filter((p) => p.channel === `price.btc.${ccy}`).at(-1)?.event;
      await waitFor(() => latest('aud')?.sources?.length === 3 && latest('usd')?.sources?.length === 2, 'all sources');
      expect(latest('aud')).toMatchObject({ price: '150020.12', source: 'BTC_MARKETS+INDEPENDENT_RESERVE+KRAKEN' });
      // BTC Markets lists BTC-AUD only; (97500.5 + 97530.55) / 2 = 97515.525 → 97515.52.
      expect(latest('usd')).toMatchObject({ price: '97515.52', sources: ['INDEPENDENT_RESERVE', 'KRAKEN'] });
    } finally {
      for (const s of services.splice(0)) await s.stop();
      await ws.close();
      await rest.close();
    }
  });

  it('builds the simulated feed by default and refuses unknown or mixed feed lists', () => {
    expect(createPriceFeeds().map((f) => f.source)).toEqual(['SIMULATED']);
    expect(() => parsePriceFeedList('kraken,coinbase')).toThrow('unknown price feed(s): coinbase');
    expect(() => parsePriceFeedList(' , ')).toThrow('at least one');
    expect(() => createPriceFeeds({ feeds: ['simulated', 'kraken'] })).toThrow('cannot be combined');
    expect(() => createPriceFeeds({ feeds: ['kraken', 'kraken'] })).toThrow('listed twice');
  });
});

describe('market data through the gateway', () => {
  let t: TestPlatform;
  const clients: Client[] = [];

  beforeAll(async () => {
    t = await startTestPlatform();
  });
  afterAll(async () => {
    await Promise.all(
      clients.map(async (c) => {
        await c.dispose();
      }),
    );
    await t?.stop();
  });

  const HISTORY = gql`
    query History($currency: Currency!, $interval: CandleInterval!, $from: DateTimeISO!, $to: DateTimeISO) {
      priceHistory(currency: $currency, interval: $interval, from: $from, to: $to) {
        currency
        interval
        bucketStart
        open
        high
        low
        close
        ticks
      }
    }
  `;
  type Candle = { currency: string; interval: string; bucketStart: string; open: string; high: string; low: string; close: string; ticks: number };

  it('answers priceHistory with candles of the live ticks, prices as exact decimal strings, anonymously', async () => {
    await t.platform.services.prices!.flush();
    const from = new Date(Date.now() - 10 * 60_000).toISOString();
    let candles: Candle[] = [];
    await waitFor(async () => {
      candles = (await client(t.gateway).request<{ priceHistory: Candle[] }>(HISTORY, { currency: 'AUD', interval: 'ONE_MINUTE', from })).priceHistory;
      return candles.length > 0;
    }, 'a candle');
    for (const c of candles) {
      expect(c).toMatchObject({ currency: 'AUD', interval: 'ONE_MINUTE' });
      expect(new Date(c.bucketStart).getTime() % 60_000).toBe(0);
      for (const p of [c.open, c.high, c.low, c.close]) expect(p).toMatch(/^\d+\.\d{2}$/);
      expect(compareDecimal(c.low, c.high)).toBeLessThanOrEqual(0);
      for (const p of [c.open, c.close]) expect([compareDecimal(c.low, p) <= 0, compareDecimal(p, c.high) <= 0]).toEqual([true, true]);
      expect(c.ticks).toBeGreaterThan(0);
    }
    // Every stored tick of the range is in the candles (ticks keep arriving, so at least as many).
    await t.platform.services.prices!.flush();
    const [firstRow] = await t.db.owner.em
      .getConnection()
      .execute<{ n: number }[]>(`select count(*)::int as n from public.price_tick where currency = 'AUD' and at >= ?`, [new Date(at(candles, 0).bucketStart)]);
    const { n } = present(firstRow, 'the first row');
    const after = (await client(t.gateway).request<{ priceHistory: Candle[] }>(HISTORY, { currency: 'AUD', interval: 'ONE_MINUTE', from })).priceHistory;
    expect(after.reduce((sum, c) => sum + c.ticks, 0)).toBeGreaterThanOrEqual(n);
  });

  it('answers bad ranges with BAD_USER_INPUT', async () => {
    const now = Date.now();
    const iso = (ms: number): string => new Date(ms).toISOString();
    const ask = (variables: Record<string, unknown>): Promise<string[]> => errorCodes(client(t.gateway).request(HISTORY, { currency: 'AUD', ...variables }));
    expect(await ask({ interval: 'ONE_MINUTE', from: iso(now), to: iso(now - 60_000) })).toEqual(['BAD_USER_INPUT']);
    expect(await ask({ interval: 'ONE_MINUTE', from: iso(now - 2 * 86_400_000) })).toEqual(['BAD_USER_INPUT']);
    expect(await ask({ interval: 'ONE_DAY', from: iso(now - 4 * 365 * 86_400_000) })).toEqual(['BAD_USER_INPUT']);
    expect(await ask({ interval: 'ONE_WEEK', from: iso(now) })).toEqual(['BAD_USER_INPUT']);
  });

  it('streams aggregated ticks that name their sources, and the query says the same', async () => {
    const c = createClient({ url: `${t.gateway.replace(/^http/, 'ws')}`, webSocketImpl: WebSocket, retryAttempts: 0 });
    clients.push(c);
    const ticks: { source: string; sources: string[]; price: string }[] = [];
    c.subscribe<{ btcPrice: { source: string; sources: string[]; price: string } }>(
      { query: 'subscription { btcPrice(currency: USD) { price source sources } }' },
      { next: (r) => void (r.data && ticks.push(r.data.btcPrice)), error: () => undefined, complete: () => undefined },
    );
    await waitFor(() => ticks.length >= 2, 'two ticks');
    expect(ticks[0]).toEqual({ price: expect.stringMatching(/^\d+\.\d{2}$/), source: 'SIMULATED', sources: ['SIMULATED'] });
    const res = await client(t.gateway).request<{ btcPrice: { sources: string[] } }>(gql`{ btcPrice(currency: USD) { sources } }`);
    expect(res.btcPrice.sources).toEqual(['SIMULATED']);
  });
});
