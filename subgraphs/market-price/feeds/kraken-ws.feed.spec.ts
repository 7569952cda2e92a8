import { configureLogger } from '../../../lib/logger';
import { DEFAULT_MALFORMED_FRAME, FakeKrakenWsServer, tickerFrame } from '../../../test/fakes/kraken-ws.server';
import { FakePriceRestServer } from '../../../test/fakes/price-rest.server';
import { krakenSubscribeMessage, KrakenWsFeed, parseKrakenRestTicker, parseKrakenWsFrame, type KrakenWsFeedOptions } from './kraken-ws.feed';
import type { SourceQuote } from './price-feed.types';
import { sleep, waitFor } from './wait-for.testutil';
import { at } from '../../../test/helpers/present';

configureLogger('silent');

describe('parseKrakenWsFrame', () => {
  it('keeps the exact digits of snapshot and update prices', () => {
    const frame = parseKrakenWsFrame(
      tickerFrame('snapshot', [
        { symbol: 'BTC/AUD', last: '95123.40' },
        { symbol: 'BTC/USD', last: '12345678901234567.89' },
      ]),
    );
    expect(frame).toEqual({
      kind: 'ticker',
      type: 'snapshot',
      rows: [
        { symbol: 'BTC/AUD', last: '95123.40' },
        { symbol: 'BTC/USD', last: '12345678901234567.89' },
      ],
      invalidRows: 0,
    });
    expect(parseKrakenWsFrame('{"channel":"ticker","type":"update","data":[{"symbol":"BTC/AUD","last":9.51234E4}]}')).toMatchObject({
      type: 'update',
      rows: [{ symbol: 'BTC/AUD', last: '95123.4' }],
    });
  });

  it('classifies heartbeats, acks, status and unknown channels', () => {
    expect(parseKrakenWsFrame('{"channel":"heartbeat"}')).toEqual({ kind: 'heartbeat' });
    expect(
      parseKrakenWsFrame(
        '{"method":"subscribe","result":{"channel":"ticker","event_trigger":"trades","snapshot":true,"symbol":"BTC/AUD"},"success":true,"time_in":"2025-01-01T00:00:00.000000Z","time_out":"2025-01-01T00:00:00.000100Z"}',
      ),
    ).toEqual({ kind: 'ack', method: 'subscribe', success: true, symbol: 'BTC/AUD' });
    expect(parseKrakenWsFrame('{"error":"Currency pair not supported BTC/XYZ","method":"subscribe","success":false}')).toEqual({
      kind: 'ack',
      method: 'subscribe',
      success: false,
      error: 'Currency pair not supported BTC/XYZ',
    });
    expect(parseKrakenWsFrame('{"channel":"status","type":"update","data":[{"system":"maintenance","api_version":"v2"}]}')).toEqual({
      kind: 'status',
      system: 'maintenance',
    });
    expect(parseKrakenWsFrame('{"channel":"book","type":"update","data":[]}')).toEqual({ kind: 'other' });
  });

  it('flags malformed frames instead of throwing', () => {
    for (const bad of [
      DEFAULT_MALFORMED_FRAME,
      'not json',
      '[1,2]',
      '{"channel":"ticker","type":"update","data":{}}',
      '{"channel":"ticker","type":"delta","data":[]}',
      '{"channel":"ticker","type":"update","data":[{"symbol":"BTC/AUD","last":"abc"}]}',
      '{"channel":"ticker","type":"update","data":[{"symbol":"BTC/AUD","last":-1}]}',
    ]) {
      expect(parseKrakenWsFrame(bad).kind).toBe('malformed');
    }
    expect(parseKrakenWsFrame('{"channel":"ticker","type":"update","data":[{"symbol":"BTC/AUD","last":1.5},{"symbol":"BTC/USD"}]}')).toMatchObject({
      kind: 'ticker',
      invalidRows: 1,
    });
  });

  it('builds the documented subscribe request', () => {
    expect(JSON.parse(krakenSubscribeMessage(['AUD', 'USD']))).toEqual({ method: 'subscribe', params: { channel: 'ticker', symbol: ['BTC/AUD', 'BTC/USD'] } });
    expect(JSON.parse(krakenSubscribeMessage(['AUD'], 'bbo'))).toEqual({ method: 'subscribe', params: { channel: 'ticker', symbol: ['BTC/AUD'], event_trigger: 'bbo' } });
  });
});

