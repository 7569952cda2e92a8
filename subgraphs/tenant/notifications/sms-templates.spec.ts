import { noticeId, type Notice } from '../../../lib/events/notices';
import { renderNoticeEmail } from './email-templates';
import { SMS_MAX, renderNoticeSms, shortRef, smsName } from './sms-templates';

const tenantId = '11111111-2222-4333-8444-555555555555';
const purchaseId = '6f1c2a8e-1d2b-4c3d-9e4f-5a6b7c8d9e0f';
const ruleId = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';
const notice = (type: Notice['type'], subjectId: string, data: Notice['data']): Notice => ({
  version: 1,
  id: noticeId(type, `${subjectId}:x`),
  tenantId,
  type,
  occurredAt: '2026-12-03T09:30:00.000Z',
  subjectId,
  data,
});

describe('SMS templates', () => {
  it('purchase.filled: the business, the exact bitcoin and AUD, a short reference; one segment', () => {
    const s = renderNoticeSms(notice('purchase.filled', purchaseId, { amountAudCents: '123456', filledSats: '1234567', exchange: 'kraken', status: 'FILLED' }), { tenantName: 'Acme Pty Ltd' });
    expect(s).toBe('Liquid ABT: Acme Pty Ltd bought 0.01234567 BTC for $1,234.56 AUD (ref 6f1c2a8e).');
    expect(s?.length).toBeLessThanOrEqual(SMS_MAX);
    // No full id, no exchange account, no tenant id.
    expect(s).not.toContain(purchaseId);
    expect(s).not.toContain(tenantId);
  });

  it('purchase.failed says nothing was bought', () => {
    expect(renderNoticeSms(notice('purchase.failed', purchaseId, { amountAudCents: '5000', filledSats: '0', exchange: null, status: 'FAILED' }), { tenantName: 'Acme' })).toBe(
      "Liquid ABT: Acme's $50.00 AUD bitcoin purchase failed; nothing was bought (ref 6f1c2a8e).",
    );
  });

  it('limit.reached names the cap and its amount', () => {
    const n = notice('limit.reached', ruleId, { limit: 'DAILY_CAP', capAudCents: '50000', ruleType: 'PERCENTAGE_OF_REVENUE', day: '2026-12-03' });
    expect(renderNoticeSms(n, { tenantName: 'Acme' })).toBe("Liquid ABT: Acme's percentage of revenue rule reached its daily cap of $500.00 AUD; the rest waits (ref 9a8b7c6d).");
    const monthly = renderNoticeSms({ ...n, data: { ...n.data, limit: 'MONTHLY_CAP' } }, { tenantName: 'Acme' });
    expect(monthly).toContain('monthly cap');
    const mail = renderNoticeEmail(n, { tenantName: 'Acme' });
    expect(mail?.subject).toBe('Acme: a treasury rule reached its daily cap');
    expect(mail?.text).toContain('$500.00 AUD daily');
    expect(mail?.text).toContain('Percentage of revenue (9a8b7c6d)');
    expect(mail?.html).toContain('<td>2026-12-03 (local)</td>');
  });

  it('a long or hostile tenant name stays on one line and short; the whole text never exceeds one segment', () => {
    expect(smsName('Line\r\nBreak\u0000 \u202eEvil')).toBe('Line Break Evil');
    expect(smsName('A very long business name that goes on Pty Ltd')).toBe('A very long business...');
    expect(smsName('   ')).toBe('your business');
    const s = renderNoticeSms(notice('purchase.filled', purchaseId, { amountAudCents: '9007199254740993', filledSats: '2100000000000000', status: 'FILLED' }), { tenantName: 'x'.repeat(500) });
    expect(s?.length).toBeLessThanOrEqual(SMS_MAX);
    expect(s).not.toMatch(/[\r\n]/);
  });

  it('types without an SMS render nothing; the reference keeps only id characters', () => {
    expect(renderNoticeSms(notice('withdrawal.updated', 'r-1', {}), { tenantName: 'Acme' })).toBeNull();
    expect(shortRef('ab-cd-ef-12-34')).toBe('abcdef12');
  });
});

describe('the monthly statement SMS', () => {
  it('says the statement is ready, within one segment', () => {
    const s = renderNoticeSms(notice('statement.ready', 'a1b2c3d4-0000-4000-8000-000000000000', { period: '2026-11' }), { tenantName: 'Acme' });
    expect(s).toBe("Liquid ABT: Acme's statement for 2026-11 is ready; it is in your email and the dashboard (ref a1b2c3d4).");
  });
});

describe('KYB and report SMS', () => {
  it('fit one segment and carry no reason, figure or link', () => {
    const long = 'A very long business name that goes on and on Pty Ltd';
    const more = renderNoticeSms(notice('kyb.action_needed', tenantId, { status: 'NEEDS_INFO' }), { tenantName: long });
    const refused = renderNoticeSms(notice('kyb.action_needed', tenantId, { status: 'REJECTED' }), { tenantName: 'Acme' });
    const report = renderNoticeSms(notice('report.ready', purchaseId, { report: 'TAX', financialYear: '2026-27' }), { tenantName: 'Acme' });
    expect(refused).toBe("Liquid ABT: Acme's business verification was not approved; see the dashboard.");
    expect(report).toBe("Liquid ABT: Acme's tax report for 2026-27 is ready in the dashboard (ref 6f1c2a8e).");
    for (const s of [more, refused, report]) {
      expect(s?.length).toBeLessThanOrEqual(SMS_MAX);
      expect(s).not.toMatch(/https?:|\$/);
    }
    expect(more).toContain('needs more information');
  });
});
