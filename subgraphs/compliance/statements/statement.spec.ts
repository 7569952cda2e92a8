import { monthLabel, previousMonth, statementId, statementMonth } from './statement-month';
import { unitPriceAudCents, valueAudCents } from './statement.data';
import { formatAudCents, formatBtc, formatPrice } from './statement.render';

describe('statement months in the tenant’s timezone', () => {
  it('runs from local midnight of the 1st to the next 1st, across DST (Sydney moves from +10 to +11 in October)', () => {
    const oct = statementMonth('2026-10', 'Australia/Sydney');
    expect(oct.start.toISOString()).toBe('2026-09-30T14:00:00.000Z');
    expect(oct.end.toISOString()).toBe('2026-10-31T13:00:00.000Z');
    const dec = statementMonth('2026-12', 'Australia/Perth');
    expect(dec.end.toISOString()).toBe('2026-12-31T16:00:00.000Z');
  });
  it('the month before the one an instant falls in, by the local calendar (January goes back a year)', () => {
    expect(previousMonth(new Date('2026-12-01T00:05:00+11:00'), 'Australia/Sydney').period).toBe('2026-11');
    // Still 30 November in UTC, but December in Sydney.
    expect(previousMonth(new Date('2026-11-30T13:05:00Z'), 'Australia/Sydney').period).toBe('2026-11');
    expect(previousMonth(new Date('2026-11-30T13:05:00Z'), 'UTC').period).toBe('2026-10');
    expect(previousMonth(new Date('2027-01-01T12:00:00Z'), 'UTC').period).toBe('2026-12');
    expect(monthLabel('2026-02')).toBe('February 2026');
  });
  it('refuses a period that is not YYYY-MM; ids are stable per tenant and month', () => {
    for (const bad of ['2026-13', '2026-1', '26-01', '']) expect(() => statementMonth(bad, 'UTC')).toThrow(RangeError);
    const t = '11111111-2222-4333-8444-555555555555';
    expect(statementId(t, '2026-11')).toBe(statementId(t, '2026-11'));
    expect(statementId(t, '2026-11')).not.toBe(statementId(t, '2026-10'));
  });
});

describe('statement amounts (bigint, no floats)', () => {
  it('values sats at an exact decimal price, half up to the cent', () => {
    expect(valueAudCents(273_457n, '170000.50')).toBe(46_488n);
    expect(valueAudCents(1n, '0.5')).toBe(0n);
    expect(valueAudCents(2_100_000_000_000_000n, '123456789.12345678')).toBe(259_259_257_159_259_238n);
    expect(() => valueAudCents(1n, '1e')).toThrow(RangeError);
    expect(unitPriceAudCents(20_000n, 123_457n)).toBe(16_199_972n);
  });
  it('formats A$ with grouping and BTC with 8 decimals', () => {
    expect(formatAudCents(0n)).toBe('A$0.00');
    expect(formatAudCents(123_456_789n)).toBe('A$1,234,567.89');
    expect(formatAudCents(-5n)).toBe('-A$0.05');
    expect(formatBtc(1n)).toBe('0.00000001 BTC');
    expect(formatBtc(2_100_000_000_000_000n)).toBe('21000000.00000000 BTC');
    expect(formatPrice('98765.4321')).toBe('A$98,765.43');
  });
});
