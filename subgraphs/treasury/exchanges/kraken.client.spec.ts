import { randomUUID } from 'node:crypto';
import { at, present } from '../../../test/helpers/present';
import { startFakeKraken, type FakeKraken } from '../../../test/fakes/kraken.server';
import { ExchangeError, netProceedsAudCents } from './exchange.types';
import {
  classifyKrakenError,
  createNonceGenerator,
  isKrakenClOrdId,
  KrakenClient,
  krakenSignature,
  mapKrakenOrder,
  type KrakenOrderInfo,
} from './kraken.client';

async function caught(p: Promise<unknown>): Promise<ExchangeError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ExchangeError) return err;
    throw err;
  }
  throw new Error('expected an ExchangeError');
}

describe('krakenSignature', () => {
  it("reproduces Kraken's documented worked example exactly", () => {
    const secret = 'kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg==';
    const nonce = '1616492376594';
    const postData = 'nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25';
    expect(krakenSignature('/0/private/AddOrder', nonce, postData, secret)).toBe(
      '4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ==',
    );
  });

  it('changes when any signed input changes', () => {
    const secret = 'kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg==';
    const base = krakenSignature('/0/private/AddOrder', '1', 'nonce=1', secret);
    expect(krakenSignature('/0/private/AddOrder', '2', 'nonce=1', secret)).not.toBe(base);
    expect(krakenSignature('/0/private/AddOrder', '1', 'nonce=1&x=1', secret)).not.toBe(base);
    expect(krakenSignature('/0/private/Balance', '1', 'nonce=1', secret)).not.toBe(base);
  });
});

describe('createNonceGenerator', () => {
  it('is strictly increasing across 100 concurrent calls, even on a frozen clock', async () => {
    const next = createNonceGenerator(() => 1_700_000_000_000);
    const nonces = await Promise.all(Array.from({ length: 100 }, async () => next()));
    const asBig = nonces.map((n) => BigInt(n));
    expect(new Set(nonces).size).toBe(100);
    for (let i = 1; i < asBig.length; i++) expect(at(asBig, i) > at(asBig, i - 1)).toBe(true);
    expect(asBig[0]).toBe(1_700_000_000_000_000n);
  });

  it('never goes backwards when the clock does', () => {
    let t = 2_000;
    const next = createNonceGenerator(() => t);
    const a = BigInt(next());
    t = 1_000;
    const b = BigInt(next());
    t = 3_000;
    const c = BigInt(next());
    expect(b).toBe(a + 1n);
    expect(c).toBe(3_000_000n);
  });
});

describe('classifyKrakenError', () => {
  it('maps Kraken codes to kinds, defaulting to REJECTED', () => {
    expect(classifyKrakenError('EAPI:Rate limit exceeded')).toBe('RATE_LIMITED');
    expect(classifyKrakenError('EOrder:Rate limit exceeded')).toBe('RATE_LIMITED');
    expect(classifyKrakenError('EAPI:Invalid key')).toBe('AUTH');
    expect(classifyKrakenError('EAPI:Invalid signature')).toBe('AUTH');
    expect(classifyKrakenError('EAPI:Invalid nonce')).toBe('AUTH');
    expect(classifyKrakenError('EService:Unavailable')).toBe('UNAVAILABLE');
    expect(classifyKrakenError('EService:Busy')).toBe('UNAVAILABLE');
    expect(classifyKrakenError('EOrder:Insufficient funds')).toBe('REJECTED');
    expect(classifyKrakenError('ESomething:New')).toBe('REJECTED');
  });
});

