import fc from 'fast-check';
import { compare, divRound, formatDecimal, formatUnits, parseDecimal, requireDecimal, textToUnits, unitsToText, type Decimal } from './decimal';
import { parseJsonLossless, stringifyJson, JsonNumberLiteral } from './json';
import { audToCents, centsToAud } from './scalars';
import {
  allocate,
  averagePriceAudPerBtc,
  ceilFeeCents,
  centsE4,
  centsForSats,
  centsToE4,
  cents,
  decimalString,
  e4ToCents,
  e4ToCentsText,
  floorSats,
  halfUpDisplay,
  sats,
} from './units';

/** Properties of the money kernel: whatever the inputs, money is never created by rounding. */

const amountCents = fc.bigInt({ min: 0n, max: 10n ** 15n });
const signedUnits = fc.bigInt({ min: -(10n ** 18n), max: 10n ** 18n });
/** A positive AUD/BTC price with up to 8 fraction digits, 0.00000001 .. 10 000 000. */
const price = fc
  .tuple(fc.bigInt({ min: 1n, max: 10n ** 15n }), fc.integer({ min: 0, max: 8 }))
  .map(([coef, scale]): Decimal => requireDecimal(formatUnits(coef, scale)));
const scale = fc.integer({ min: 0, max: 12 });

