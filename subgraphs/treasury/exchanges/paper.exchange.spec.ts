import { ExchangeError, netProceedsAudCents } from './exchange.types';
import { PaperExchange } from './paper.exchange';

describe('PaperExchange', () => {
  const price = (p: string) => async () => p;

  it('fills a market buy at the injected price with exact sats and a bps fee', async () => {
    const paper = new PaperExchange({ priceSource: price('98765.43'), feeBps: 50 });
    const order = await paper.placeMarketBuy('order-1', 10_000n);
    expect(order).toMatchObject({
      exchange: 'paper',
      clientOrderId: 'order-1',
      status: 'FILLED',
      requestedAudCents: 10_000n,
      spentAudCents: 10_000n,
      filledSats: 101_250n,
      feeAudCents: 50n,
      averagePrice: '98765.43',
    });
  });

  it('fills a market sell at the injected price: gross rounded down to the cent, fee rounded up, net = gross - fee', async () => {
    const paper = new PaperExchange({ priceSource: price('98765.43'), feeBps: 50 });
    const order = await paper.placeMarketSell('sell-1', 1_234_567n);
    // 0.01234567 BTC × 98765.43 = 1219.3254... AUD → 121932 cents; fee ceil(121932 × 0.005) = 610.
    expect(order).toMatchObject({
      exchange: 'paper',
      side: 'sell',
      clientOrderId: 'sell-1',
      status: 'FILLED',
      requestedAudCents: 0n,
      requestedSats: 1_234_567n,
      filledSats: 1_234_567n,
      spentAudCents: 121_932n,
      feeAudCents: 610n,
    });
    expect(netProceedsAudCents(order)).toBe(121_322n);
    // Same id again: the same order, not a second sale.
    expect(await paper.placeMarketSell('sell-1', 1_234_567n)).toEqual(order);
    expect(paper.allOrders()).toHaveLength(1);
    expect(await paper.getOrder('sell-1')).toEqual(order);
  });

  it('refuses a sell of zero or negative sats', async () => {
    const paper = new PaperExchange({ priceSource: price('100000') });
    await expect(paper.placeMarketSell('s0', 0n)).rejects.toMatchObject({ kind: 'REJECTED' });
    await expect(paper.placeMarketSell('s1', -5n)).rejects.toMatchObject({ kind: 'REJECTED' });
    expect(paper.allOrders()).toHaveLength(0);
  });

  it('is idempotent: the same clientOrderId returns the existing order, also when racing', async () => {
    let calls = 0;
    const paper = new PaperExchange({
      priceSource: async () => {
        calls += 1;
        return '100000';
      },
    });
    const [a, b] = await Promise.all([paper.placeMarketBuy('same', 5_000n), paper.placeMarketBuy('same', 5_000n)]);
    const c = await paper.placeMarketBuy('same', 5_000n);
    expect(a.exchangeOrderId).toBe(b.exchangeOrderId);
    expect(c.exchangeOrderId).toBe(a.exchangeOrderId);
    expect(paper.allOrders()).toHaveLength(1);
    expect(calls).toBe(1);
    expect(await paper.getOrder('same')).toMatchObject({ exchangeOrderId: a.exchangeOrderId, filledSats: 50_000n });
    expect(await paper.getOrder('other')).toBeNull();
  });

  it('fails deterministically from the injected RNG, and a failed call places nothing', async () => {
    const rolls = [0.05, 0.95];
    const paper = new PaperExchange({ priceSource: price('100000'), failureRate: 0.1, rng: () => rolls.shift() ?? 1 });
    await expect(paper.placeMarketBuy('x', 100n)).rejects.toMatchObject({ kind: 'UNAVAILABLE', retryable: true });
    expect(paper.allOrders()).toHaveLength(0);
    await expect(paper.placeMarketBuy('x', 100n)).resolves.toMatchObject({ status: 'FILLED' });
  });

  it('waits the configured latency through the injected sleep', async () => {
    const waits: number[] = [];
    const paper = new PaperExchange({ priceSource: price('1'), latencyMs: 250, sleep: async (ms) => void waits.push(ms) });
    await paper.quote();
    await paper.placeMarketBuy('l', 1n);
    expect(waits).toEqual([250, 250]);
  });

  it('quotes, reports health, and rejects bad prices and amounts', async () => {
    expect(await new PaperExchange({ priceSource: price('100000.5') }).quote()).toMatchObject({ exchange: 'paper', priceAudPerBtc: '100000.5' });
    const broken = new PaperExchange({ priceSource: price('1e5') });
    await expect(broken.quote()).rejects.toBeInstanceOf(ExchangeError);
    expect(await broken.health()).toEqual({ ok: false, detail: 'INVALID_RESPONSE' });
    const down = new PaperExchange({
      priceSource: async () => {
        throw new Error('feed down');
      },
    });
    expect(await down.health()).toEqual({ ok: false, detail: 'UNAVAILABLE' });
    const ok = new PaperExchange({ priceSource: price('1') });
    expect(await ok.health()).toEqual({ ok: true });
    await expect(ok.placeMarketBuy('neg', -1n)).rejects.toMatchObject({ kind: 'REJECTED' });
    await expect(ok.placeMarketBuy('', 1n)).rejects.toMatchObject({ kind: 'REJECTED' });
    await expect(new PaperExchange({ priceSource: price('0') }).placeMarketBuy('z', 1n)).rejects.toMatchObject({ kind: 'INVALID_RESPONSE' });
    expect(() => new PaperExchange({ priceSource: price('1'), failureRate: 2 })).toThrow(RangeError);
  });
});