describe('mapKrakenOrder', () => {
  const info = (over: Partial<KrakenOrderInfo>): KrakenOrderInfo => ({
    status: 'closed',
    cl_ord_id: 'c1',
    vol: '100.00000000',
    vol_exec: '0.00100000',
    cost: '100.00000',
    fee: '0.26000',
    price: '100000.0',
    oflags: 'viqc,fciq',
    ...over,
  });

  it('maps every Kraken status', () => {
    expect(mapKrakenOrder('T', info({ status: 'closed' }), 'c1').status).toBe('FILLED');
    expect(mapKrakenOrder('T', info({ status: 'open', vol_exec: '0', cost: '0', fee: '0' }), 'c1').status).toBe('OPEN');
    expect(mapKrakenOrder('T', info({ status: 'pending', vol_exec: '0', cost: '0', fee: '0' }), 'c1').status).toBe('OPEN');
    expect(mapKrakenOrder('T', info({ status: 'open', vol_exec: '0.00050000', cost: '50.00000' }), 'c1').status).toBe('PARTIALLY_FILLED');
    expect(mapKrakenOrder('T', info({ status: 'canceled', vol_exec: '0', cost: '0', fee: '0' }), 'c1').status).toBe('CANCELLED');
    expect(mapKrakenOrder('T', info({ status: 'expired', vol_exec: '0.00050000', cost: '50.00000' }), 'c1').status).toBe('PARTIALLY_FILLED');
  });

  it('takes requested AUD from vol when viqc is set, and rounds fee/cost half-up to cents', () => {
    const o = mapKrakenOrder('T', info({ cost: '100.00499', fee: '0.26500' }), 'c1');
    expect(o.requestedAudCents).toBe(10_000n);
    expect(o.spentAudCents).toBe(10_000n);
    expect(o.feeAudCents).toBe(27n);
    expect(o.filledSats).toBe(100_000n);
    expect(o.averagePrice).toBe('100000.0');
  });

  it('refuses inconsistent fills instead of guessing units', () => {
    // vol_exec reported in AUD by mistake: 100 * 100000 is nowhere near cost 100.
    expect(() => mapKrakenOrder('T', info({ vol_exec: '100.00000000' }), 'c1')).toThrow(ExchangeError);
    expect(() => mapKrakenOrder('T', info({ cost: 'abc' }), 'c1')).toThrow(ExchangeError);
  });
});

