import { FakePriceRestServer } from '../../../test/fakes/price-rest.server';
import { configureLogger } from '../../../lib/logger';
import { aggregate } from './aggregator';
import { BtcMarketsFeed, parseBtcMarketsTicker } from './btc-markets.feed';
import { IndependentReserveFeed, parseIndependentReserveSummary } from './independent-reserve.feed';
import type { SourceQuote } from './price-feed.types';
import { waitFor } from './wait-for.testutil';
import { at } from '../../../test/helpers/present';

configureLogger('silent');

const NOW = new Date('2025-06-01T00:00:00Z');

describe('parseIndependentReserveSummary', () => {
  // Shape of IR's documented GetMarketSummary example (numbers are JSON numbers; note IR's "Currrency" spelling).
  const body =
    '{"CreatedTimestampUtc":"2025-05-31T23:59:58.8126139Z","CurrentHighestBidPrice":150000.01,"CurrentLowestOfferPrice":150100.00,' +
    '"DayAvgPrice":149000.12,"DayHighestPrice":151000.00,"DayLowestPrice":148000.50,"DayVolumeXbt":481.67961367,' +
    '"DayVolumeXbtInSecondaryCurrrency":72000000.32,"LastPrice":150050.10,"PrimaryCurrencyCode":"Xbt","SecondaryCurrencyCode":"Aud"}';

  it('keeps LastPrice digits exactly and uses CreatedTimestampUtc as the quote time', () => {
    expect(parseIndependentReserveSummary(body, 'AUD', NOW)).toEqual({
      source: 'INDEPENDENT_RESERVE',
      currency: 'AUD',
      price: '150050.10',
      at: new Date('2025-05-31T23:59:58.812Z'),
    });
  });

  it('rejects bodies without a usable price or for the wrong market', () => {
    expect(() => parseIndependentReserveSummary(body.replace('150050.10', 'null'), 'AUD', NOW)).toThrow('LastPrice');
    expect(() => parseIndependentReserveSummary(body.replace('150050.10', '0'), 'AUD', NOW)).toThrow('LastPrice');
    expect(() => parseIndependentReserveSummary(body, 'USD', NOW)).toThrow('expected USD');
    expect(() => parseIndependentReserveSummary('{"LastPrice":', 'AUD', NOW)).toThrow(SyntaxError);
    expect(() => parseIndependentReserveSummary('[]', 'AUD', NOW)).toThrow(SyntaxError);
  });

  it('clamps a future timestamp (clock skew) to now, and falls back to now without one', () => {
    const future = body.replace('2025-05-31T23:59:58.8126139Z', '2025-06-01T00:05:00Z');
    expect(parseIndependentReserveSummary(future, 'AUD', NOW).at).toEqual(NOW);
    expect(parseIndependentReserveSummary('{"LastPrice":1.5}', 'AUD', NOW).at).toEqual(NOW);
  });
});

describe('parseBtcMarketsTicker', () => {
  // Shape of BTC Markets' documented v3 ticker example.
  const body =
    '{"marketId":"BTC-AUD","bestBid":"150000.01","bestAsk":"150100","lastPrice":"150060.50","volume24h":"56.97613335",' +
    '"volumeQte24h":"8500000.13","price24h":"1119","pricePct24h":"0.75","low24h":"148000","high24h":"151000","timestamp":"2025-05-31T23:59:59.940000Z"}';

  it('reads lastPrice as given and timestamp as the quote time', () => {
    expect(parseBtcMarketsTicker(body, NOW)).toEqual({
      source: 'BTC_MARKETS',
      currency: 'AUD',
      price: '150060.50',
      at: new Date('2025-05-31T23:59:59.940Z'),
    });
  });

  it('rejects a missing/garbage price or another market', () => {
    expect(() => parseBtcMarketsTicker(body.replace('"150060.50"', '"n/a"'), NOW)).toThrow('lastPrice');
    expect(() => parseBtcMarketsTicker(body.replace('BTC-AUD', 'ETH-AUD'), NOW)).toThrow('ETH-AUD');
    expect(() => parseBtcMarketsTicker('<html>', NOW)).toThrow(SyntaxError);
  });
});

