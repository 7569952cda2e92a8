import { CronExpressionParser } from 'cron-parser';
import { startOfLocalDay, zonedTimeToUtc } from './local-time';

/** Schedule decisions in the tenant's local time: pure functions, no database. */

const NAMED_SCHEDULES: Record<string, string> = { DAILY: '0 9 * * *', WEEKLY: '0 9 * * 1', MONTHLY: '0 9 1 * *' };

/** The next run of a DAILY/WEEKLY/MONTHLY (09:00 local) or 5-field cron schedule after `after`, in the tenant's timezone. */
export function nextRun(schedule: string, after: Date, timeZone: string): Date {
  const expr = NAMED_SCHEDULES[schedule] ?? schedule;
  return CronExpressionParser.parse(expr, { currentDate: after, tz: timeZone }).next().toDate();
}

/** True when `price` is at least `bps` basis points below `average`, compared exactly (no floats). */
export function isDropAtLeast(price: string, average: string, bps: number): boolean {
  const scale = (v: string): [bigint, number] => {
    const [i, f = ''] = v.split('.');
    return [BigInt(i + f), f.length];
  };
  const [p, pf] = scale(price);
  const [a, af] = scale(average);
  const digits = Math.max(pf, af);
  const P = p * 10n ** BigInt(digits - pf);
  const A = a * 10n ** BigInt(digits - af);
  // price <= average * (1 - bps/10000)  ⇔  price * 10000 <= average * (10000 - bps)
  return P * 10_000n <= A * BigInt(10_000 - bps);
}

/**
 * The daily cut-off: the tenant's local day (YYYY-MM-DD) once `now` is at or past the cut-off time
 * (HH:MM local) of that day, else null.
 */
export function cutoffDueDay(now: Date, timeZone: string, cutoffLocalTime: string): string | null {
  const day = startOfLocalDay(now, timeZone);
  const [hh = 17, mm = 0] = cutoffLocalTime.split(':').map(Number);
  const local = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(day);
  const [y = 1970, m = 1, d = 1] = local.split('-').map(Number);
  return now.getTime() >= zonedTimeToUtc(y, m, d, hh, mm, timeZone).getTime() ? local : null;
}