describe('money kernel properties', () => {
  it('AUD → sats → AUD never creates money (floor both ways)', () => {
    fc.assert(
      fc.property(amountCents, price, (c, p) => {
        const s = floorSats(c, p);
        expect(s >= 0n).toBe(true);
        expect(centsForSats(s, p, 'floor') <= c).toBe(true);
        // …and the floor gives away less than one satoshi's worth: one more sat would cost more than c.
        expect(centsForSats(s + 1n, p, 'ceil') >= c).toBe(true);
      }),
    );
  });

  it('fees round up: never below the exact share, never a cent above it', () => {
    fc.assert(
      fc.property(amountCents, fc.integer({ min: 0, max: 10_000 }), (c, bps) => {
        const fee = ceilFeeCents(c, bps);
        const exact = c * BigInt(bps); // fee × 10 000
        expect(fee * 10_000n >= exact).toBe(true);
        expect((fee - 1n) * 10_000n < exact).toBe(true);
      }),
    );
  });

  it('allocate: the parts sum to the whole and each is within one unit of its exact share', () => {
    fc.assert(
      fc.property(signedUnits, fc.array(fc.bigInt({ min: 0n, max: 10n ** 9n }), { minLength: 1, maxLength: 12 }), (total, weights) => {
        fc.pre(weights.some((w) => w > 0n));
        const parts = allocate(total, weights);
        const sum = weights.reduce((a, b) => a + b, 0n);
        expect(parts.reduce((a, b) => a + b, 0n)).toBe(total);
        parts.forEach((part, i) => {
          const exact = total * (weights[i] ?? 0n); // share × sum
          const diff = part * sum - exact;
          expect(diff < sum && diff > -sum).toBe(true);
        });
      }),
    );
  });

  it('parse ∘ format is the identity on units at any scale', () => {
    fc.assert(
      fc.property(signedUnits, scale, (u, s) => {
        expect(textToUnits(unitsToText(u, s), s, 'exact')).toBe(u);
        expect(textToUnits(formatUnits(u, s), s, 'exact')).toBe(u);
      }),
    );
  });

  it('format ∘ parse is the identity on canonical decimal text, and exponents round-trip by value', () => {
    fc.assert(
      fc.property(signedUnits, scale, fc.integer({ min: -20, max: 20 }), (u, s, e) => {
        const text = formatUnits(u, s);
        const d = parseDecimal(text);
        expect(d && formatDecimal(d)).toBe(text);
        const exp = parseDecimal(`${text}e${e}`);
        const shifted = e >= 0 ? requireDecimal(formatUnits(u * 10n ** BigInt(e), s)) : requireDecimal(formatUnits(u, s - e));
        expect(exp && compare(exp, shifted)).toBe(0);
      }),
    );
  });

  it('AUD text ↔ cents round-trips exactly', () => {
    fc.assert(
      fc.property(amountCents, (c) => {
        expect(audToCents(centsToAud(c))).toBe(c);
        expect(cents(c.toString())).toBe(c);
        expect(decimalString(centsToAud(c))).toBe(centsToAud(c));
      }),
    );
  });

  it('rounding directions: floor ≤ exact ≤ ceil, half-up within half a unit, all agree when exact', () => {
    fc.assert(
      fc.property(signedUnits, fc.bigInt({ min: 1n, max: 10n ** 9n }), (n, d) => {
        const floor = divRound(n, d, 'floor');
        const ceil = divRound(n, d, 'ceil');
        const halfUp = divRound(n, d, 'half-up');
        const halfEven = divRound(n, d, 'half-even');
        expect(floor * d <= n && n <= ceil * d).toBe(true);
        expect(ceil - floor).toBe(n % d === 0n ? 0n : 1n);
        for (const r of [halfUp, halfEven]) {
          const twice = (r * d - n) * 2n;
          expect(twice <= d && twice >= -d).toBe(true);
        }
        if (n % d === 0n) expect(divRound(n, d, 'exact')).toBe(floor);
        else expect(() => divRound(n, d, 'exact')).toThrow(RangeError);
      }),
    );
  });

  it('cents ↔ cents×10⁴: exact one way, explicit rounding back, text keeps every digit', () => {
    fc.assert(
      fc.property(signedUnits, (e4) => {
        const c = e4ToCents(e4, 'floor');
        expect(centsToE4(c) <= e4).toBe(true);
        expect(centsToE4(c) + 10_000n > e4).toBe(true);
        expect(e4ToCents(centsToE4(c), 'exact')).toBe(c);
        expect(textToUnits(e4ToCentsText(e4), 4, 'exact')).toBe(e4);
      }),
    );
  });

  it('half-up display and average price agree with exact arithmetic', () => {
    fc.assert(
      fc.property(amountCents, fc.bigInt({ min: 1n, max: 10n ** 12n }), (spent, s) => {
        const avg = averagePriceAudPerBtc(spent, s);
        const centsPerBtc = textToUnits(avg ?? '', 2, 'exact');
        // |centsPerBtc × sats − spent × 1e8| ≤ sats / 2
        const twice = (centsPerBtc * s - spent * 100_000_000n) * 2n;
        expect(twice <= s && twice > -s).toBe(true);
        expect(halfUpDisplay(`${spent}.5`, 0)).toBe(`${spent + 1n}`);
      }),
    );
  });

  it('lossless JSON keeps any decimal literal digit for digit', () => {
    fc.assert(
      fc.property(signedUnits, scale, (u, s) => {
        const text = unitsToText(u, s);
        const json = stringifyJson({ v: new JsonNumberLiteral(text), list: [new JsonNumberLiteral(text)] });
        expect(parseJsonLossless(json)).toEqual({ v: text, list: [text] });
      }),
    );
  });
});

describe('branded constructors', () => {
  it('accept whole numbers and refuse anything else with a clear error', () => {
    expect(cents('1250')).toBe(1250n);
    expect(sats(21)).toBe(21n);
    expect(centsE4(-5n)).toBe(-5n);
    for (const bad of ['12.5', '1e3', ' 1', '', '0x10', '99999999999999999999']) {
      expect(() => cents(bad)).toThrow(RangeError);
      expect(() => sats(bad)).toThrow(/satoshis/);
    }
    expect(() => cents(1.5)).toThrow(/whole number/);
    expect(() => decimalString('9.5e4')).toThrow(/not a plain decimal string/);
    expect(() => floorSats(100n, '0')).toThrow(/price must be positive/);
  });
});
