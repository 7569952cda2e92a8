import { Currency } from './price-tick.entity';
import { PurchaseValuationResolver, valueInCents } from './purchase-valuation';

describe('purchase valuation', () => {
  it('values satoshis at an exact decimal price, to the cent, half up', () => {
    expect(valueInCents(100_000_000n, '150000.00')).toBe(15_000_000n); // 1 BTC
    expect(valueInCents(16_666n, '150000.00')).toBe(2500n); // 24.999 → 25.00
    expect(valueInCents(1n, '150000')).toBe(0n); // 0.0015 AUD
    expect(valueInCents(4n, '150000')).toBe(1n); // 0.006 AUD → 1 cent
    expect(valueInCents(123_456_789n, '98765.4321')).toBe(12_193_263n); // 121932.6311... AUD
  });
  it('refuses a price that is not a decimal', () => {
    expect(() => valueInCents(1n, '1e5')).toThrow(RangeError);
  });
});

describe('valuing a batch of purchases (one _entities request)', () => {
  it('reads the latest price once per request, not once per purchase and field', async () => {
    const current = jest.fn(async () => ({ currency: Currency.AUD, price: '150000.00', source: 'SIMULATED', sources: ['SIMULATED'], at: new Date() }));
    const ctx = { gate: { allowPublic: () => undefined }, services: { prices: { current } } } as unknown as Parameters<PurchaseValuationResolver['currentValueAud']>[1];
    const resolver = new PurchaseValuationResolver();
    const purchases = [1n, 2n, 3n].map((n) => ({ id: `p${n}`, satoshis: n * 100_000_000n, costAudCents: 10_000_000n }));
    const values = await Promise.all(purchases.flatMap((p) => [resolver.currentValueAud(p, ctx), resolver.unrealizedGainAud(p, ctx)]));
    expect(values).toEqual([15_000_000n, 5_000_000n, 30_000_000n, 20_000_000n, 45_000_000n, 35_000_000n]);
    expect(current).toHaveBeenCalledTimes(1);
    // A new request (context) asks again: nothing is cached across requests.
    const next = { ...ctx };
    await resolver.currentValueAud(purchases[0] ?? { id: '', satoshis: 0n, costAudCents: 0n }, next);
    expect(current).toHaveBeenCalledTimes(2);
  });
});
