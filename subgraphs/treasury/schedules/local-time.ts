/**
 * Calendar arithmetic in a tenant's timezone with Intl only (no floats near money; dates only).
 * Daily and monthly caps reset at local midnight, e.g. Australia/Sydney, across DST changes.
 */

function parts(at: Date, timeZone: string): { y: number; m: number; d: number; hh: number; mm: number; ss: number } {
  const f = new Intl.DateTimeFormat('en-AU', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
  const get = (t: string): number => Number(f.formatToParts(at).find((p) => p.type === t)?.value);
  return { y: get('year'), m: get('month'), d: get('day'), hh: get('hour'), mm: get('minute'), ss: get('second') };
}

/** The offset (ms) of `timeZone` from UTC at instant `at`. */
function offsetMs(at: Date, timeZone: string): number {
  const p = parts(at, timeZone);
  const asUtc = Date.UTC(p.y, p.m - 1, p.d, p.hh, p.mm, p.ss);
  return asUtc - Math.floor(at.getTime() / 1000) * 1000;
}

/** The UTC instant of a wall-clock time in `timeZone` (resolving DST by re-checking the offset). */
export function zonedTimeToUtc(y: number, m: number, d: number, hh: number, mm: number, timeZone: string): Date {
  const guess = Date.UTC(y, m - 1, d, hh, mm);
  let t = guess - offsetMs(new Date(guess), timeZone);
  t = guess - offsetMs(new Date(t), timeZone);
  return new Date(t);
}

export function isValidTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-AU', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Start of the local day containing `at`. */
export function startOfLocalDay(at: Date, timeZone: string): Date {
  const p = parts(at, timeZone);
  return zonedTimeToUtc(p.y, p.m, p.d, 0, 0, timeZone);
}

/** Start of the local month containing `at`. */
export function startOfLocalMonth(at: Date, timeZone: string): Date {
  const p = parts(at, timeZone);
  return zonedTimeToUtc(p.y, p.m, 1, 0, 0, timeZone);
}

/** The next instant at local `HH:MM` strictly after `at`. */
export function nextLocalTime(at: Date, hhmm: string, timeZone: string): Date {
  const [hh = 0, mm = 0] = hhmm.split(':').map(Number);
  const p = parts(at, timeZone);
  const today = zonedTimeToUtc(p.y, p.m, p.d, hh, mm, timeZone);
  if (today.getTime() > at.getTime()) return today;
  const tomorrow = new Date(Date.UTC(p.y, p.m - 1, p.d + 1));
  return zonedTimeToUtc(tomorrow.getUTCFullYear(), tomorrow.getUTCMonth() + 1, tomorrow.getUTCDate(), hh, mm, timeZone);
}
