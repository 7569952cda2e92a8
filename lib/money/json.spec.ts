import { JsonSyntaxError, parseJsonLossless } from './json';

describe('parseJsonLossless on price-feed bodies', () => {
  it('returns number literals as their exact source text', () => {
    const text = '{"last":95123.40,"big":12345678901234567.89,"tiny":1e-8,"neg":-0.50,"n":[1,2.0]}';
    expect(parseJsonLossless(text)).toEqual({ last: '95123.40', big: '12345678901234567.89', tiny: '1e-8', neg: '-0.50', n: ['1', '2.0'] });
    // What JSON.parse would have done to the same digits.
    expect(String((JSON.parse(text) as { big: number }).big)).toBe('12345678901234568');
  });

  it('leaves digits inside strings (and escaped quotes) alone', () => {
    expect(parseJsonLossless('{"s":"a \\"1.50\\" b","t":"2024-01-01T00:00:00Z","u":true,"v":null}')).toEqual({
      s: 'a "1.50" b',
      t: '2024-01-01T00:00:00Z',
      u: true,
      v: null,
    });
  });

  it('still rejects invalid JSON', () => {
    for (const bad of ['{"a":}', '{"a":01}', '{"a":1.}', '{"a":-}', '{"a":1 2}', '{"a":"open', 'nope', '']) {
      expect(() => parseJsonLossless(bad)).toThrow(SyntaxError);
      expect(() => parseJsonLossless(bad)).toThrow(JsonSyntaxError);
    }
  });
});
