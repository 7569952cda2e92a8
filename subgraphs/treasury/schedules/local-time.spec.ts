import { nextLocalTime, startOfLocalDay, startOfLocalMonth, zonedTimeToUtc } from './local-time';

describe('tenant-local calendar', () => {
  const SYD = 'Australia/Sydney';
  it('starts the Sydney day at local midnight in summer (UTC+11) and winter (UTC+10)', () => {
    expect(startOfLocalDay(new Date('2026-01-15T05:00:00Z'), SYD).toISOString()).toBe('2026-01-14T13:00:00.000Z');
    expect(startOfLocalDay(new Date('2026-07-15T05:00:00Z'), SYD).toISOString()).toBe('2026-07-14T14:00:00.000Z');
  });
  it('counts an instant just after local midnight in the new day', () => {
    expect(startOfLocalDay(new Date('2026-01-14T13:00:01Z'), SYD).toISOString()).toBe('2026-01-14T13:00:00.000Z');
    expect(startOfLocalDay(new Date('2026-01-14T12:59:59Z'), SYD).toISOString()).toBe('2026-01-13T13:00:00.000Z');
  });
  it('starts the local month on the 1st', () => {
    expect(startOfLocalMonth(new Date('2026-03-31T20:00:00Z'), SYD).toISOString()).toBe('2026-03-31T13:00:00.000Z');
  });
  it('handles the DST change day (Sydney leaves DST on 2026-04-05)', () => {
    expect(zonedTimeToUtc(2026, 4, 5, 17, 0, SYD).toISOString()).toBe('2026-04-05T07:00:00.000Z');
    expect(zonedTimeToUtc(2026, 4, 4, 17, 0, SYD).toISOString()).toBe('2026-04-04T06:00:00.000Z');
  });
  it('finds the next cut-off', () => {
    expect(nextLocalTime(new Date('2026-07-15T06:59:00Z'), '17:00', SYD).toISOString()).toBe('2026-07-15T07:00:00.000Z');
    expect(nextLocalTime(new Date('2026-07-15T07:00:00Z'), '17:00', SYD).toISOString()).toBe('2026-07-16T07:00:00.000Z');
  });
});
