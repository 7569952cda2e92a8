import { compare, divRound, parseDecimal, textToUnits, unitsToText } from './decimal';
import { JsonNumberLiteral, parseJsonLossless, stringifyJson } from './json';
import { averagePriceAudPerBtc, ceilFeeCents, floorSats } from './units';

describe('exchange amounts (decimal text ↔ units)', () => {
  it('converts decimal text to sats and cents without floats', () => {
    expect(textToUnits('0.00100000', 8, 'exact')).toBe(100_000n);
    expect(textToUnits('21000000', 8, 'exact')).toBe(2_100_000_000_000_000n);
    expect(textToUnits('100.00000', 2, 'exact')).toBe(10_000n);
    expect(textToUnits('1.5e-8', 8, 'floor')).toBe(1n);
    expect(textToUnits('9.23948724e-6', 8, 'floor')).toBe(923n);
  });

  it('refuses to invent money: exact rounding throws, floor and half-up are explicit', () => {
    expect(() => textToUnits('0.001', 2, 'exact')).toThrow(RangeError);
    expect(textToUnits('0.002053467437821649', 8, 'floor')).toBe(205_346n);
    expect(textToUnits('0.26500', 2, 'half-up')).toBe(27n);
    expect(textToUnits('0.26499', 2, 'half-up')).toBe(26n);
    expect(textToUnits('-0.005', 2, 'half-up')).toBe(-1n);
    expect(textToUnits('-0.001', 2, 'floor')).toBe(-1n);
  });

  it('rejects text that is not a decimal', () => {
    for (const bad of ['', ' 1', '1.', '.5', '0x10', '1e', 'NaN', 'Infinity', '1,000', '+1', '1e401', '1'.repeat(300)]) {
      expect(parseDecimal(bad)).toBeNull();
    }
    expect(() => textToUnits('abc', 2, 'floor')).toThrow(SyntaxError);
  });

  it('formats units back to text and compares values', () => {
    expect(unitsToText(100_000n, 8)).toBe('0.00100000');
    expect(unitsToText(-5n, 2)).toBe('-0.05');
    expect(unitsToText(7n, 0)).toBe('7');
    expect(compare(parseDecimal('1.50')!, parseDecimal('1.5')!)).toBe(0);
    expect(compare(parseDecimal('1.49')!, parseDecimal('1.5')!)).toBe(-1);
  });

  it('prices fills: sats round down, fees round up, averages to the cent', () => {
    expect(floorSats(10_000n, parseDecimal('100000.00')!)).toBe(100_000n);
    expect(floorSats(10_000n, parseDecimal('98765.43')!)).toBe(101_250n); // 101250.00025... floors
    expect(ceilFeeCents(10_000n, 26)).toBe(26n);
    expect(ceilFeeCents(10_001n, 26)).toBe(27n); // 26.0026 rounds against us
    expect(averagePriceAudPerBtc(10_000n, 100_000n)).toBe('100000.00');
    expect(averagePriceAudPerBtc(10_000n, 0n)).toBeNull();
    expect(divRound(7n, 2n, 'half-up')).toBe(4n);
    expect(() => divRound(1n, 0n, 'floor')).toThrow(RangeError);
  });
});

describe('lossless-json', () => {
  it('keeps JSON numbers as their exact source text', () => {
    const v = parseJsonLossless('{"amount":0.002053467437821649,"n":[1,-2.5e-3],"ok":true,"s":"x\\"y","z":null}');
    expect(v).toEqual({ amount: '0.002053467437821649', n: ['1', '-2.5e-3'], ok: true, s: 'x"y', z: null });
  });

  it('rejects malformed JSON and never writes to the prototype', () => {
    expect(() => parseJsonLossless('{"error":[],"result":{"txid":["O')).toThrow();
    expect(() => parseJsonLossless('{"a":1} x')).toThrow();
    const v = parseJsonLossless('{"__proto__":{"polluted":"yes"}}') as Record<string, unknown>;
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(v)).toEqual([]);
  });

  it('writes decimal strings as exact number literals', () => {
    expect(stringifyJson({ quantity: new JsonNumberLiteral('100.10'), code: 'AUD', skip: undefined })).toBe('{"quantity":100.10,"code":"AUD"}');
    expect(() => new JsonNumberLiteral('1e')).toThrow(RangeError);
  });
});
