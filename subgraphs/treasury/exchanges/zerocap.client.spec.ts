import { randomUUID } from 'node:crypto';
import { startFakeZerocap, type FakeZerocap } from '../../../test/fakes/zerocap.server';
import { ExchangeError, netProceedsAudCents } from './exchange.types';
import { mapZerocapOrder, ZerocapClient, zerocapSignature } from './zerocap.client';

async function caught(p: Promise<unknown>): Promise<ExchangeError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ExchangeError) return err;
    throw err;
  }
  throw new Error('expected an ExchangeError');
}

describe('zerocapSignature', () => {
  it('is lowercase hex HMAC-SHA256 of the timestamp string', () => {
    // Check value computed independently: printf 1700000000 | openssl dgst -sha256 -hmac secret
    expect(zerocapSignature('1700000000', 'secret')).toBe('4b227f8831b3763d066901751ad4c583ed08832bf1924a4ec50c2e871b1e8586');
    expect(zerocapSignature('1700000001', 'secret')).not.toBe(zerocapSignature('1700000000', 'secret'));
  });
});

describe('mapZerocapOrder', () => {
  it('maps ccxt statuses and fees', () => {
    const base = { id: '1', status: 'closed', filled: '0.00100000', cost: '100.00', average: '100000.00', fee: { cost: '0.20', currency: 'AUD' } };
    expect(mapZerocapOrder(base, 'c', 10_000n)).toMatchObject({ status: 'FILLED', filledSats: 100_000n, spentAudCents: 10_000n, feeAudCents: 20n, averagePrice: '100000.00' });
    expect(mapZerocapOrder({ ...base, status: 'open', filled: '0', cost: '0' }, 'c', 1n).status).toBe('OPEN');
    expect(mapZerocapOrder({ ...base, status: 'canceled' }, 'c', 1n).status).toBe('PARTIALLY_FILLED');
    expect(mapZerocapOrder({ ...base, status: 'expired', filled: '0', cost: '0' }, 'c', 1n).status).toBe('CANCELLED');
    expect(mapZerocapOrder({ ...base, status: 'rejected', filled: '0', cost: '0' }, 'c', 1n).status).toBe('REJECTED');
    // A 0.00000200 BTC fee at this order's own price (100 AUD / 0.001 BTC) is 20 cents.
    expect(mapZerocapOrder({ ...base, fee: { cost: '0.00000200', currency: 'BTC' } }, 'c', 1n).feeAudCents).toBe(20n);
    expect(() => mapZerocapOrder({ ...base, status: 'weird' }, 'c', 1n)).toThrow(ExchangeError);
    expect(() => mapZerocapOrder({ ...base, fee: { cost: '1', currency: 'USD' } }, 'c', 1n)).toThrow(ExchangeError);
  });
});

