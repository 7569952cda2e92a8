import { noticeId } from '../../../lib/events/notices';
import { RuleType } from './rule.entity';
import { limitNotice, localDay } from './limit-notices';

const rule = { id: '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d', type: RuleType.PERCENTAGE_OF_REVENUE, daily_cap_aud_cents: '50000', monthly_cap_aud_cents: '900000' };
const tenantId = '11111111-2222-4333-8444-555555555555';

describe('limit.reached notices', () => {
  it('the local day is the tenant’s, not UTC’s', () => {
    expect(localDay(new Date('2026-07-15T15:00:00Z'), 'Australia/Sydney')).toBe('2026-07-16');
    expect(localDay(new Date('2026-07-15T13:59:59Z'), 'Australia/Sydney')).toBe('2026-07-15');
    expect(localDay(new Date('2026-07-15T15:00:00Z'), 'UTC')).toBe('2026-07-15');
  });

  it('one id per rule and day, whichever cap and whenever that day', () => {
    const a = limitNotice(tenantId, new Date('2026-07-15T01:00:00Z'), '2026-07-15', rule, 'daily cap');
    const b = limitNotice(tenantId, new Date('2026-07-15T09:00:00Z'), '2026-07-15', rule, 'monthly cap');
    const c = limitNotice(tenantId, new Date('2026-07-16T01:00:00Z'), '2026-07-16', rule, 'daily cap');
    expect(a.id).toBe(noticeId('limit.reached', `${rule.id}:2026-07-15`));
    expect(b.id).toBe(a.id);
    expect(c.id).not.toBe(a.id);
    expect(a).toMatchObject({ type: 'limit.reached', subjectId: rule.id, data: { limit: 'DAILY_CAP', capAudCents: '50000', ruleType: 'PERCENTAGE_OF_REVENUE', day: '2026-07-15' } });
    expect(b.data).toMatchObject({ limit: 'MONTHLY_CAP', capAudCents: '900000' });
  });
});
