import fc from 'fast-check';
import { at } from '../../../test/helpers/present';
import { apportion, shareOf } from './apportion';

describe('apportion (largest remainder, ties to the earlier part)', () => {
  it('splits a cost base by sats with hand-computed parts', () => {
    // 13130 × 50000/200000 = 3282.5 and 13130 × 150000/200000 = 9847.5: floors 3282 + 9847 = 13129,
    // one cent left; the remainders tie, so it goes to the earlier part → [3283, 9847].
    expect(apportion(13130n, [50_000n, 150_000n])).toEqual([3283n, 9847n]);
    // 30001 × 1/3 = 10000.33, × 2/3 = 20000.67: the cent goes to the larger remainder → [10000, 20001].
    expect(apportion(30001n, [100_000n, 200_000n])).toEqual([10000n, 20001n]);
    // 100 over three equal weights: 33.33 each, one cent left, all remainders tie → first part.
    expect(apportion(100n, [1n, 1n, 1n])).toEqual([34n, 33n, 33n]);
    expect(apportion(0n, [5n, 7n])).toEqual([0n, 0n]);
    expect(apportion(7n, [0n, 3n])).toEqual([0n, 7n]);
  });

  it('shareOf is the first of [part, rest]; the whole takes everything', () => {
    expect(shareOf(13130n, 50_000n, 200_000n)).toBe(3283n);
    expect(shareOf(13130n, 200_000n, 200_000n)).toBe(13130n);
    expect(shareOf(13130n, 0n, 200_000n)).toBe(0n);
  });

  it('refuses what it cannot split', () => {
    expect(() => apportion(1n, [])).toThrow(RangeError);
    expect(() => apportion(1n, [0n, 0n])).toThrow(RangeError);
    expect(() => apportion(-1n, [1n])).toThrow(RangeError);
    expect(() => apportion(1n, [-1n, 2n])).toThrow(RangeError);
  });

  it('property: the parts always sum exactly to the whole, each within one cent of its exact share', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 15n }),
        fc.array(fc.bigInt({ min: 0n, max: 21n * 10n ** 14n }), { minLength: 1, maxLength: 12 }).filter((w) => w.some((x) => x > 0n)),
        (total, weights) => {
          const parts = apportion(total, weights);
          const sum = weights.reduce((a, b) => a + b, 0n);
          expect(parts.reduce((a, b) => a + b, 0n)).toBe(total);
          parts.forEach((part, i) => {
            // |part − total·w/sum| < 1  ⇔  |part·sum − total·w| < sum
            const weight = at(weights, i, 'weights');
            const diff = part * sum - total * weight;
            expect(diff < sum && diff > -sum).toBe(true);
            if (weight === 0n) expect(part).toBe(0n);
          });
        },
      ),
      { numRuns: 500 },
    );
  });
});