describe('REST feeds against the fake server', () => {
  let server: FakePriceRestServer;
  const feeds: { stop(): Promise<void> }[] = [];

  beforeEach(async () => {
    server = await FakePriceRestServer.start({ independentReserve: { Aud: '150020.10', Usd: '97530.5' }, btcMarkets: '150030.40', slowMs: 2_000 });
  });
  afterEach(async () => {
    await Promise.all(feeds.splice(0).map((f) => f.stop()));
    await server.close();
  });

  function collect<T extends { start(cb: (q: SourceQuote) => void): Promise<void>; stop(): Promise<void> }>(feed: T): { feed: T; quotes: SourceQuote[]; started: Promise<void> } {
    const quotes: SourceQuote[] = [];
    feeds.push(feed);
    return { feed, quotes, started: feed.start((q) => quotes.push(q)) };
  }

  it('Independent Reserve: polls AUD and USD with the documented query and exact digits', async () => {
    const { quotes, started } = collect(new IndependentReserveFeed({ baseUrl: server.baseUrl, currencies: ['AUD', 'USD'], pollMs: 60_000 }));
    await started;
    expect(quotes.map((q) => [q.source, q.currency, q.price])).toEqual([
      ['INDEPENDENT_RESERVE', 'AUD', '150020.10'],
      ['INDEPENDENT_RESERVE', 'USD', '97530.5'],
    ]);
    // Sorted: the two requests run concurrently, so arrival order is not guaranteed.
    expect([...server.requests].sort()).toEqual([
      '/Public/GetMarketSummary?primaryCurrencyCode=Xbt&secondaryCurrencyCode=Aud',
      '/Public/GetMarketSummary?primaryCurrencyCode=Xbt&secondaryCurrencyCode=Usd',
    ]);
    expect(Date.now() - at(quotes, 0, 'quotes').at.getTime()).toBeLessThan(5_000);
  });

  it('BTC Markets: reads the v3 ticker', async () => {
    const { quotes, started } = collect(new BtcMarketsFeed({ baseUrl: `${server.baseUrl}/`, pollMs: 60_000 }));
    await started;
    expect(quotes.map((q) => [q.source, q.currency, q.price])).toEqual([['BTC_MARKETS', 'AUD', '150030.40']]);
    // Sorted: the two requests run concurrently, so arrival order is not guaranteed.
    expect([...server.requests].sort()).toEqual(['/v3/markets/BTC-AUD/ticker']);
  });

  it.each(['outage', 'malformed', 'invalid', 'error'] as const)('%s: yields no quote, counts the failure, and recovers on a later poll', async (mode) => {
    server.setMode('independentReserve', mode);
    server.setMode('btcMarkets', mode);
    const ir = collect(new IndependentReserveFeed({ baseUrl: server.baseUrl, pollMs: 30 }));
    const bm = collect(new BtcMarketsFeed({ baseUrl: server.baseUrl, pollMs: 30 }));
    await Promise.all([ir.started, bm.started]);
    expect(ir.quotes).toEqual([]);
    expect(bm.quotes).toEqual([]);
    expect(ir.feed.stats().failures).toBeGreaterThanOrEqual(1);
    expect(bm.feed.stats().lastError).toBeDefined();
    server.setMode('independentReserve', 'ok');
    server.setMode('btcMarkets', 'ok');
    await waitFor(() => ir.quotes.length > 0 && bm.quotes.length > 0, 3_000, 'recovery');
    expect(at(ir.quotes, 0, 'IR quotes').price).toBe('150020.10');
    expect(at(bm.quotes, 0, 'BTCM quotes').price).toBe('150030.40');
  });

  it('slow upstream: times out without a quote', async () => {
    server.setMode('btcMarkets', 'slow');
    const { feed, quotes, started } = collect(new BtcMarketsFeed({ baseUrl: server.baseUrl, pollMs: 60_000, timeoutMs: 100 }));
    await started;
    expect(quotes).toEqual([]);
    expect(feed.stats().lastError).toMatch(/timed out/);
  });

  it('stop() aborts an in-flight request promptly', async () => {
    server.setMode('independentReserve', 'slow');
    const { feed, quotes, started } = collect(new IndependentReserveFeed({ baseUrl: server.baseUrl, pollMs: 60_000, timeoutMs: 10_000 }));
    await waitFor(() => server.requestCount('independentReserve') === 1, 2_000, 'request');
    const t0 = Date.now();
    await feed.stop();
    await started;
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(quotes).toEqual([]);
  });

  it('stale upstream: quotes carry the old upstream timestamp, so the aggregator rejects them as STALE', async () => {
    server.setMode('independentReserve', 'stale');
    const ir = collect(new IndependentReserveFeed({ baseUrl: server.baseUrl, pollMs: 60_000 }));
    const bm = collect(new BtcMarketsFeed({ baseUrl: server.baseUrl, pollMs: 60_000 }));
    await Promise.all([ir.started, bm.started]);
    expect(Date.now() - at(ir.quotes, 0, 'IR quotes').at.getTime()).toBeGreaterThan(3_000_000);
    const agg = aggregate([...ir.quotes, ...bm.quotes], new Date(), { staleAfterMs: 30_000, maxDeviationBps: 100, minSources: 1 });
    expect(agg?.rejected).toEqual([{ source: 'INDEPENDENT_RESERVE', reason: 'STALE' }]);
    expect(agg?.price).toBe('150030.4');
  });

  it('unreachable upstream: no quote, no crash', async () => {
    const closed = await FakePriceRestServer.start();
    const baseUrl = closed.baseUrl;
    await closed.close();
    const { feed, quotes, started } = collect(new BtcMarketsFeed({ baseUrl, pollMs: 60_000, timeoutMs: 1_000 }));
    await started;
    expect(quotes).toEqual([]);
    expect(feed.stats().failures).toBe(1);
  });

  it('refuses a second start', async () => {
    const { feed, started } = collect(new BtcMarketsFeed({ baseUrl: server.baseUrl, pollMs: 60_000 }));
    await started;
    await expect(feed.start(() => undefined)).rejects.toThrow('already started');
  });
});
