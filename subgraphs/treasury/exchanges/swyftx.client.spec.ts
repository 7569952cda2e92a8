import { randomUUID } from 'node:crypto';
import { at } from '../../../test/helpers/present';
import { startFakeSwyftx, type FakeSwyftx } from '../../../test/fakes/swyftx.server';
import { ExchangeError } from './exchange.types';
import { InMemoryOrderIdStore } from './order-id-store';
import { mapSwyftxOrder, SwyftxClient } from './swyftx.client';

async function caught(p: Promise<unknown>): Promise<ExchangeError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ExchangeError) return err;
    throw err;
  }
  throw new Error('expected an ExchangeError');
}

describe('mapSwyftxOrder', () => {
  const ids = { aud: '1', btc: '3' };
  it('rounds float-noisy JSON numbers: BTC down to whole sats, AUD half-up to cents', () => {
    const o = mapSwyftxOrder(
      'ord_1',
      { status: '4', quantity_asset: '1', quantity: '100', amount: '99.99999999999999', total: '0.002053467437821649', feeAmount: '0.6', feeAsset: '1' },
      'c1',
      ids,
      null,
    );
    expect(o).toMatchObject({ status: 'FILLED', filledSats: 205_346n, spentAudCents: 10_000n, feeAudCents: 60n, requestedAudCents: 10_000n });
  });

  it('maps statuses and refuses unknown ones', () => {
    const base = { amount: '0', total: '0' };
    expect(mapSwyftxOrder('u', { ...base, status: '1' }, 'c', ids, 1n).status).toBe('OPEN');
    expect(mapSwyftxOrder('u', { ...base, status: '2' }, 'c', ids, 1n).status).toBe('OPEN');
    expect(mapSwyftxOrder('u', { amount: '5', total: '0.00005', status: '3' }, 'c', ids, 1n).status).toBe('PARTIALLY_FILLED');
    expect(mapSwyftxOrder('u', { ...base, status: '5' }, 'c', ids, 1n).status).toBe('REJECTED');
    expect(mapSwyftxOrder('u', { ...base, status: '6' }, 'c', ids, 1n).status).toBe('CANCELLED');
    expect(mapSwyftxOrder('u', { amount: '5', total: '0.00005', status: '7' }, 'c', ids, 1n).status).toBe('PARTIALLY_FILLED');
    expect(() => mapSwyftxOrder('u', { ...base, status: '99' }, 'c', ids, 1n)).toThrow(ExchangeError);
    expect(() => mapSwyftxOrder('u', { amount: '-1', total: '0', status: '4' }, 'c', ids, 1n)).toThrow(ExchangeError);
  });
});

