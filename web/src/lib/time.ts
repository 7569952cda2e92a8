/** Dates on screen are in the tenant's timezone (caps and schedules are too). */
const cache = new Map<string, Intl.DateTimeFormat>();

function fmt(tz: string, opts: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const key = tz + JSON.stringify(opts);
  let f = cache.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat('en-AU', { ...opts, timeZone: tz });
    cache.set(key, f);
  }
  return f;
}

export const formatDateTime = (iso: string, tz: string): string => fmt(tz, { dateStyle: 'medium', timeStyle: 'medium' }).format(new Date(iso));
export const formatDate = (iso: string, tz: string): string => fmt(tz, { dateStyle: 'medium' }).format(new Date(iso));
export const formatTime = (iso: string, tz: string): string => fmt(tz, { timeStyle: 'medium' }).format(new Date(iso));

/** "3 min ago" style, for live lists. */
export function relative(iso: string, now = Date.now()): string {
  const s = Math.round((now - Date.parse(iso)) / 1000);
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86_400)} d ago`;
}

/** The short name of a timezone offset now, e.g. "AEDT", for labels next to caps and schedules. */
export function zoneLabel(tz: string): string {
  const part = fmt(tz, { timeZoneName: 'short' }).formatToParts(new Date()).find((p) => p.type === 'timeZoneName');
  return part ? `${tz.replace(/_/g, ' ')} (${part.value})` : tz;
}
