import { AmlReason, amlError } from './errors';

/** Local calendar dates (YYYY-MM-DD) and day numbers in an IANA zone, with Intl only. */

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
    } catch {
      throw amlError(AmlReason.INVALID_DATE, `unknown time zone ${timeZone}`, { field: 'timeZone' });
    }
    formatters.set(timeZone, f);
  }
  return f;
}

type Parts = { y: number; m: number; d: number; hh: number; mm: number; ss: number };

function parts(at: Date, timeZone: string): Parts {
  const p = Object.fromEntries(formatter(timeZone).formatToParts(at).map((x) => [x.type, x.value]));
  return { y: Number(p.year), m: Number(p.month), d: Number(p.day), hh: Number(p.hour), mm: Number(p.minute), ss: Number(p.second) };
}

export function isTimeZone(tz: string): boolean {
  try {
    formatter(tz);
    return true;
  } catch {
    return false;
  }
}

/** The local date of an instant, e.g. 2026-12-24T14:00Z in Australia/Sydney → "2026-12-25". */
export function localDate(at: Date, timeZone: string): string {
  const p = parts(at, timeZone);
  return `${String(p.y).padStart(4, '0')}-${String(p.m).padStart(2, '0')}-${String(p.d).padStart(2, '0')}`;
}

/** Days since 1970-01-01 of a YYYY-MM-DD date: an integer to count calendar days with. */
/** Year, month, day of a YYYY-MM-DD date; a RangeError when a part is missing. */
function dateParts(date: string): [number, number, number] {
  const [y, m, d] = date.split('-').map(Number);
  if (y === undefined || m === undefined || d === undefined) throw new RangeError(`not a YYYY-MM-DD date: "${date}"`);
  return [y, m, d];
}

export function dayNumber(date: string): number {
  const [y, m, d] = dateParts(date);
  return Date.UTC(y, m - 1, d) / 86_400_000;
}

export function dateOfDayNumber(n: number): string {
  return new Date(n * 86_400_000).toISOString().slice(0, 10);
}

export function addDays(date: string, days: number): string {
  return dateOfDayNumber(dayNumber(date) + days);
}

/** ISO weekday of a YYYY-MM-DD date: 1 Monday … 7 Sunday. */
export function isoWeekday(date: string): number {
  const w = new Date(dayNumber(date) * 86_400_000).getUTCDay();
  return w === 0 ? 7 : w;
}

/** The instant local midnight starts `date` in `timeZone` (DST-safe: the offset is re-checked). */
export function startOfLocalDate(date: string, timeZone: string): Date {
  const [y, m, d] = dateParts(date);
  const guess = Date.UTC(y, m - 1, d);
  const offset = (t: number): number => {
    const p = parts(new Date(t), timeZone);
    return Date.UTC(p.y, p.m - 1, p.d, p.hh, p.mm, p.ss) - Math.floor(t / 1000) * 1000;
  };
  let t = guess - offset(guess);
  t = guess - offset(t);
  return new Date(t);
}
