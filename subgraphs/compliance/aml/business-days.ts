import Holidays from 'date-holidays';
import { AmlReason, amlError } from './errors';
import { addDays, isoWeekday, localDate, startOfLocalDate } from './local-date';

/**
 * The suspicious matter report clock (AML/CTF Act 2006 s41(2)): terrorism financing within 24
 * hours after the time the suspicion is formed; anything else "within 3 business days after the
 * day on which the reporting entity forms the relevant suspicion". The day of the suspicion does
 * not count; the report is due by the end of the third business day after it.
 *
 * Business day (Acts Interpretation Act 1901 s2B): not a Saturday, a Sunday or a public holiday
 * in the place concerned. The place is the reporting entity's — the platform operator, not the
 * tenant — NSW unless the caller names another state, with that state's time zone. Holidays come from
 * `date-holidays` (national and state public holidays, substitute days included). Part-day
 * holidays (Christmas Eve and New Year's Eve evenings) and bank-only holidays (the NSW Bank
 * Holiday) count as business days unless `countBankHolidays` is set: the earlier deadline is the
 * safe reading.
 */

export type AuState = 'NSW' | 'VIC' | 'QLD' | 'SA' | 'WA' | 'TAS' | 'NT' | 'ACT';

export const STATE_TIME_ZONES: Readonly<Record<AuState, string>> = {
  NSW: 'Australia/Sydney',
  ACT: 'Australia/Sydney',
  VIC: 'Australia/Melbourne',
  QLD: 'Australia/Brisbane',
  SA: 'Australia/Adelaide',
  WA: 'Australia/Perth',
  TAS: 'Australia/Hobart',
  NT: 'Australia/Darwin',
};

export type BusinessCalendar = {
  state: AuState;
  timeZone: string;
  /** Why a YYYY-MM-DD date is not a business day ("Saturday", "Boxing Day (substitute day)"), or null. */
  nonBusinessReason(date: string): string | null;
  isBusinessDay(date: string): boolean;
};

export type BusinessCalendarOptions = { state?: AuState; countBankHolidays?: boolean };

export function isAuState(s: string): s is AuState {
  return s in STATE_TIME_ZONES;
}

export function businessCalendar(opts: BusinessCalendarOptions = {}): BusinessCalendar {
  const state = opts.state ?? 'NSW';
  if (!isAuState(state)) throw amlError(AmlReason.INVALID_DATE, `unknown state ${String(state)}`, { field: 'state' });
  const types: ('public' | 'bank')[] = opts.countBankHolidays ? ['public', 'bank'] : ['public'];
  const hd = new Holidays('AU', state, { types });
  const years = new Map<number, Map<string, string>>();
  const holidaysOf = (year: number): Map<string, string> => {
    let m = years.get(year);
    if (!m) {
      m = new Map();
      for (const h of hd.getHolidays(year)) {
        const [day, time] = h.date.split(' ');
        // "2026-12-24 18:00:00": an evening-only holiday leaves the day a business day.
        if (day === undefined || !types.includes(h.type as 'public' | 'bank') || (time && time !== '00:00:00')) continue;
        m.set(day, m.has(day) ? `${m.get(day)}, ${h.name}` : h.name);
      }
      years.set(year, m);
    }
    return m;
  };
  const nonBusinessReason = (date: string): string | null => {
    const w = isoWeekday(date);
    if (w === 6) return 'Saturday';
    if (w === 7) return 'Sunday';
    return holidaysOf(Number(date.slice(0, 4))).get(date) ?? null;
  };
  return { state, timeZone: STATE_TIME_ZONES[state], nonBusinessReason, isBusinessDay: (d) => nonBusinessReason(d) === null };
}

export type SkippedDay = { date: string; reason: string };

/** The n-th business day after `date` (not counting `date` itself), and the days skipped on the way. */
export function addBusinessDays(calendar: BusinessCalendar, date: string, n: number): { date: string; skipped: SkippedDay[] } {
  if (!Number.isInteger(n) || n < 1) throw amlError(AmlReason.INVALID_DATE, 'business days to add must be a positive whole number');
  const skipped: SkippedDay[] = [];
  let d = date;
  let counted = 0;
  while (counted < n) {
    d = addDays(d, 1);
    const reason = calendar.nonBusinessReason(d);
    if (reason === null) counted++;
    else skipped.push({ date: d, reason });
  }
  return { date: d, skipped };
}

export type SmrBasis = 'TERRORISM_FINANCING_24_HOURS' | 'THREE_BUSINESS_DAYS';

export type SmrDeadline = {
  basis: SmrBasis;
  suspicionFormedAt: Date;
  /** The report must be given before this instant (exclusive). */
  dueAt: Date;
  /** For THREE_BUSINESS_DAYS: the local date of the last day to report. */
  lastDay: string | null;
  skipped: SkippedDay[];
  state: AuState;
  timeZone: string;
};

export function smrDeadline(input: { suspicionFormedAt: Date; terrorismFinancing: boolean; calendar?: BusinessCalendar }): SmrDeadline {
  const formed = input.suspicionFormedAt;
  if (!(formed instanceof Date) || Number.isNaN(formed.getTime())) throw amlError(AmlReason.INVALID_DATE, 'suspicionFormedAt is not a date', { field: 'suspicionFormedAt' });
  const cal = input.calendar ?? businessCalendar();
  if (input.terrorismFinancing) {
    return { basis: 'TERRORISM_FINANCING_24_HOURS', suspicionFormedAt: formed, dueAt: new Date(formed.getTime() + 86_400_000), lastDay: null, skipped: [], state: cal.state, timeZone: cal.timeZone };
  }
  const { date, skipped } = addBusinessDays(cal, localDate(formed, cal.timeZone), 3);
  return { basis: 'THREE_BUSINESS_DAYS', suspicionFormedAt: formed, dueAt: startOfLocalDate(addDays(date, 1), cal.timeZone), lastDay: date, skipped, state: cal.state, timeZone: cal.timeZone };
}

export type DeadlineStatus = 'ON_TRACK' | 'NEAR_DUE' | 'OVERDUE' | 'REPORTED' | 'REPORTED_LATE';

/** Near due: within 24 hours of a 3-business-day deadline, within 6 hours of a 24-hour one (default). */
export function deadlineStatus(
  deadline: SmrDeadline,
  now: Date,
  opts: { reportedAt?: Date | null; nearDueMs?: number } = {},
): { status: DeadlineStatus; remainingMs: number } {
  const remainingMs = deadline.dueAt.getTime() - now.getTime();
  if (opts.reportedAt) return { status: opts.reportedAt.getTime() < deadline.dueAt.getTime() ? 'REPORTED' : 'REPORTED_LATE', remainingMs };
  const near = opts.nearDueMs ?? (deadline.basis === 'TERRORISM_FINANCING_24_HOURS' ? 6 * 3_600_000 : 24 * 3_600_000);
  if (remainingMs <= 0) return { status: 'OVERDUE', remainingMs };
  if (remainingMs <= near) return { status: 'NEAR_DUE', remainingMs };
  return { status: 'ON_TRACK', remainingMs };
}
