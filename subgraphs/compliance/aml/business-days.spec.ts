import { addBusinessDays, businessCalendar, deadlineStatus, smrDeadline } from './business-days';

const nsw = businessCalendar();
const at = (iso: string): Date => new Date(iso);

describe('business days (NSW by default)', () => {
  it('a suspicion formed on a Friday is due by the end of Wednesday: the weekend is skipped', () => {
    const d = smrDeadline({ suspicionFormedAt: at('2026-05-08T05:00:00Z'), terrorismFinancing: false }); // Fri 15:00 Sydney
    expect(d.lastDay).toBe('2026-05-13');
    expect(d.skipped).toEqual([
      { date: '2026-05-09', reason: 'Saturday' },
      { date: '2026-05-10', reason: 'Sunday' },
    ]);
    expect(d.dueAt.toISOString()).toBe('2026-05-13T14:00:00.000Z'); // midnight AEST ending Wednesday
  });

  it('the day the suspicion is formed never counts, even late at night local time', () => {
    // 23:30 Monday in Sydney is 13:30 UTC Monday: days counted are Tue, Wed, Thu.
    expect(smrDeadline({ suspicionFormedAt: at('2026-05-11T13:30:00Z'), terrorismFinancing: false }).lastDay).toBe('2026-05-14');
    // 00:30 Tuesday in Sydney is still Monday in UTC: counted Wed, Thu, Fri.
    expect(smrDeadline({ suspicionFormedAt: at('2026-05-11T14:30:00Z'), terrorismFinancing: false }).lastDay).toBe('2026-05-15');
  });

  it('over Christmas and New Year 2027/28, with substitute holidays on 27 and 28 December and 3 January', () => {
    const d = smrDeadline({ suspicionFormedAt: at('2027-12-23T01:00:00Z'), terrorismFinancing: false }); // Thu 23 Dec
    expect(d.lastDay).toBe('2027-12-30');
    expect(d.skipped.map((s) => s.date)).toEqual(['2027-12-25', '2027-12-26', '2027-12-27', '2027-12-28']);
    expect(d.skipped.find((s) => s.date === '2027-12-27')?.reason).toMatch(/substitute/);
    const ny = smrDeadline({ suspicionFormedAt: at('2027-12-29T01:00:00Z'), terrorismFinancing: false }); // Wed 29 Dec
    expect(ny.lastDay).toBe('2028-01-04'); // Thu 30, Fri 31, (Sat 1, Sun 2, Mon 3 substitute New Year's Day), Tue 4
    expect(ny.skipped.map((s) => s.date)).toEqual(['2028-01-01', '2028-01-02', '2028-01-03']);
    expect(ny.dueAt.toISOString()).toBe('2028-01-04T13:00:00.000Z'); // midnight AEDT
  });

  it('Boxing Day 2026 falls on a Saturday: Monday 28 December is its substitute', () => {
    expect(smrDeadline({ suspicionFormedAt: at('2026-12-23T23:00:00Z'), terrorismFinancing: false }).lastDay).toBe('2026-12-31'); // Thu 24 Dec in Sydney
    expect(nsw.nonBusinessReason('2026-12-28')).toBe('Boxing Day (substitute day)');
  });

  it('a state holiday: Queensland’s Labour Day (4 May 2026) is a business day in NSW but not for a QLD reporting entity', () => {
    const formed = at('2026-04-30T01:00:00Z'); // Thu 30 April
    expect(smrDeadline({ suspicionFormedAt: formed, terrorismFinancing: false }).lastDay).toBe('2026-05-05'); // Fri, Mon, Tue
    const qld = businessCalendar({ state: 'QLD' });
    const d = smrDeadline({ suspicionFormedAt: formed, terrorismFinancing: false, calendar: qld });
    expect(d.lastDay).toBe('2026-05-06');
    expect(d.skipped).toContainEqual({ date: '2026-05-04', reason: 'Labour Day' });
    expect(d.dueAt.toISOString()).toBe('2026-05-06T14:00:00.000Z'); // Brisbane has no DST
  });

  it('the NSW Bank Holiday counts as a business day unless bank holidays are excluded', () => {
    expect(nsw.isBusinessDay('2026-08-03')).toBe(true);
    expect(businessCalendar({ countBankHolidays: true }).nonBusinessReason('2026-08-03')).toBe('Bank Holiday');
  });

  it('an evening-only holiday (Queensland Christmas Eve from 6 pm) leaves the day a business day', () => {
    expect(businessCalendar({ state: 'QLD' }).isBusinessDay('2026-12-24')).toBe(true);
  });

  it('addBusinessDays refuses nonsense', () => {
    expect(() => addBusinessDays(nsw, '2026-01-01', 0)).toThrow();
  });
});

describe('terrorism financing: 24 hours from the time the suspicion is formed', () => {
  it('is 24 hours, weekends and holidays included', () => {
    const d = smrDeadline({ suspicionFormedAt: at('2026-12-24T22:15:00Z'), terrorismFinancing: true });
    expect(d).toMatchObject({ basis: 'TERRORISM_FINANCING_24_HOURS', lastDay: null });
    expect(d.dueAt.toISOString()).toBe('2026-12-25T22:15:00.000Z');
  });
});

describe('near-due and overdue with an injected clock', () => {
  const d = smrDeadline({ suspicionFormedAt: at('2026-05-08T05:00:00Z'), terrorismFinancing: false }); // due 2026-05-13T14:00Z
  it.each([
    ['2026-05-12T13:59:59Z', 'ON_TRACK'],
    ['2026-05-12T14:00:00Z', 'NEAR_DUE'],
    ['2026-05-13T13:59:59Z', 'NEAR_DUE'],
    ['2026-05-13T14:00:00Z', 'OVERDUE'],
  ])('at %s it is %s', (now, status) => {
    expect(deadlineStatus(d, at(now)).status).toBe(status);
  });
  it('a report given in time is REPORTED, a late one REPORTED_LATE', () => {
    expect(deadlineStatus(d, at('2026-06-01T00:00:00Z'), { reportedAt: at('2026-05-13T13:00:00Z') }).status).toBe('REPORTED');
    expect(deadlineStatus(d, at('2026-06-01T00:00:00Z'), { reportedAt: at('2026-05-13T14:00:00Z') }).status).toBe('REPORTED_LATE');
  });
  it('a 24-hour matter is near due in its last 6 hours', () => {
    const tf = smrDeadline({ suspicionFormedAt: at('2026-05-08T05:00:00Z'), terrorismFinancing: true });
    expect(deadlineStatus(tf, at('2026-05-08T22:59:59Z')).status).toBe('ON_TRACK');
    expect(deadlineStatus(tf, at('2026-05-08T23:00:00Z')).status).toBe('NEAR_DUE');
  });
});
