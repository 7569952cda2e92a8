import { TaxErrorReason, badTaxInput } from './tax-errors';

/** Dates in the tenant's timezone, financial years and the CGT discount's 12-month rule. */

export const DEFAULT_TIME_ZONE = 'Australia/Sydney';
const DAY_MS = 86_400_000;
const LOCAL_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat('en-AU', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    } catch {
      throw badTaxInput(TaxErrorReason.INVALID_TIME_ZONE, `"${timeZone}" is not an IANA timezone`, { field: 'timeZone' });
    }
    formatters.set(timeZone, f);
  }
  return f;
}

export function assertTimeZone(timeZone: string): void {
  formatter(timeZone);
}

export function assertInstant(at: unknown, field: string): asserts at is Date {
  if (!(at instanceof Date) || Number.isNaN(at.getTime())) {
    throw badTaxInput(TaxErrorReason.INVALID_TIME, `${field} must be a valid instant`, { field });
  }
}

/** The calendar date ('YYYY-MM-DD') of an instant in `timeZone`. */
export function localDate(at: Date, timeZone: string): string {
  const parts = formatter(timeZone).formatToParts(at);
  const get = (t: string): string => parts.find((p) => p.type === t)?.value ?? '';
  return `${get('year').padStart(4, '0')}-${get('month')}-${get('day')}`;
}

export type Ymd = { y: number; m: number; d: number };

export function parseLocalDate(text: string, field = 'date'): Ymd {
  const m = LOCAL_DATE.exec(text);
  const ymd = m ? { y: Number(m[1]), m: Number(m[2]), d: Number(m[3]) } : null;
  if (!ymd || ymd.m < 1 || ymd.m > 12 || ymd.d < 1 || ymd.d > daysInMonth(ymd.y, ymd.m)) {
    throw badTaxInput(TaxErrorReason.INVALID_DATE, `${field} must be a calendar date YYYY-MM-DD`, { field });
  }
  return ymd;
}

export function formatYmd({ y, m, d }: Ymd): string {
  return `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}

export function daysInMonth(y: number, m: number): number {
  return new Date(Date.UTC(y, m, 0)).getUTCDate();
}

/** Days since 1970-01-01 of a calendar date (an exact integer). */
export function dayNumber(date: string): number {
  const { y, m, d } = parseLocalDate(date);
  return Date.UTC(y, m - 1, d) / DAY_MS;
}

/** Whole days between two dates, both excluded (0 when the same or adjacent days). */
export function daysBetweenExclusive(from: string, to: string): number {
  return Math.max(0, dayNumber(to) - dayNumber(from) - 1);
}

/** The same day one year later; 29 February becomes 28 February. */
export function oneYearAfter(date: string): string {
  const { y, m, d } = parseLocalDate(date);
  return formatYmd({ y: y + 1, m, d: Math.min(d, daysInMonth(y + 1, m)) });
}

/**
 * ITAA 1997 s 115-25: acquired at least 12 months before the CGT event, both days excluded. The
 * excluded-days period first holds 12 whole months on the anniversary, so the event must fall after
 * it (Guide to CGT, "Sally acquired … 2 February 2020 … on or after 3 February 2021").
 */
export function heldAtLeast12Months(acquiredOn: string, disposedOn: string): boolean {
  return disposedOn > oneYearAfter(acquiredOn);
}

/** 1 July – 30 June; the year is named by the calendar year it ends in. */
export function financialYearOf(date: string): number {
  const { y, m } = parseLocalDate(date);
  return m >= 7 ? y + 1 : y;
}

export function assertFinancialYear(fy: unknown): asserts fy is number {
  if (typeof fy !== 'number' || !Number.isInteger(fy) || fy < 1900 || fy > 9999) {
    throw badTaxInput(TaxErrorReason.INVALID_FINANCIAL_YEAR, 'financial year must be the year it ends in, e.g. 2025 for 2024–25', {
      field: 'financialYear',
    });
  }
}

export function financialYearBounds(fy: number): { startDate: string; endDate: string; label: string } {
  assertFinancialYear(fy);
  return { startDate: `${fy - 1}-07-01`, endDate: `${fy}-06-30`, label: financialYearLabel(fy) };
}

export function financialYearLabel(fy: number): string {
  return `${fy - 1}-${String(fy % 100).padStart(2, '0')}`;
}

/** "2024-25" → 2025. */
export function parseFinancialYear(label: string): number {
  const m = /^(\d{4})-(\d{2})$/.exec(label);
  const fy = m ? Number(m[1]) + 1 : NaN;
  if (!m || String(fy % 100).padStart(2, '0') !== m[2]) {
    throw badTaxInput(TaxErrorReason.INVALID_FINANCIAL_YEAR, `"${label}" is not a financial year like 2024-25`, { field: 'financialYear' });
  }
  assertFinancialYear(fy);
  return fy;
}

/** BAS quarters of the financial year: 1 = Jul–Sep, 2 = Oct–Dec, 3 = Jan–Mar, 4 = Apr–Jun. */
export function basQuarterOf(date: string): 1 | 2 | 3 | 4 {
  const { m } = parseLocalDate(date);
  return m >= 7 ? (m <= 9 ? 1 : 2) : m <= 3 ? 3 : 4;
}

const BAS_QUARTERS: Record<1 | 2 | 3 | 4, { startMonth: number; name: string }> = {
  1: { startMonth: 7, name: 'Jul–Sep' },
  2: { startMonth: 10, name: 'Oct–Dec' },
  3: { startMonth: 1, name: 'Jan–Mar' },
  4: { startMonth: 4, name: 'Apr–Jun' },
};

export function basQuarterBounds(fy: number, q: 1 | 2 | 3 | 4): { startDate: string; endDate: string; label: string } {
  const y = q <= 2 ? fy - 1 : fy;
  const { startMonth, name } = BAS_QUARTERS[q];
  const endMonth = startMonth + 2;
  return {
    startDate: formatYmd({ y, m: startMonth, d: 1 }),
    endDate: formatYmd({ y, m: endMonth, d: daysInMonth(y, endMonth) }),
    label: `${name} ${y}`,
  };
}

const dayStarts = new Map<string, Date>();

/** The first instant whose local date in `timeZone` is `date` or later (midnight, or the end of a DST gap). */
export function startOfLocalDate(date: string, timeZone: string): Date {
  const key = `${timeZone}|${date}`;
  const hit = dayStarts.get(key);
  if (hit) return hit;
  const { y, m, d } = parseLocalDate(date);
  // Zone offsets lie within ±18 h, so the local midnight lies in this window; local dates rise with time in it.
  let lo = Date.UTC(y, m - 1, d) - 20 * 3_600_000;
  let hi = Date.UTC(y, m - 1, d) + 20 * 3_600_000;
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (localDate(new Date(mid), timeZone) >= date) hi = mid;
    else lo = mid;
  }
  const start = new Date(hi);
  dayStarts.set(key, start);
  return start;
}

/** The first instant of the next financial year: everything before it is in `fy` or earlier. */
export function endOfFinancialYearExclusive(fy: number, timeZone: string): Date {
  return startOfLocalDate(`${fy}-07-01`, timeZone);
}