describe('parseKrakenRestTicker', () => {
  it('returns c[0] of the only pair, whatever Kraken names it', () => {
    const body = '{"error":[],"result":{"XXBTZAUD":{"a":["150100.00000","1","1.000"],"b":["150000.00000","2","2.000"],"c":["150050.10000","0.00100000"],"v":["1.1","2.2"],"p":["1","1"],"t":[1,2],"l":["1","1"],"h":["1","1"],"o":"1"}}}';
    expect(parseKrakenRestTicker(body)).toBe('150050.10000');
  });

  it('throws on Kraken errors and malformed results', () => {
    expect(() => parseKrakenRestTicker('{"error":["EQuery:Unknown asset pair"]}')).toThrow('EQuery:Unknown asset pair');
    expect(() => parseKrakenRestTicker('{"error":[],"result":{}}')).toThrow('exactly one pair');
    expect(() => parseKrakenRestTicker('{"error":[],"result":{"XXBTZAUD":{"c":[]}}}')).toThrow('c[0]');
    expect(() => parseKrakenRestTicker('{"error":[],"result":{"XXBTZ')).toThrow(SyntaxError);
  });
});

describe('KrakenWsFeed against the fakes', () => {
  let ws: FakeKrakenWsServer | undefined;
  let rest: FakePriceRestServer;
  let feed: KrakenWsFeed | undefined;
  let quotes: SourceQuote[];

  beforeEach(async () => {
    rest = await FakePriceRestServer.start({ kraken: { XBTAUD: '150010.00000', XBTUSD: '97520.10000' } });
    quotes = [];
  });
  afterEach(async () => {
    await feed?.stop();
    await ws?.close();
    await rest.close();
    feed = undefined;
    ws = undefined;
  });

  async function startFeed(url: string, opts: KrakenWsFeedOptions = {}): Promise<KrakenWsFeed> {
    feed = new KrakenWsFeed({
      wsUrl: url,
      restBaseUrl: rest.baseUrl,
      staleAfterMs: 2_000,
      restPollMs: 100,
      reconnectInitialMs: 20,
      reconnectMaxMs: 200,
      ...opts,
    });
    await feed.start((q) => quotes.push(q));
    return feed;
  }

  const prices = (currency: 'AUD' | 'USD'): string[] => quotes.filter((q) => q.currency === currency).map((q) => q.price);

  it('subscribes with the documented message and emits snapshot then updates with exact digits', async () => {
    ws = await FakeKrakenWsServer.start({
      snapshot: [
        { symbol: 'BTC/AUD', last: '95123.40' },
        { symbol: 'BTC/USD', last: '12345678901234567.89' },
      ],
      script: [{ delayMs: 20, action: 'update', rows: [{ symbol: 'BTC/AUD', last: '95124.00000001' }] }],
    });
    const f = await startFeed(ws.url);
    await waitFor(() => quotes.length >= 3, 3_000, 'snapshot and update');
    expect(ws.requests).toEqual([{ method: 'subscribe', params: { channel: 'ticker', symbol: ['BTC/AUD', 'BTC/USD'] } }]);
    expect(prices('AUD')).toEqual(['95123.40', '95124.00000001']);
    expect(prices('USD')).toEqual(['12345678901234567.89']);
    expect(quotes.every((q) => q.source === 'KRAKEN')).toBe(true);
    expect(f.stats()).toMatchObject({ connected: true, connects: 1, malformedFrames: 0, wsQuotes: 3, restQuotes: 0 });
  });

  it('skips and counts malformed frames without dropping the connection', async () => {
    ws = await FakeKrakenWsServer.start({
      script: [
        { delayMs: 10, action: 'malformed' },
        { delayMs: 10, action: 'raw', text: '{"channel":"ticker","type":"update","data":{}}' },
        { delayMs: 10, action: 'raw', text: '\u0000\u0001garbage' },
        { delayMs: 10, action: 'update', rows: [{ symbol: 'BTC/AUD', last: '150001.5' }] },
      ],
    });
    const f = await startFeed(ws.url);
    await waitFor(() => prices('AUD').includes('150001.5'), 3_000, 'update after malformed frames');
    expect(f.stats()).toMatchObject({ malformedFrames: 3, connects: 1, reconnects: 0 });
    expect(ws.connectionCount).toBe(1);
  });

  it('reconnects with backoff after the connection drops, and resubscribes', async () => {
    ws = await FakeKrakenWsServer.start({
      script: (i) => (i === 0 ? [{ delayMs: 20, action: 'drop' }] : [{ delayMs: 10, action: 'update', rows: [{ symbol: 'BTC/AUD', last: '150777.7' }] }]),
    });
    const f = await startFeed(ws.url);
    await waitFor(() => prices('AUD').includes('150777.7'), 3_000, 'update on the second connection');
    expect(ws.connectionCount).toBe(2);
    expect(ws.requests).toHaveLength(2);
    expect(f.stats()).toMatchObject({ connects: 2, reconnects: 1, restQuotes: 0 });
  });

  it('keeps retrying with exponential backoff while the server is unreachable', async () => {
    ws = await FakeKrakenWsServer.start();
    const url = ws.url;
    await ws.close();
    ws = undefined;
    const f = await startFeed(url, { reconnectInitialMs: 20, reconnectMaxMs: 1_000 });
    await sleep(400);
    // Delays 20, 40, 80, 160 ms → about 5 attempts in 400 ms; a fixed 20 ms retry would make ~20.
    expect(f.stats().connects).toBeGreaterThanOrEqual(3);
    expect(f.stats().connects).toBeLessThanOrEqual(6);
    expect(quotes).toEqual([]);
    expect(f.stats().connected).toBe(false);
  });

  it('heartbeats keep a quiet socket alive; the quiet symbols are topped up from REST', async () => {
    ws = await FakeKrakenWsServer.start({ heartbeatMs: 20 });
    const f = await startFeed(ws.url, { staleAfterMs: 200, watchdogMs: 20, restPollMs: 1_000 });
    await waitFor(() => f.stats().restQuotes >= 2, 3_000, 'REST top-up for quiet symbols');
    await sleep(200);
    expect(f.stats()).toMatchObject({ connected: true, connects: 1, staleDisconnects: 0 });
    expect(prices('AUD')).toEqual(['150000.10', '150010.00000']);
  });

  it('falls back to REST when the socket goes silent, terminates it, and returns to WS data', async () => {
    ws = await FakeKrakenWsServer.start({
      heartbeatMs: 20,
      script: (i) => (i === 0 ? [{ delayMs: 10, action: 'silent' }] : [{ delayMs: 10, action: 'update', rows: [{ symbol: 'BTC/AUD', last: '150999.9' }] }]),
    });
    const f = await startFeed(ws.url, { staleAfterMs: 200, watchdogMs: 20, restPollMs: 1_000 });
    await waitFor(() => prices('AUD').includes('150010.00000') && prices('USD').includes('97520.10000'), 3_000, 'REST fallback quotes');
    expect(rest.requests).toEqual(expect.arrayContaining(['/0/public/Ticker?pair=XBTAUD', '/0/public/Ticker?pair=XBTUSD']));
    await waitFor(() => prices('AUD').includes('150999.9'), 3_000, 'WS data after reconnect');
    expect(f.stats().staleDisconnects).toBeGreaterThanOrEqual(1);
    expect(f.stats().restQuotes).toBeGreaterThanOrEqual(2);
    expect(ws.connectionCount).toBeGreaterThanOrEqual(2);
  });

  it('polls REST while the WS is unreachable, at most once per restPollMs per pair', async () => {
    ws = await FakeKrakenWsServer.start();
    const url = ws.url;
    await ws.close();
    ws = undefined;
    const f = await startFeed(url, { staleAfterMs: 100, watchdogMs: 10, restPollMs: 150, reconnectInitialMs: 50, reconnectMaxMs: 50 });
    await waitFor(() => prices('AUD').length >= 2, 3_000, 'two REST quotes');
    const t = Date.now();
    await waitFor(() => Date.now() - t > 300, 1_000);
    const aud = rest.requests.filter((p) => p.endsWith('XBTAUD')).length;
    // ~450-600 ms elapsed since start at one poll per 150 ms: well under what an unthrottled 10 ms watchdog would do.
    expect(aud).toBeGreaterThanOrEqual(2);
    expect(aud).toBeLessThanOrEqual(6);
    expect(f.stats().restQuotes).toBe(quotes.length);
  });

  it('WS down and REST outage: no quotes, no crash; REST recovery brings quotes back', async () => {
    ws = await FakeKrakenWsServer.start();
    const url = ws.url;
    await ws.close();
    ws = undefined;
    rest.setMode('kraken', 'outage');
    const f = await startFeed(url, { staleAfterMs: 50, watchdogMs: 10, restPollMs: 50, reconnectInitialMs: 50 });
    await waitFor(() => f.stats().restFailures >= 2, 3_000, 'REST failures');
    expect(quotes).toEqual([]);
    rest.setMode('kraken', 'error');
    await waitFor(() => f.stats().restFailures >= 4, 3_000, 'Kraken error responses');
    expect(quotes).toEqual([]);
    rest.setMode('kraken', 'ok');
    await waitFor(() => quotes.length >= 1, 3_000, 'recovery');
    expect(['150010.00000', '97520.10000']).toContain(at(quotes, 0, 'quotes').price);
  });

  it('logs and ignores a rejected subscription while keeping accepted symbols', async () => {
    ws = await FakeKrakenWsServer.start({ symbols: ['BTC/AUD'] });
    const f = await startFeed(ws.url);
    await waitFor(() => quotes.length >= 1, 3_000, 'AUD snapshot');
    expect(prices('AUD')).toEqual(['150000.10']);
    expect(prices('USD')).toEqual([]);
    expect(f.stats().malformedFrames).toBe(0);
  });

  it('follows the fake\'s imperative controls: push update, malformed frame, drop, silence', async () => {
    ws = await FakeKrakenWsServer.start({ heartbeatMs: 30 });
    const f = await startFeed(ws.url, { staleAfterMs: 300, watchdogMs: 20, restPollMs: 10_000 });
    await ws.waitForSubscriptions(1);
    await waitFor(() => quotes.length >= 2, 3_000, 'snapshot');
    ws.sendUpdate([{ symbol: 'BTC/USD', last: '97000.01' }]);
    ws.sendRaw('{"channel":"ticker","type":"update","data":[{"symbol":"BTC/USD","last":null}]}');
    await waitFor(() => prices('USD').includes('97000.01') && f.stats().malformedFrames === 1, 3_000, 'pushed frames');
    ws.setSnapshot([{ symbol: 'BTC/AUD', last: '151000' }]);
    ws.dropAll();
    await ws.waitForConnections(2);
    await waitFor(() => prices('AUD').includes('151000'), 3_000, 'new snapshot after reconnect');
    expect(f.stats().staleDisconnects).toBe(0);
    // Silence stops heartbeats too: the watchdog must notice and reconnect on its own.
    ws.setSilent(true);
    await ws.waitForConnections(3);
    expect(f.stats().staleDisconnects).toBe(1);
  });

  it('stop() during a pending reconnect leaves nothing running', async () => {
    ws = await FakeKrakenWsServer.start({ script: [{ delayMs: 10, action: 'drop' }] });
    const f = await startFeed(ws.url, { reconnectInitialMs: 5_000 });
    await waitFor(() => f.stats().reconnects === 1, 3_000, 'drop');
    await f.stop();
    expect(f.stats().connected).toBe(false);
    const count = quotes.length;
    await new Promise((r) => setTimeout(r, 50));
    expect(quotes.length).toBe(count);
  });
});