describe('ZerocapClient against the fake ZeroCap', () => {
  let fake: FakeZerocap;
  let client: ZerocapClient;
  beforeEach(async () => {
    fake = await startFakeZerocap({ priceAudPerBtc: '100000.00', feeBps: 20 });
    client = new ZerocapClient({ apiKey: fake.apiKey, apiSecret: fake.apiSecret, baseUrl: fake.url, timeoutMs: 5_000 });
  });
  afterEach(() => fake.close());

  it('quotes the ask from the signed ticker', async () => {
    expect(await client.quote()).toMatchObject({ exchange: 'zerocap', priceAudPerBtc: '100000.00' });
    expect(await client.health()).toEqual({ ok: true });
  });

  it('market-buys $100 → FILLED with exact sats and cents, sending client_order_id and cost', async () => {
    const id = randomUUID();
    const order = await client.placeMarketBuy(id, 10_000n);
    expect(order).toMatchObject({
      exchange: 'zerocap',
      clientOrderId: id,
      status: 'FILLED',
      requestedAudCents: 10_000n,
      filledSats: 100_000n,
      spentAudCents: 10_000n,
      feeAudCents: 20n,
      averagePrice: '100000.00',
      exchangeOrderId: '880000000001',
    });
    const sent = JSON.parse(fake.requests().find((r) => r.path === '/orders/create_order')?.body ?? '{}') as Record<string, unknown>;
    expect(sent).toEqual({ symbol: 'BTC/AUD', side: 'buy', type: 'market', cost: '100.00', client_order_id: id });
  });

  it('market-sells sats → FILLED, sending side sell and amount in BTC; proceeds net of fee; a repeat never sells twice', async () => {
    const id = randomUUID();
    const order = await client.placeMarketSell(id, 1_234_567n);
    // 0.01234567 BTC × 100000.00 = 1234.567 AUD → 1234.56 received; fee 20 bps → 2.47.
    expect(order).toMatchObject({
      exchange: 'zerocap',
      side: 'sell',
      clientOrderId: id,
      status: 'FILLED',
      requestedAudCents: 0n,
      requestedSats: 1_234_567n,
      filledSats: 1_234_567n,
      spentAudCents: 123_456n,
      feeAudCents: 247n,
    });
    expect(netProceedsAudCents(order)).toBe(123_209n);
    const sent = JSON.parse(fake.requests().find((r) => r.path === '/orders/create_order')?.body ?? '{}') as Record<string, unknown>;
    expect(sent).toEqual({ symbol: 'BTC/AUD', side: 'sell', type: 'market', amount: '0.01234567', client_order_id: id });
    const fresh = new ZerocapClient({ apiKey: fake.apiKey, apiSecret: fake.apiSecret, baseUrl: fake.url });
    const again = await fresh.placeMarketSell(id, 1_234_567n);
    expect(again).toMatchObject({ exchangeOrderId: order.exchangeOrderId, side: 'sell', filledSats: 1_234_567n });
    expect(fake.orders()).toHaveLength(1);
    expect(await fresh.getOrder(id)).toMatchObject({ side: 'sell', requestedSats: 1_234_567n });
  });

  it('a sell with a wrong key → AUTH, nothing sold; zero sats refused before any request', async () => {
    const bad = new ZerocapClient({ apiKey: 'wrong', apiSecret: fake.apiSecret, baseUrl: fake.url });
    expect((await caught(bad.placeMarketSell(randomUUID(), 1_000n))).kind).toBe('AUTH');
    expect(fake.orders()).toHaveLength(0);
    const before = fake.requests().length;
    expect((await caught(client.placeMarketSell(randomUUID(), 0n))).kind).toBe('REJECTED');
    expect(fake.requests()).toHaveLength(before);
  });

  it('ZeroCap dedupes by client_order_id: a repeat returns the same order, the fake holds one', async () => {
    const id = randomUUID();
    const a = await client.placeMarketBuy(id, 10_000n);
    const fresh = new ZerocapClient({ apiKey: fake.apiKey, apiSecret: fake.apiSecret, baseUrl: fake.url });
    const b = await fresh.placeMarketBuy(id, 10_000n);
    expect(b.exchangeOrderId).toBe(a.exchangeOrderId);
    expect(fake.orders()).toHaveLength(1);
    expect(await fresh.getOrder(id)).toMatchObject({ exchangeOrderId: a.exchangeOrderId });
    expect(await fresh.getOrder(randomUUID())).toBeNull();
  });

  it('partial fill → PARTIALLY_FILLED', async () => {
    fake.setMode('partial-fill');
    const order = await client.placeMarketBuy(randomUUID(), 10_000n);
    expect(order).toMatchObject({ status: 'PARTIALLY_FILLED', filledSats: 50_000n, spentAudCents: 5_000n, feeAudCents: 10n });
  });

  it('a bad secret → AUTH (signature refused), secret not echoed', async () => {
    const bad = new ZerocapClient({ apiKey: fake.apiKey, apiSecret: 'not-the-secret', baseUrl: fake.url });
    const err = await caught(bad.placeMarketBuy(randomUUID(), 10_000n));
    expect(err).toMatchObject({ kind: 'AUTH', httpStatus: 401 });
    expect(err.message).toContain('INVALID_SIGNATURE');
    expect(err.message).not.toContain(fake.apiSecret);
    expect(fake.orders()).toHaveLength(0);
  });

  it('a stale timestamp → AUTH', async () => {
    const skewed = new ZerocapClient({ apiKey: fake.apiKey, apiSecret: fake.apiSecret, baseUrl: fake.url, nowMs: () => Date.now() - 120_000 });
    const err = await caught(skewed.quote());
    expect(err).toMatchObject({ kind: 'AUTH' });
    expect(err.message).toContain('TIMESTAMP_OUT_OF_WINDOW');
  });

  it('outage (503) → UNAVAILABLE with known outcome', async () => {
    fake.setMode('outage');
    const err = await caught(client.placeMarketBuy(randomUUID(), 10_000n));
    expect(err).toMatchObject({ kind: 'UNAVAILABLE', outcomeUnknown: false, retryable: true });
    expect(await client.health()).toEqual({ ok: false, detail: 'UNAVAILABLE' });
  });

  it('rate limit (429) → RATE_LIMITED', async () => {
    fake.setMode('rate-limit');
    expect((await caught(client.placeMarketBuy(randomUUID(), 10_000n))).kind).toBe('RATE_LIMITED');
  });

  it('malformed JSON → INVALID_RESPONSE, outcome unknown on create', async () => {
    fake.setMode('malformed');
    expect(await caught(client.placeMarketBuy(randomUUID(), 10_000n))).toMatchObject({ kind: 'INVALID_RESPONSE', outcomeUnknown: true });
  });

  it('insufficient funds (400) → REJECTED', async () => {
    fake.setMode('insufficient-funds');
    expect(await caught(client.placeMarketBuy(randomUUID(), 10_000n))).toMatchObject({ kind: 'REJECTED', httpStatus: 400 });
  });

  it('a dropped connection after create is outcome-unknown, and getOrder finds the order by client id', async () => {
    fake.setMode('drop-after-place');
    const id = randomUUID();
    expect(await caught(client.placeMarketBuy(id, 10_000n))).toMatchObject({ kind: 'UNAVAILABLE', outcomeUnknown: true });
    fake.setMode('normal');
    expect(await client.getOrder(id)).toMatchObject({ status: 'FILLED', clientOrderId: id });
    expect(fake.orders()).toHaveLength(1);
  });
});
