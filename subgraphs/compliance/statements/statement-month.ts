import { createHash } from 'node:crypto';
import { localDate, startOfLocalDate } from '../tax/tax-calendar';

/** A calendar month in a tenant's timezone: `YYYY-MM`, and the instants it starts and ends (exclusive). */
export type StatementMonth = { period: string; start: Date; end: Date; timeZone: string };

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

const ym = (y: number, m: number): string => `${y}-${String(m).padStart(2, '0')}`;

/** The month `period` ("2026-11") in `timeZone`: from local midnight of the 1st to local midnight of the next month's 1st. */
export function statementMonth(period: string, timeZone: string): StatementMonth {
  const m = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(period);
  if (!m) throw new RangeError(`period must be YYYY-MM, got ${JSON.stringify(period.slice(0, 20))}`);
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const next = mo === 12 ? ym(y + 1, 1) : ym(y, mo + 1);
  return { period, timeZone, start: startOfLocalDate(`${period}-01`, timeZone), end: startOfLocalDate(`${next}-01`, timeZone) };
}

/** The month before the one `at` falls in, in `timeZone`: what a statement made at `at` covers. */
export function previousMonth(at: Date, timeZone: string): StatementMonth {
  const [y, mo] = localDate(at, timeZone).split('-').map(Number) as [number, number];
  return statementMonth(mo === 1 ? ym(y - 1, 12) : ym(y, mo - 1), timeZone);
}

/** "November 2026". */
export function monthLabel(period: string): string {
  const [y, m] = period.split('-');
  return `${MONTHS[Number(m) - 1] ?? m} ${y}`;
}

/** The statement id: a UUID (v5 layout) of SHA-256 over the tenant and period, so a second run names the same statement and job. */
export function statementId(tenantId: string, period: string): string {
  const h = createHash('sha256').update(`statement:${tenantId}:${period}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