describe('SwyftxClient against the fake Swyftx', () => {
  let fake: FakeSwyftx;
  let store: InMemoryOrderIdStore;
  let client: SwyftxClient;
  beforeEach(async () => {
    fake = await startFakeSwyftx({ priceAudPerBtc: '100000.00', feeBps: 60 });
    store = new InMemoryOrderIdStore();
    client = new SwyftxClient({ apiKey: fake.apiKey, baseUrl: fake.url, orderIds: store, timeoutMs: 5_000 });
  });
  afterEach(() => fake.close());

  it('quotes the BTC ask from public live rates, resolving asset ids by code', async () => {
    expect(await client.quote()).toMatchObject({ exchange: 'swyftx', priceAudPerBtc: '100000.00' });
    expect(fake.requests().map((r) => r.path)).toEqual(['/markets/assets/', '/live-rates/1/']);
  });

  it('market-sells 0.001 BTC → FILLED: POST /orders/ MARKET_SELL in BTC, gross AUD and fee exact, read back by id', async () => {
    const id = randomUUID();
    const order = await client.placeMarketSell(id, 100_000n);
    expect(order).toMatchObject({
      exchange: 'swyftx',
      clientOrderId: id,
      side: 'sell',
      status: 'FILLED',
      requestedAudCents: 0n,
      requestedSats: 100_000n,
      filledSats: 100_000n,
      spentAudCents: 10_000n,
      feeAudCents: 60n,
      averagePrice: '100000.00',
    });
    expect(await client.getOrder(id)).toMatchObject({ exchangeOrderId: order.exchangeOrderId, side: 'sell', status: 'FILLED', requestedSats: 100_000n });
    expect(fake.orders()).toMatchObject([{ side: 'sell', quantity: '0.00100000' }]);
    expect(await store.get('swyftx', id)).toMatchObject({ audCents: 0n, sats: 100_000n, exchangeOrderId: order.exchangeOrderId });
    // The same id again: the same order, nothing sent; a buy under it is refused.
    expect((await client.placeMarketSell(id, 100_000n)).exchangeOrderId).toBe(order.exchangeOrderId);
    await expect(client.placeMarketBuy(id, 10_000n)).rejects.toMatchObject({ kind: 'REJECTED' });
    expect(fake.orders()).toHaveLength(1);
  });

  it('a sell whose response is lost (crash after submit) is adopted by its BTC quantity; the retry sells nothing more', async () => {
    await client.quote();
    fake.setMode('drop-after-place');
    const id = randomUUID();
    const err = await caught(client.placeMarketSell(id, 123_457n));
    expect(err).toMatchObject({ kind: 'UNAVAILABLE', outcomeUnknown: true });
    expect(fake.orders()).toHaveLength(1);
    fake.setMode('normal');
    // A buy of the same number of AUD cents is not mistaken for it (quantity asset differs).
    await client.placeMarketBuy(randomUUID(), 123_457n);
    // A new process: only the durable store survives.
    const restarted = new SwyftxClient({ apiKey: fake.apiKey, baseUrl: fake.url, orderIds: store, timeoutMs: 5_000 });
    const found = await restarted.getOrder(id);
    expect(found).toMatchObject({ side: 'sell', status: 'FILLED', exchangeOrderId: at(fake.orders(), 0, 'orders').orderUuid, filledSats: 123_457n, requestedSats: 123_457n });
    const again = await restarted.placeMarketSell(id, 123_457n);
    expect(again.exchangeOrderId).toBe(found?.exchangeOrderId);
    expect(fake.orders().filter((o) => o.side === 'sell')).toHaveLength(1);
    expect(fake.orders()).toHaveLength(2);
  });

  it('a partly filled sell is PARTIALLY_FILLED with the sats sold; a refused one is REJECTED', async () => {
    fake.setMode('partial-fill');
    expect(await client.placeMarketSell(randomUUID(), 100_000n)).toMatchObject({ status: 'PARTIALLY_FILLED', filledSats: 50_000n, spentAudCents: 5_000n, feeAudCents: 30n });
    fake.setMode('insufficient-funds');
    const err = await caught(client.placeMarketSell(randomUUID(), 100_000n));
    expect(err).toMatchObject({ kind: 'REJECTED', httpStatus: 400 });
  });

  it('market-buys $100 → FILLED with exact sats and cents, using one bearer token', async () => {
    const id = randomUUID();
    const order = await client.placeMarketBuy(id, 10_000n);
    expect(order).toMatchObject({
      exchange: 'swyftx',
      clientOrderId: id,
      status: 'FILLED',
      requestedAudCents: 10_000n,
      filledSats: 100_000n,
      spentAudCents: 10_000n,
      feeAudCents: 60n,
      averagePrice: '100000.00',
    });
    expect(order.exchangeOrderId).toMatch(/^ord_/);
    expect(await client.getOrder(id)).toMatchObject({ exchangeOrderId: order.exchangeOrderId, status: 'FILLED' });
    expect(fake.tokensIssued()).toBe(1);
  });

  it('places the same clientOrderId only once (mapping kept in the order-id store)', async () => {
    const id = randomUUID();
    const a = await client.placeMarketBuy(id, 10_000n);
    const b = await client.placeMarketBuy(id, 10_000n);
    expect(b.exchangeOrderId).toBe(a.exchangeOrderId);
    expect(fake.orders()).toHaveLength(1);
    expect(await client.getOrder(randomUUID())).toBeNull();
  });

  it('partial fill → PARTIALLY_FILLED', async () => {
    fake.setMode('partial-fill');
    const order = await client.placeMarketBuy(randomUUID(), 10_000n);
    expect(order).toMatchObject({ status: 'PARTIALLY_FILLED', filledSats: 50_000n, spentAudCents: 5_000n, feeAudCents: 30n, requestedAudCents: 10_000n });
  });

  it('a bad API key → AUTH, without echoing the key', async () => {
    const bad = new SwyftxClient({ apiKey: 'wrong-key-123456', baseUrl: fake.url });
    const err = await caught(bad.placeMarketBuy(randomUUID(), 10_000n));
    expect(err).toMatchObject({ kind: 'AUTH', httpStatus: 401, retryable: false });
    expect(err.message).not.toContain('wrong-key-123456');
    expect(fake.orders()).toHaveLength(0);
  });

  it('a revoked token is refreshed once and the call succeeds', async () => {
    await client.placeMarketBuy(randomUUID(), 1_000n);
    fake.revokeTokens();
    await client.placeMarketBuy(randomUUID(), 1_000n);
    expect(fake.tokensIssued()).toBe(2);
    expect(fake.orders()).toHaveLength(2);
  });

  it('outage (503) → UNAVAILABLE, refusal known (failover is safe)', async () => {
    await client.quote();
    fake.setMode('outage');
    const err = await caught(client.placeMarketBuy(randomUUID(), 10_000n));
    expect(err).toMatchObject({ kind: 'UNAVAILABLE', retryable: true, httpStatus: 503, outcomeUnknown: false });
    expect(await client.health()).toEqual({ ok: false, detail: 'UNAVAILABLE' });
  });

  it('rate limit (429) → RATE_LIMITED', async () => {
    fake.setMode('rate-limit');
    const err = await caught(client.placeMarketBuy(randomUUID(), 10_000n));
    expect(err).toMatchObject({ kind: 'RATE_LIMITED', retryable: true, httpStatus: 429 });
  });

  it('malformed JSON → INVALID_RESPONSE', async () => {
    await client.quote();
    await client.health();
    fake.setMode('malformed');
    expect((await caught(client.quote())).kind).toBe('INVALID_RESPONSE');
  });

  it('insufficient funds (400) → REJECTED with the exchange reason', async () => {
    fake.setMode('insufficient-funds');
    const err = await caught(client.placeMarketBuy(randomUUID(), 10_000n));
    expect(err).toMatchObject({ kind: 'REJECTED', httpStatus: 400 });
    expect(err.message).toContain('InsufficientFunds');
  });

  it('a lost response leaves outcome unknown; getOrder adopts the order by scanning, and no second buy happens', async () => {
    await client.quote();
    fake.setMode('drop-after-place');
    const id = randomUUID();
    const err = await caught(client.placeMarketBuy(id, 12_345n));
    expect(err).toMatchObject({ kind: 'UNAVAILABLE', outcomeUnknown: true });
    expect(fake.orders()).toHaveLength(1);
    fake.setMode('normal');
    const found = await client.getOrder(id);
    expect(found).toMatchObject({ status: 'FILLED', exchangeOrderId: at(fake.orders(), 0, 'orders').orderUuid, requestedAudCents: 12_345n });
    const again = await client.placeMarketBuy(id, 12_345n);
    expect(again.exchangeOrderId).toBe(found?.exchangeOrderId);
    expect(fake.orders()).toHaveLength(1);
  });

  it('reconciliation never adopts an order already linked to another clientOrderId', async () => {
    const first = randomUUID();
    await client.placeMarketBuy(first, 5_000n);
    // A reservation for a second id with the same amount, whose POST never reached Swyftx.
    await store.reserve('swyftx', { clientOrderId: 'c2', exchangeOrderId: null, audCents: 5_000n, reservedAt: new Date(Date.now() - 1_000) });
    expect(await client.getOrder('c2')).toBeNull();
  });
});
