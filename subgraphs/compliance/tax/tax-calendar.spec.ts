import {
  basQuarterBounds,
  basQuarterOf,
  daysBetweenExclusive,
  endOfFinancialYearExclusive,
  financialYearBounds,
  financialYearOf,
  heldAtLeast12Months,
  localDate,
  oneYearAfter,
  parseFinancialYear,
  startOfLocalDate,
} from './tax-calendar';
import { typedError } from './tax.fixtures';

describe('tax calendar', () => {
  it('ATO Guide to CGT, example "Discount method": Sally acquired on 2 February 2020, discount on or after 3 February 2021', () => {
    // Both the acquisition day and the CGT event day are excluded, so 12 whole months have passed only after the anniversary.
    expect(heldAtLeast12Months('2020-02-02', '2021-02-02')).toBe(false);
    expect(heldAtLeast12Months('2020-02-02', '2021-02-03')).toBe(true);
    // 2 Feb 2020 → 2 Feb 2021 is 366 days (29 Feb 2020 lies between), less both ends' exclusion: 365 days held.
    expect(daysBetweenExclusive('2020-02-02', '2021-02-02')).toBe(365);
    expect(daysBetweenExclusive('2020-02-02', '2021-02-03')).toBe(366);
  });

  it('a 29 February acquisition reaches 12 months after 28 February next year', () => {
    expect(oneYearAfter('2024-02-29')).toBe('2025-02-28');
    expect(heldAtLeast12Months('2024-02-29', '2025-02-28')).toBe(false);
    expect(heldAtLeast12Months('2024-02-29', '2025-03-01')).toBe(true);
    // 1 Mar 2024 .. 28 Feb 2025 inclusive is 365 days: the 12 whole months.
    expect(daysBetweenExclusive('2024-02-29', '2025-03-01')).toBe(365);
  });

  it('same or next day holds zero whole days', () => {
    expect(daysBetweenExclusive('2024-05-01', '2024-05-01')).toBe(0);
    expect(daysBetweenExclusive('2024-05-01', '2024-05-02')).toBe(0);
    expect(daysBetweenExclusive('2024-05-01', '2024-05-03')).toBe(1);
  });

  it('local dates follow Sydney daylight saving (AEDT +11, AEST +10)', () => {
    // 7 Apr 2024 03:00 AEDT → 02:00 AEST. 13:30Z on 6 Apr is 00:30 AEDT on the 7th.
    expect(localDate(new Date('2024-04-06T13:30:00Z'), 'Australia/Sydney')).toBe('2024-04-07');
    // After the change, midnight is 14:00Z: 13:30Z on 7 Apr is still 23:30 on the 7th.
    expect(localDate(new Date('2024-04-07T13:30:00Z'), 'Australia/Sydney')).toBe('2024-04-07');
    expect(localDate(new Date('2024-04-07T14:00:00Z'), 'Australia/Sydney')).toBe('2024-04-08');
    // 6 Oct 2024 02:00 AEST → 03:00 AEDT: midnight of the 6th is 14:00Z on the 5th, of the 7th 13:00Z on the 6th.
    expect(startOfLocalDate('2024-10-06', 'Australia/Sydney').toISOString()).toBe('2024-10-05T14:00:00.000Z');
    expect(startOfLocalDate('2024-10-07', 'Australia/Sydney').toISOString()).toBe('2024-10-06T13:00:00.000Z');
    expect(startOfLocalDate('2025-01-01', 'Australia/Sydney').toISOString()).toBe('2024-12-31T13:00:00.000Z');
  });

  it('the financial year turns at local midnight on 1 July', () => {
    expect(financialYearOf('2024-06-30')).toBe(2024);
    expect(financialYearOf('2024-07-01')).toBe(2025);
    expect(financialYearBounds(2025)).toEqual({ startDate: '2024-07-01', endDate: '2025-06-30', label: '2024-25' });
    // 1 July 2024 00:00 AEST is 30 June 14:00Z; in Perth (+8) it is 16:00Z.
    expect(endOfFinancialYearExclusive(2024, 'Australia/Sydney').toISOString()).toBe('2024-06-30T14:00:00.000Z');
    expect(endOfFinancialYearExclusive(2024, 'Australia/Perth').toISOString()).toBe('2024-06-30T16:00:00.000Z');
    expect(financialYearOf(localDate(new Date('2024-06-30T14:00:00Z'), 'Australia/Sydney'))).toBe(2025);
    expect(financialYearOf(localDate(new Date('2024-06-30T14:00:00Z'), 'Australia/Perth'))).toBe(2024);
    expect(parseFinancialYear('2024-25')).toBe(2025);
    expect(parseFinancialYear('1999-00')).toBe(2000);
    expect(typedError(() => parseFinancialYear('2024-26')).reason).toBe('INVALID_FINANCIAL_YEAR');
    expect(typedError(() => financialYearBounds(2024.5)).reason).toBe('INVALID_FINANCIAL_YEAR');
  });

  it('BAS quarters run Jul–Sep, Oct–Dec, Jan–Mar, Apr–Jun', () => {
    expect(['2024-07-01', '2024-09-30', '2024-10-01', '2024-12-31', '2025-01-01', '2025-03-31', '2025-04-01', '2025-06-30'].map(basQuarterOf)).toEqual([
      1, 1, 2, 2, 3, 3, 4, 4,
    ]);
    expect(basQuarterBounds(2025, 3)).toEqual({ startDate: '2025-01-01', endDate: '2025-03-31', label: 'Jan–Mar 2025' });
    expect(basQuarterBounds(2024, 1)).toEqual({ startDate: '2023-07-01', endDate: '2023-09-30', label: 'Jul–Sep 2023' });
  });

  it('bad zones and dates are typed errors', () => {
    expect(typedError(() => localDate(new Date(), 'Mars/Olympus')).reason).toBe('INVALID_TIME_ZONE');
    expect(typedError(() => daysBetweenExclusive('2024-02-30', '2024-03-01')).reason).toBe('INVALID_DATE');
  });
});
