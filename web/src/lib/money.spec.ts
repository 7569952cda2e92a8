import {
  centsToInput,
  decimalToCents,
  formatAud,
  formatBps,
  formatBtc,
  formatPrice,
  formatMinorUnits,
  formatSats,
  parseAudInput,
  parsePercentInput,
  satsForCents,
  shareOfCents,
  valueOfSats,
} from './money';

describe('dashboard money formatting (exact, from strings)', () => {
  it('formats a delivery amount in its own currency and minor units, never converted', () => {
    expect(formatMinorUnits('12345', 'aud')).toBe('$123.45');
    expect(formatMinorUnits('12345', 'USD')).toBe('USD 123.45');
    expect(formatMinorUnits('1500', 'JPY')).toBe('JPY 1,500');
    expect(formatMinorUnits('1234567', 'KWD')).toBe('KWD 1,234.567');
    expect(formatMinorUnits('-250', 'NZD')).toBe('−NZD 2.50');
    expect(formatMinorUnits('900719925474099312', 'EUR')).toBe('EUR 9,007,199,254,740,993.12');
    expect(() => formatMinorUnits('1.5', 'USD')).toThrow(/not an integer/);
  });

  it('formats cents as dollars without a float', () => {
    expect(formatAud('123456')).toBe('$1,234.56');
    expect(formatAud('5')).toBe('$0.05');
    expect(formatAud('-1234')).toBe('−$12.34');
    expect(formatAud('1000', { signed: true })).toBe('+$10.00');
    // Beyond Number.MAX_SAFE_INTEGER a float would round; bigint does not.
    expect(formatAud('900719925474099312')).toBe('$9,007,199,254,740,993.12');
  });

  it('formats satoshis as sats and as BTC with eight places', () => {
    expect(formatSats('1234567')).toBe('1,234,567 sats');
    expect(formatBtc('1234567')).toBe('0.01234567 BTC');
    expect(formatBtc('2100000000000000')).toBe('21,000,000.00000000 BTC');
  });

  it('turns exact decimal prices into cents, rounding half away from zero', () => {
    expect(decimalToCents('152345.67')).toBe(15234567n);
    expect(decimalToCents('152345.675')).toBe(15234568n);
    expect(decimalToCents('152345.6749')).toBe(15234567n);
    expect(decimalToCents('10')).toBe(1000n);
    expect(formatPrice('152345.6')).toBe('$152,345.60');
  });

  it('values satoshis at a price and buys satoshis for cents, rounding down', () => {
    expect(valueOfSats('100000000', '150000.00')).toBe(15000000n);
    expect(valueOfSats('1', '150000.00')).toBe(0n);
    expect(satsForCents(2500n, 15000000n)).toBe(16666n);
    expect(shareOfCents(12345n, 1000)).toBe(1234n);
  });

  it('parses dollars typed by a person into cents, refusing fractions of a cent', () => {
    expect(parseAudInput('25')).toEqual({ ok: true, value: '2500' });
    expect(parseAudInput('$1,250.5')).toEqual({ ok: true, value: '125050' });
    expect(parseAudInput('0.07')).toEqual({ ok: true, value: '7' });
    expect(parseAudInput('1.005')).toEqual({ ok: false, error: expect.stringMatching(/two decimal/) });
    expect(parseAudInput('-3')).toEqual({ ok: false, error: expect.stringMatching(/negative/) });
    expect(parseAudInput('abc').ok).toBe(false);
    expect(centsToInput('125050')).toBe('1250.50');
  });

  it('shows and parses basis points as percentages', () => {
    expect(formatBps(1000)).toBe('10%');
    expect(formatBps(250)).toBe('2.5%');
    expect(formatBps(1)).toBe('0.01%');
    expect(parsePercentInput('2.5')).toEqual({ ok: true, value: 250 });
    expect(parsePercentInput('10%')).toEqual({ ok: true, value: 1000 });
    expect(parsePercentInput('1.234').ok).toBe(false);
  });
});