describe('KrakenClient against the fake Kraken', () => {
  let fake: FakeKraken;
  let client: KrakenClient;
  beforeEach(async () => {
    fake = await startFakeKraken({ priceAudPerBtc: '100000.0', feeBps: 26 });
    client = new KrakenClient({ apiKey: fake.apiKey, apiSecret: fake.apiSecret, baseUrl: fake.url });
  });
  afterEach(() => fake.close());

  it('quotes the XBTAUD ask from the public ticker', async () => {
    const q = await client.quote();
    expect(q).toMatchObject({ exchange: 'kraken', priceAudPerBtc: '100000.0' });
    expect(fake.requests()[0]).toMatchObject({ method: 'GET', path: '/0/public/Ticker', params: { pair: 'XBTAUD' } });
  });

  it('market-buys $100 → FILLED with exact sats and cents, sending the documented AddOrder fields', async () => {
    const id = randomUUID();
    const order = await client.placeMarketBuy(id, 10_000n);
    expect(order).toMatchObject({
      exchange: 'kraken',
      clientOrderId: id,
      status: 'FILLED',
      requestedAudCents: 10_000n,
      filledSats: 100_000n,
      spentAudCents: 10_000n,
      feeAudCents: 26n,
      averagePrice: '100000.0',
    });
    expect(order.exchangeOrderId).toMatch(/^O[A-Z2-7]{5}-[A-Z2-7]{5}-[A-Z2-7]{6}$/);
    const add = fake.requests().find((r) => r.path === '/0/private/AddOrder');
    expect(add?.params).toMatchObject({ ordertype: 'market', type: 'buy', pair: 'XBTAUD', volume: '100.00', oflags: 'viqc', cl_ord_id: id });
    expect(add?.params.nonce).toMatch(/^\d+$/);
  });

  it('market-sells sats → FILLED, volume in BTC, fee in AUD (fciq), proceeds net of fee; the same id never sells twice', async () => {
    const id = randomUUID();
    const order = await client.placeMarketSell(id, 1_234_567n);
    // 0.01234567 BTC × 100000.0 = 1234.567 AUD → 123457 cents; fee 26 bps = 3.21088 AUD → 321 cents.
    expect(order).toMatchObject({
      exchange: 'kraken',
      side: 'sell',
      clientOrderId: id,
      status: 'FILLED',
      requestedAudCents: 0n,
      requestedSats: 1_234_567n,
      filledSats: 1_234_567n,
      spentAudCents: 123_457n,
      feeAudCents: 321n,
    });
    expect(netProceedsAudCents(order)).toBe(123_136n);
    const add = fake.requests().filter((r) => r.path === '/0/private/AddOrder');
    expect(add).toHaveLength(1);
    expect(add[0]?.params).toMatchObject({ ordertype: 'market', type: 'sell', pair: 'XBTAUD', volume: '0.01234567', oflags: 'fciq', cl_ord_id: id });
    // A retry (e.g. after a crash) finds the closed order by cl_ord_id instead of selling again.
    const again = await client.placeMarketSell(id, 1_234_567n);
    expect(again).toMatchObject({ exchangeOrderId: order.exchangeOrderId, side: 'sell', filledSats: 1_234_567n, requestedSats: 1_234_567n });
    expect(fake.requests().filter((r) => r.path === '/0/private/AddOrder')).toHaveLength(1);
    expect(await client.getOrder(id)).toMatchObject({ side: 'sell', status: 'FILLED', spentAudCents: 123_457n });
  });

  it('a sell with a bad key → AUTH and nothing is sold; zero sats are refused before any request', async () => {
    const bad = new KrakenClient({ apiKey: 'wrong-key', apiSecret: fake.apiSecret, baseUrl: fake.url });
    expect((await caught(bad.placeMarketSell(randomUUID(), 1_000n))).kind).toBe('AUTH');
    expect(fake.orders()).toHaveLength(0);
    const before = fake.requests().length;
    expect((await caught(client.placeMarketSell(randomUUID(), 0n))).kind).toBe('REJECTED');
    expect(fake.requests()).toHaveLength(before);
  });

  it('reports a partial fill as PARTIALLY_FILLED and finds it again via OpenOrders', async () => {
    fake.setMode('partial-fill');
    const id = randomUUID();
    const order = await client.placeMarketBuy(id, 10_000n);
    expect(order).toMatchObject({ status: 'PARTIALLY_FILLED', filledSats: 50_000n, spentAudCents: 5_000n, feeAudCents: 13n, requestedAudCents: 10_000n });
    const again = await client.getOrder(id);
    expect(again).toMatchObject({ status: 'PARTIALLY_FILLED', exchangeOrderId: order.exchangeOrderId, requestedAudCents: 10_000n });
    expect(fake.requests().map((r) => r.path)).toContain('/0/private/OpenOrders');
  });

  it('finds a closed order by cl_ord_id via ClosedOrders, and returns null for unknown ids', async () => {
    const id = randomUUID();
    const placed = await client.placeMarketBuy(id, 2_500n);
    const found = await client.getOrder(id);
    expect(found).toMatchObject({ exchangeOrderId: placed.exchangeOrderId, status: 'FILLED', filledSats: 25_000n });
    expect(await client.getOrder(randomUUID())).toBeNull();
    expect(await client.getOrder('not a kraken id because it is long')).toBeNull();
  });

  it('a bad key → AUTH (EAPI:Invalid key), and the secret never appears in the error', async () => {
    const bad = new KrakenClient({ apiKey: 'wrong-key', apiSecret: fake.apiSecret, baseUrl: fake.url });
    const err = await caught(bad.placeMarketBuy(randomUUID(), 10_000n));
    expect(err).toMatchObject({ kind: 'AUTH', exchangeCode: 'EAPI:Invalid key', retryable: false });
    expect(err.message).not.toContain(fake.apiSecret);
    expect(fake.orders()).toHaveLength(0);
  });

  it('a bad secret → AUTH (EAPI:Invalid signature)', async () => {
    const bad = new KrakenClient({ apiKey: fake.apiKey, apiSecret: Buffer.from('x'.repeat(64)).toString('base64'), baseUrl: fake.url });
    const err = await caught(bad.getOrder(randomUUID()));
    expect(err).toMatchObject({ kind: 'AUTH', exchangeCode: 'EAPI:Invalid signature' });
  });

  it('a reused or lower nonce → AUTH (EAPI:Invalid nonce)', async () => {
    const fixed = new KrakenClient({ apiKey: fake.apiKey, apiSecret: fake.apiSecret, baseUrl: fake.url, nonce: () => '1000' });
    await fixed.privateRequest('Balance', {}, false);
    const err = await caught(fixed.privateRequest('Balance', {}, false));
    expect(err).toMatchObject({ kind: 'AUTH', exchangeCode: 'EAPI:Invalid nonce' });
  });

  it('keeps nonces in order under 100 concurrent private calls (no EAPI:Invalid nonce)', async () => {
    const results = await Promise.all(Array.from({ length: 100 }, () => client.privateRequest('Balance', {}, false)));
    expect(results).toHaveLength(100);
    const nonces = fake
      .requests()
      .filter((r) => r.path === '/0/private/Balance')
      .map((r) => BigInt(present(r.params.nonce, 'nonce param')));
    expect(nonces).toHaveLength(100);
    for (let i = 1; i < nonces.length; i++) expect(at(nonces, i) > at(nonces, i - 1)).toBe(true);
  });

  it('two clients of one API key share the nonce sequence, so their concurrent calls all pass', async () => {
    const other = new KrakenClient({ apiKey: fake.apiKey, apiSecret: fake.apiSecret, baseUrl: fake.url });
    const calls = Array.from({ length: 40 }, (_, i) => (i % 2 ? client : other).privateRequest('Balance', {}, false));
    await expect(Promise.all(calls)).resolves.toHaveLength(40);
  });

  it('outage (503 + EService:Unavailable) → UNAVAILABLE, retryable, nothing placed', async () => {
    fake.setMode('outage');
    const err = await caught(client.placeMarketBuy(randomUUID(), 10_000n));
    expect(err).toMatchObject({ kind: 'UNAVAILABLE', retryable: true, httpStatus: 503, outcomeUnknown: false });
    expect((await caught(client.quote())).kind).toBe('UNAVAILABLE');
    expect(await client.health()).toEqual({ ok: false, detail: 'UNAVAILABLE' });
  });

  it('EService:Busy → UNAVAILABLE; healthy SystemStatus → ok', async () => {
    expect(await client.health()).toEqual({ ok: true });
    fake.setMode('busy');
    expect((await caught(client.getOrder(randomUUID()))).kind).toBe('UNAVAILABLE');
  });

  it('rate limit → RATE_LIMITED, retryable', async () => {
    fake.setMode('rate-limit');
    const err = await caught(client.placeMarketBuy(randomUUID(), 10_000n));
    expect(err).toMatchObject({ kind: 'RATE_LIMITED', retryable: true, exchangeCode: 'EAPI:Rate limit exceeded' });
  });

  it('malformed JSON → INVALID_RESPONSE; on AddOrder the outcome is unknown', async () => {
    fake.setMode('malformed');
    // The pre-placement lookup already fails, so nothing was sent to AddOrder: outcome known.
    expect(await caught(client.placeMarketBuy(randomUUID(), 10_000n))).toMatchObject({ kind: 'INVALID_RESPONSE', outcomeUnknown: false });
    const add = await caught(client.privateRequest('AddOrder', { ordertype: 'market', type: 'buy', pair: 'XBTAUD', volume: '1.00', oflags: 'viqc' }, true));
    expect(add).toMatchObject({ kind: 'INVALID_RESPONSE', outcomeUnknown: true, retryable: false });
    expect((await caught(client.quote())).kind).toBe('INVALID_RESPONSE');
  });

  it('injected 502 after the order was made → UNAVAILABLE with an unknown outcome, and the order exists', async () => {
    const id = randomUUID();
    // Only AddOrder gets the fault: the lookup before it passes.
    fake.setFaults({ probability: 1, faults: ['bad-gateway-after-create'], paths: ['/0/private/AddOrder'] });
    const err = await caught(client.placeMarketBuy(id, 10_000n));
    fake.setFaults(null);
    expect(err).toMatchObject({ kind: 'UNAVAILABLE', httpStatus: 502, outcomeUnknown: true });
    expect(fake.orders().filter((o) => o.info.cl_ord_id === id)).toHaveLength(1);
    expect(fake.faultCounts()['bad-gateway-after-create']).toBe(1);
    expect(await client.getOrder(id)).toMatchObject({ status: 'FILLED', clientOrderId: id });
  });

  it('injected slow answers arrive late but intact; injected faults are counted per kind', async () => {
    fake.setFaults({ probability: 1, faults: ['slow'], slowMs: 150 });
    const order = await client.placeMarketBuy(randomUUID(), 10_000n);
    expect(order.status).toBe('FILLED');
    fake.setFaults({ probability: 1, faults: ['busy'] });
    expect((await caught(client.getOrder(randomUUID()))).kind).toBe('UNAVAILABLE');
    fake.setFaults(null);
    expect(fake.faultCounts()).toMatchObject({ slow: 4, busy: 1, outage: 0 });
  });

  it('insufficient funds → REJECTED, not retryable', async () => {
    fake.setMode('insufficient-funds');
    const err = await caught(client.placeMarketBuy(randomUUID(), 10_000n));
    expect(err).toMatchObject({ kind: 'REJECTED', retryable: false, exchangeCode: 'EOrder:Insufficient funds' });
  });

  it('placing the same cl_ord_id again after it closed returns the existing order (fake holds one)', async () => {
    const id = randomUUID();
    const first = await client.placeMarketBuy(id, 10_000n);
    const second = await client.placeMarketBuy(id, 10_000n);
    expect(second).toMatchObject({ exchangeOrderId: first.exchangeOrderId, status: 'FILLED', filledSats: 100_000n });
    expect(fake.orders()).toHaveLength(1);
  });

  it('a refused duplicate cl_ord_id returns the open order already holding it', async () => {
    fake.setMode('partial-fill');
    const id = randomUUID();
    const first = await client.placeMarketBuy(id, 10_000n);
    const second = await client.placeMarketBuy(id, 10_000n);
    expect(second.exchangeOrderId).toBe(first.exchangeOrderId);
    expect(fake.orders()).toHaveLength(1);
  });

  it('refuses ids Kraken cannot carry, and bad amounts, before sending anything', async () => {
    expect((await caught(client.placeMarketBuy('a'.repeat(30), 10_000n))).kind).toBe('REJECTED');
    expect((await caught(client.placeMarketBuy(randomUUID(), 0n))).kind).toBe('REJECTED');
    expect(fake.requests()).toHaveLength(0);
    expect(isKrakenClOrdId(randomUUID())).toBe(true);
    expect(isKrakenClOrdId(randomUUID().replace(/-/g, ''))).toBe(true);
    expect(isKrakenClOrdId('short-free-text')).toBe(true);
  });

  it('connection refused → UNAVAILABLE with a known (not placed) outcome', async () => {
    const url = fake.url;
    await fake.close();
    const dead = new KrakenClient({ apiKey: 'k', apiSecret: fake.apiSecret, baseUrl: url, timeoutMs: 2_000 });
    const err = await caught(dead.placeMarketBuy(randomUUID(), 10_000n));
    expect(err).toMatchObject({ kind: 'UNAVAILABLE', outcomeUnknown: false });
    fake = await startFakeKraken();
  });
});
