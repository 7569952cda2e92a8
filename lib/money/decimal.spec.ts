import {
  compareDecimal,
  deviationBps,
  divRoundHalfEven,
  exceedsDeviationBps,
  isDecimalString,
  isPositiveDecimal,
  medianDecimal,
  multiplyDecimal,
  normalizeDecimal,
  textToUnits,
  formatUnits,
  toPlainDecimal,
} from './decimal';

// parse/format at a fixed scale: what the price code does.
const parseDecimal = (text: string, scale = 8): bigint => textToUnits(text, scale, 'exact');
const formatDecimal = formatUnits;

describe('parseDecimal / formatDecimal', () => {
  it('parses to scaled bigints exactly and formats back', () => {
    expect(parseDecimal('95123.4')).toBe(9_512_340_000_000n);
    expect(parseDecimal('0.00000001')).toBe(1n);
    expect(parseDecimal('-1.5', 2)).toBe(-150n);
    expect(parseDecimal('9.5e4', 2)).toBe(9_500_000n);
    expect(parseDecimal('12345678901234567.89', 2)).toBe(1_234_567_890_123_456_789n);
    expect(formatDecimal(9_512_340_000_000n, 8)).toBe('95123.4');
    expect(formatDecimal(150n, 2, 2)).toBe('1.50');
    expect(formatDecimal(-5n, 2)).toBe('-0.05');
    expect(formatDecimal(0n, 8)).toBe('0');
  });

  it('accepts trailing zeros past the scale but refuses to drop significant digits', () => {
    expect(parseDecimal('1.23000', 2)).toBe(123n);
    expect(() => parseDecimal('1.234', 2)).toThrow(RangeError);
  });

  it('rejects floats-in-disguise, blanks and hostile exponents', () => {
    for (const bad of ['', ' 1', '1.', '.5', '1,000', 'NaN', 'Infinity', '0x10', '1e999999']) {
      expect(() => parseDecimal(bad)).toThrow();
    }
    expect(isDecimalString('12.5')).toBe(true);
    expect(isDecimalString(12.5)).toBe(false);
    expect(isPositiveDecimal('0.00')).toBe(false);
    expect(isPositiveDecimal('-1')).toBe(false);
    expect(isPositiveDecimal('0.01')).toBe(true);
  });

  it('keeps plain literals untouched and expands exponents', () => {
    expect(toPlainDecimal('95123.40')).toBe('95123.40');
    expect(toPlainDecimal('9.51234E4')).toBe('95123.4');
    expect(toPlainDecimal('1e-3')).toBe('0.001');
    expect(normalizeDecimal('095000.100')).toBe('95000.1');
  });
});

describe('compareDecimal', () => {
  it('compares by value, not by string or float', () => {
    expect(compareDecimal('100.10', '100.9')).toBe(-1);
    expect(compareDecimal('100.10', '100.1')).toBe(0);
    expect(compareDecimal('9', '10')).toBe(-1);
    expect(compareDecimal('0.30000000000000004', '0.3')).toBe(1);
  });
});

describe('medianDecimal', () => {
  it('takes the middle of an odd list', () => {
    expect(medianDecimal(['3', '1.5', '2.25'])).toBe('2.25');
  });

  it('averages the middle pair exactly, adding a digit rather than rounding', () => {
    expect(medianDecimal(['100.01', '100.02'])).toBe('100.015');
    expect(medianDecimal(['1', '2', '4', '100'])).toBe('3');
    expect(medianDecimal(['0.1', '0.2'])).toBe('0.15');
  });

  it('refuses an empty list', () => {
    expect(() => medianDecimal([])).toThrow(RangeError);
  });
});

describe('deviation in basis points', () => {
  it('measures absolute deviation, floored', () => {
    expect(deviationBps('101', '100')).toBe(100n);
    expect(deviationBps('99', '100')).toBe(100n);
    expect(deviationBps('100.005', '100')).toBe(0n);
    expect(deviationBps('101.009', '100')).toBe(100n);
  });

  it('compares against a threshold exactly, even a hair over', () => {
    expect(exceedsDeviationBps('101', '100', 100)).toBe(false);
    expect(exceedsDeviationBps('101.00000001', '100', 100)).toBe(true);
    expect(exceedsDeviationBps('98.99999999', '100', 100)).toBe(true);
    expect(() => exceedsDeviationBps('1', '0', 100)).toThrow(RangeError);
    expect(() => exceedsDeviationBps('1', '1', 1.5)).toThrow(RangeError);
  });
});

describe('multiplyDecimal / divRoundHalfEven', () => {
  it('multiplies exactly and rounds half to even at the requested scale', () => {
    expect(multiplyDecimal('150000.00', '0.65', 2)).toBe('97500.00');
    expect(multiplyDecimal('0.125', '1', 2)).toBe('0.12');
    expect(multiplyDecimal('0.135', '1', 2)).toBe('0.14');
    expect(multiplyDecimal('2', '3', 2)).toBe('6.00');
  });

  it('rounds negatives symmetrically', () => {
    expect(divRoundHalfEven(-25n, 10n)).toBe(-2n);
    expect(divRoundHalfEven(-35n, 10n)).toBe(-4n);
    expect(divRoundHalfEven(26n, 10n)).toBe(3n);
    expect(() => divRoundHalfEven(1n, 0n)).toThrow(RangeError);
  });
});
