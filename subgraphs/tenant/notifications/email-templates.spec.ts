import { noticeId, type Notice } from '../../../lib/events/notices';
import { escapeHtml, formatAudCents, formatBtc, formatSats, renderNoticeEmail } from './email-templates';

const purchaseId = '6f1c2a8e-1d2b-4c3d-9e4f-5a6b7c8d9e0f';
const notice = (type: 'purchase.filled' | 'purchase.failed', data: Notice['data']): Notice => ({
  version: 1,
  id: noticeId(type, `${purchaseId}:${type === 'purchase.filled' ? 'FILLED' : 'FAILED'}`),
  tenantId: '11111111-2222-4333-8444-555555555555',
  type,
  occurredAt: '2026-12-03T09:30:00.000Z',
  subjectId: purchaseId,
  data,
});

describe('amounts in notification emails (exact, from integer cents and satoshis)', () => {
  it('formats AUD cents with grouping and two decimals', () => {
    expect(formatAudCents(0n)).toBe('$0.00');
    expect(formatAudCents('5')).toBe('$0.05');
    expect(formatAudCents('100')).toBe('$1.00');
    expect(formatAudCents('123456789')).toBe('$1,234,567.89');
    expect(formatAudCents(-250n)).toBe('-$2.50');
    // Beyond a double's 2^53: no float anywhere.
    expect(formatAudCents('9007199254740993')).toBe('$90,071,992,547,409.93');
  });

  it('formats satoshis as BTC with 8 decimals and as grouped sats', () => {
    expect(formatBtc('1')).toBe('0.00000001 BTC');
    expect(formatBtc('12345')).toBe('0.00012345 BTC');
    expect(formatBtc(2_100_000_000_000_000n)).toBe('21000000.00000000 BTC');
    expect(formatSats('12345')).toBe('12,345 sats');
    expect(formatSats('0')).toBe('0 sats');
  });

  it('refuses what is not an integer string (a float, an exponent, empty)', () => {
    for (const bad of ['1.5', '1e3', '', ' 1', '0x10']) {
      expect(() => formatAudCents(bad)).toThrow(RangeError);
      expect(() => formatBtc(bad)).toThrow(RangeError);
    }
  });
});

