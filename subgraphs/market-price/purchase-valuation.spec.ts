import { valueInCents } from './purchase-valuation';

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
