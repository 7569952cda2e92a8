import { unitsToText } from '../../../lib/money';
import type { Notice } from '../../../lib/events/notices';

/** A rendered email: subject, plain text and HTML (every interpolated value escaped). */
export type RenderedEmail = { subject: string; text: string; html: string };

/** What a template may show besides the notice: the tenant's name (user-chosen text, so escaped in HTML). */
export type TemplateContext = { tenantName: string };

const INTEGER = /^-?\d+$/;

/** Thousands separators on an integer's digits, exactly: "1234567" → "1,234,567". */
const group = (digits: string): string => digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');

/** AUD cents (integer text or bigint) → "$1,234.56"; exact, no floats. */
export function formatAudCents(cents: bigint | string): string {
  const v = typeof cents === 'bigint' ? cents : parseInteger(cents, 'AUD cents');
  const neg = v < 0n;
  const abs = neg ? -v : v;
  return `${neg ? '-' : ''}$${group((abs / 100n).toString())}.${(abs % 100n).toString().padStart(2, '0')}`;
}

/** Satoshis → "0.00012345 BTC"; exact (8 decimals), no floats. */
export function formatBtc(sats: bigint | string): string {
  return `${unitsToText(typeof sats === 'bigint' ? sats : parseInteger(sats, 'satoshis'), 8)} BTC`;
}

/** Satoshis → "12,345 sats". */
export function formatSats(sats: bigint | string): string {
  const v = typeof sats === 'bigint' ? sats : parseInteger(sats, 'satoshis');
  return `${v < 0n ? '-' : ''}${group((v < 0n ? -v : v).toString())} sats`;
}

function parseInteger(text: string, what: string): bigint {
  if (!INTEGER.test(text)) throw new RangeError(`${what} must be an integer string`);
  return BigInt(text);
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);

/** Exchange names as shown; anything else (a future adapter) by its own name. */
const EXCHANGES: Record<string, string> = { paper: 'Paper exchange (simulated)', kraken: 'Kraken', swyftx: 'Swyftx', zerocap: 'ZeroCap' };
const exchangeName = (e: string): string => EXCHANGES[e] ?? e;

const text = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** Rows of label → value shown in both parts; values are plain text here and escaped for HTML below. */
type Body = { subject: string; heading: string; lead: string; rows: [string, string][]; footer: string };

function purchaseBody(n: Notice, ctx: TemplateContext): Body {
  const amount = formatAudCents(text(n.data.amountAudCents) ?? '0');
  const sats = text(n.data.filledSats) ?? '0';
  const exchange = text(n.data.exchange);
  const rows: [string, string][] = [['Amount', `${amount} AUD`]];
  if (n.type === 'purchase.filled') rows.push(['Bought', `${formatBtc(sats)} (${formatSats(sats)})`]);
  if (exchange) rows.push(['Exchange', exchangeName(exchange)]);
  rows.push(['Purchase', n.subjectId], ['When', `${n.occurredAt} (UTC)`]);
  const footer = 'You get this email as a member of this business on Liquid ABT. Change it under Notifications in the dashboard.';
  if (n.type === 'purchase.filled') {
    return { subject: `${ctx.tenantName}: bitcoin purchase of ${amount} filled`, heading: 'Bitcoin purchase filled', lead: `A bitcoin purchase for ${ctx.tenantName} was filled.`, rows, footer };
  }
  return {
    subject: `${ctx.tenantName}: bitcoin purchase of ${amount} failed`,
    heading: 'Bitcoin purchase failed',
    lead: `A bitcoin purchase for ${ctx.tenantName} failed. Nothing was bought; the amount goes back to the rule that set it aside. The dashboard shows why.`,
    rows,
    footer,
  };
}

/** Rule types as a member reads them. */
const RULE_TYPES: Record<string, string> = {
  PERCENTAGE_OF_REVENUE: 'Percentage of revenue',
  FIXED_DCA: 'Fixed amount on a schedule',
  BALANCE_THRESHOLD: 'Balance threshold',
  PRICE_DROP: 'Price drop',
};
export const ruleTypeName = (t: string | null): string => (t ? (RULE_TYPES[t] ?? t) : 'Treasury');

/** "daily" / "monthly" from the notice's `limit` (DAILY_CAP, MONTHLY_CAP). */
export const capPeriod = (limit: string | null): 'daily' | 'monthly' => (limit === 'MONTHLY_CAP' ? 'monthly' : 'daily');

function limitBody(n: Notice, ctx: TemplateContext): Body {
  const period = capPeriod(text(n.data.limit));
  const cap = text(n.data.capAudCents);
  const rows: [string, string][] = [['Rule', `${ruleTypeName(text(n.data.ruleType))} (${n.subjectId.slice(0, 8)})`]];
  if (cap) rows.push(['Cap', `${formatAudCents(cap)} AUD ${period}`]);
  if (text(n.data.day)) rows.push(['Day', `${text(n.data.day) ?? ''} (local)`]);
  rows.push(['When', `${n.occurredAt} (UTC)`]);
  return {
    subject: `${ctx.tenantName}: a treasury rule reached its ${period} cap`,
    heading: `Treasury rule reached its ${period} cap`,
    lead: `A treasury rule for ${ctx.tenantName} reached its ${period} cap, so it bought less than it had set aside, or nothing. What is left waits and is bought ${period === 'daily' ? 'from tomorrow' : 'from next month'}, within the cap. Raise the cap in the dashboard to buy more.`,
    rows,
    footer: 'You get this email as a member of this business on Liquid ABT. Change it under Notifications in the dashboard.',
  };
}

/** The email for a notice, or null when the notice type has no email. */
export function renderNoticeEmail(n: Notice, ctx: TemplateContext): RenderedEmail | null {
  if (n.type !== 'purchase.filled' && n.type !== 'purchase.failed' && n.type !== 'limit.reached') return null;
  const b = n.type === 'limit.reached' ? limitBody(n, ctx) : purchaseBody(n, ctx);
  const width = Math.max(...b.rows.map(([k]) => k.length));
  const plain = [b.heading, '', b.lead, '', ...b.rows.map(([k, v]) => `${`${k}:`.padEnd(width + 2)}${v}`), '', '-- ', b.footer, ''].join('\n');
  const e = escapeHtml;
  const html = [
    '<!doctype html>',
    '<html><head><meta charset="utf-8"><title>' + e(b.subject) + '</title></head>',
    '<body style="font-family:system-ui,sans-serif;color:#1a1a1a">',
    `<h1 style="font-size:20px">${e(b.heading)}</h1>`,
    `<p>${e(b.lead)}</p>`,
    '<table cellpadding="4" style="border-collapse:collapse">',
    ...b.rows.map(([k, v]) => `<tr><th align="left">${e(k)}</th><td>${e(v)}</td></tr>`),
    '</table>',
    `<p style="color:#666;font-size:12px">${e(b.footer)}</p>`,
    '</body></html>',
    '',
  ].join('\n');
  return { subject: b.subject.replace(/[\r\n]+/g, ' '), text: plain, html };
}