describe('notification email templates', () => {
  it('purchase.filled: subject, text and HTML show the exact amount, bitcoin and exchange', () => {
    const m = renderNoticeEmail(notice('purchase.filled', { amountAudCents: '123456', filledSats: '1234567', exchange: 'paper', status: 'FILLED' }), { tenantName: 'Acme Pty Ltd' });
    expect(m?.subject).toBe('Acme Pty Ltd: bitcoin purchase of $1,234.56 filled');
    expect(m?.text).toContain('Amount:   $1,234.56 AUD');
    expect(m?.text).toContain('Bought:   0.01234567 BTC (1,234,567 sats)');
    expect(m?.text).toContain('Exchange: Paper exchange (simulated)');
    expect(m?.text).toContain(`Purchase: ${purchaseId}`);
    expect(m?.html).toContain('<td>$1,234.56 AUD</td>');
    expect(m?.html).toContain('<td>0.01234567 BTC (1,234,567 sats)</td>');
  });

  it('purchase.failed: says nothing was bought, shows no bitcoin line and no exchange when none was reached', () => {
    const m = renderNoticeEmail(notice('purchase.failed', { amountAudCents: '5000', filledSats: '0', exchange: null, status: 'FAILED' }), { tenantName: 'Acme' });
    expect(m?.subject).toBe('Acme: bitcoin purchase of $50.00 failed');
    expect(m?.text).toContain('Nothing was bought');
    expect(m?.text).not.toContain('Bought:');
    expect(m?.text).not.toContain('Exchange:');
  });

  it('escapes HTML in everything interpolated (a tenant name is user-chosen), and keeps the subject on one line', () => {
    const evil = '<script>alert("x")</script> & Co\'s\r\nBcc: victim@x.example';
    const m = renderNoticeEmail(notice('purchase.filled', { amountAudCents: '100', filledSats: '1', exchange: '<b>x</b>', status: 'FILLED' }), { tenantName: evil });
    expect(m?.html).not.toMatch(/<script>|<b>x<\/b>/);
    expect(m?.html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co&#39;s');
    expect(m?.html).toContain('&lt;b&gt;x&lt;/b&gt;');
    expect(m?.subject).not.toMatch(/[\r\n]/);
    expect(escapeHtml(`<>&"'`)).toBe('&lt;&gt;&amp;&quot;&#39;');
  });

  it('shows only what the notice carries: nothing for types without an email', () => {
    const other: Notice = { ...notice('purchase.filled', {}), type: 'withdrawal.updated' };
    expect(renderNoticeEmail(other, { tenantName: 'Acme' })).toBeNull();
  });
});

describe('the monthly statement email', () => {
  const statement = (data: Notice['data']): Notice => ({ ...notice('purchase.filled', {}), type: 'statement.ready', subjectId: 'a1b2c3d4-0000-4000-8000-000000000000', data });
  it('shows the month and its totals exactly; a quiet month says so', () => {
    const m = renderNoticeEmail(statement({ period: '2026-11', timeZone: 'Australia/Sydney', purchases: '2', sales: '0', purchasedSats: '223457', purchasedAudCents: '36000', feesAudCents: '181', holdingsSats: '423457', holdingsValueAudCents: '71988', pdfKey: 'k' }), { tenantName: 'Acme' });
    expect(m?.subject).toBe('Acme: your statement for November 2026');
    expect(m?.text).toContain('Bought:             0.00223457 BTC for $360.00 AUD');
    expect(m?.text).toContain('Value at month end: $719.88 AUD');
    expect(m?.text).not.toContain('pdfKey');
    const quiet = renderNoticeEmail(statement({ period: '2026-11', purchases: '0', sales: '0', feesAudCents: '0', holdingsSats: '0', holdingsValueAudCents: null }), { tenantName: 'Quiet' });
    expect(quiet?.text).toContain('No purchases or sales this month');
    expect(quiet?.text).toContain('no price recorded');
  });
});

describe('KYB and report notices by email', () => {
  const tenantId = '11111111-2222-4333-8444-555555555555';
  const kyb = (status: string): Notice => ({ ...notice('purchase.filled', {}), id: noticeId('kyb.action_needed', `${tenantId}:3`), type: 'kyb.action_needed', subjectId: tenantId, data: { status } });
  const report: Notice = { ...notice('purchase.filled', {}), id: noticeId('report.ready', 'r'), type: 'report.ready', subjectId: 'c0ffee00-1111-4222-8333-444455556666', data: { report: 'TAX', financialYear: '2026-27' } };

  it('asks for more information, or says it was not approved, by status only, with the tenant name escaped in HTML', () => {
    const more = renderNoticeEmail(kyb('NEEDS_INFO'), { tenantName: 'A <b>&</b> Co' });
    expect(more?.subject).toBe('A <b>&</b> Co: business verification needs more information');
    expect(more?.text).toContain('Status: More information needed');
    expect(more?.html).toContain('A &lt;b&gt;&amp;&lt;/b&gt; Co');
    expect(more?.html).not.toContain('<b>&</b>');
    const refused = renderNoticeEmail(kyb('REJECTED'), { tenantName: 'Acme' });
    expect(refused?.subject).toBe('Acme: business verification was not approved');
    expect(refused?.text).toContain('stay closed');
  });

  it('names the report and its financial year, and a short reference, never figures or links', () => {
    const r = renderNoticeEmail(report, { tenantName: 'Acme' });
    expect(r?.subject).toBe('Acme: your tax report for 2026-27 is ready');
    expect(r?.text).toContain('Reference: c0ffee00');
    expect(r?.text).not.toMatch(/https?:|\$/);
  });
});
