import { audToCents } from '../../../../lib/money';
import { decimalToMinorUnits, MAX_MINOR_UNITS, normalizeCurrency, parseMinorUnits, parseTimestamp } from './amounts';
import { WebhookVerificationError } from './errors';

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(WebhookVerificationError);
    return (err as WebhookVerificationError).code;
  }
  return 'NO_ERROR';
}

describe('parseMinorUnits', () => {
  it('accepts whole minor units exactly, including the 10^13 ceiling', () => {
    expect(parseMinorUnits('stripe', 12345, 'amount')).toBe(12345n);
    expect(parseMinorUnits('stripe', 0, 'amount')).toBe(0n);
    expect(parseMinorUnits('stripe', 10_000_000_000_000, 'amount')).toBe(MAX_MINOR_UNITS);
    expect(parseMinorUnits('square', '987', 'amount')).toBe(987n);
  });

  it.each([
    ['negative', -1],
    ['fractional', 12.5],
    ['above 10^13', 10_000_000_000_001],
    ['beyond float precision', 1e20],
    ['NaN', Number.NaN],
    ['infinite', Number.POSITIVE_INFINITY],
    ['decimal string', '12.50'],
    ['negative string', '-5'],
    ['huge string', '9'.repeat(30)],
    ['null', null],
    ['missing', undefined],
    ['boolean', true],
  ])('rejects %s as MALFORMED_PAYLOAD', (_label, value) => {
    expect(code(() => parseMinorUnits('stripe', value, 'amount'))).toBe('MALFORMED_PAYLOAD');
  });
});

describe('decimalToMinorUnits', () => {
  it.each([
    ['12.34', 'AUD', 1234n],
    ['12.3', 'AUD', 1230n],
    ['12', 'AUD', 1200n],
    ['0.01', 'AUD', 1n],
    ['10.000', 'AUD', 1000n],
    ['1500', 'JPY', 1500n],
    ['1500.0', 'JPY', 1500n],
    ['1.234', 'KWD', 1234n],
    ['100000000000.00', 'AUD', MAX_MINOR_UNITS],
  ])('%s %s → %s minor units', (value, currency, expected) => {
    expect(decimalToMinorUnits('paypal', value, currency, 'value')).toBe(expected);
  });

  it('agrees with lib/money audToCents for AUD', () => {
    for (const v of ['0.00', '0.5', '1.05', '19.99', '1234567.89', '0.10']) {
      expect(decimalToMinorUnits('paypal', v, 'AUD', 'value')).toBe(audToCents(v));
    }
  });

  it.each([
    ['fractional cents', '10.005', 'AUD'],
    ['fraction of a yen', '1500.5', 'JPY'],
    ['negative', '-1.00', 'AUD'],
    ['exponent', '1e3', 'AUD'],
    ['leading zero', '01.00', 'AUD'],
    ['whitespace', ' 1.00', 'AUD'],
    ['empty', '', 'AUD'],
    ['comma', '1,000.00', 'AUD'],
    ['trailing dot', '1.', 'AUD'],
    ['above 10^13 cents', '100000000000.01', 'AUD'],
    ['number not string', 12.34, 'AUD'],
  ])('rejects %s', (_label, value, currency) => {
    expect(code(() => decimalToMinorUnits('paypal', value, currency, 'value'))).toBe('MALFORMED_PAYLOAD');
  });
});

describe('normalizeCurrency / parseTimestamp', () => {
  it('upper-cases three-letter codes and refuses anything else', () => {
    expect(normalizeCurrency('stripe', 'aud', 'c')).toBe('AUD');
    expect(normalizeCurrency('square', 'NZD', 'c')).toBe('NZD');
    for (const bad of ['au', 'AUDD', '', 'A1D', 5, undefined]) {
      expect(code(() => normalizeCurrency('stripe', bad, 'c'))).toBe('MALFORMED_PAYLOAD');
    }
  });

  it('reads epoch seconds and ISO strings, refusing junk', () => {
    expect(parseTimestamp('stripe', 1_700_000_000, 't').toISOString()).toBe('2023-11-14T22:13:20.000Z');
    expect(parseTimestamp('square', '2024-03-01T10:00:00.123Z', 't').toISOString()).toBe('2024-03-01T10:00:00.123Z');
    for (const bad of ['yesterday', '2024-13-45T99:00:00Z', -1, 1.5, undefined]) {
      expect(code(() => parseTimestamp('stripe', bad, 't'))).toBe('MALFORMED_PAYLOAD');
    }
  });

  it('refuses dates PostgreSQL cannot store or no payment can have (outside 1970–9999)', () => {
    for (const bad of ['0000-06-01T00:00:00Z', '1969-12-31T23:59:59Z', 8_000_000_000_000]) {
      expect(code(() => parseTimestamp('paypal', bad, 't'))).toBe('MALFORMED_PAYLOAD');
    }
    expect(parseTimestamp('paypal', '1970-01-01T00:00:00Z', 't').getTime()).toBe(0);
    expect(parseTimestamp('paypal', '9999-12-31T23:59:59Z', 't').getUTCFullYear()).toBe(9999);
  });
});
