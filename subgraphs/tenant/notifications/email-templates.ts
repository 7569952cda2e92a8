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
/** One footer for every notice email: why the member gets it and where to change that. */
const FOOTER = 'You get this email as a member of this business on Liquid ABT. Change it under Notifications in the dashboard.';

type Body = { subject: string; heading: string; lead: string; rows: [string, string][]; footer: string };

function purchaseBody(n: Notice, ctx: TemplateContext): Body {
  const amount = formatAudCents(text(n.data.amountAudCents) ?? '0');
  const sats = text(n.data.filledSats) ?? '0';
  const exchange = text(n.data.exchange);
  const rows: [string, string][] = [['Amount', `${amount} AUD`]];
  if (n.type === 'purchase.filled') rows.push(['Bought', `${formatBtc(sats)} (${formatSats(sats)})`]);
  if (exchange) rows.push(['Exchange', exchangeName(exchange)]);
  rows.push(['Purchase', n.subjectId], ['When', `${n.occurredAt} (UTC)`]);
  if (n.type === 'purchase.filled') {
    return { subject: `${ctx.tenantName}: bitcoin purchase of ${amount} filled`, heading: 'Bitcoin purchase filled', lead: `A bitcoin purchase for ${ctx.tenantName} was filled.`, rows, footer: FOOTER };
  }
  return {
    subject: `${ctx.tenantName}: bitcoin purchase of ${amount} failed`,
    heading: 'Bitcoin purchase failed',
    lead: `A bitcoin purchase for ${ctx.tenantName} failed. Nothing was bought; the amount goes back to the rule that set it aside. The dashboard shows why.`,
    rows,
    footer: FOOTER,
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
    footer: FOOTER,
  };
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
/** "2026-11" → "November 2026"; anything else as it is. */
export function periodName(period: string | null): string {
  const m = period ? /^(\d{4})-(0[1-9]|1[0-2])$/.exec(period) : null;
  return m ? `${MONTHS[Number(m[2]) - 1] ?? ''} ${m[1] ?? ''}` : (period ?? 'last month');
}

/** The monthly statement's email: its totals only; the PDF itself is attached by the sink. */
function statementBody(n: Notice, ctx: TemplateContext): Body {
  const month = periodName(text(n.data.period));
  const rows: [string, string][] = [['Period', `${month}${text(n.data.timeZone) ? ` (${text(n.data.timeZone) ?? ''})` : ''}`]];
  const purchases = text(n.data.purchases) ?? '0';
  const sales = text(n.data.sales) ?? '0';
  if (purchases === '0' && sales === '0') rows.push(['Activity', 'No purchases or sales this month']);
  else {
    rows.push(['Purchases', purchases], ['Bought', `${formatBtc(text(n.data.purchasedSats) ?? '0')} for ${formatAudCents(text(n.data.purchasedAudCents) ?? '0')} AUD`], ['Sales', sales]);
  }
  rows.push(['Fees', `${formatAudCents(text(n.data.feesAudCents) ?? '0')} AUD`]);
  const held = text(n.data.holdingsSats);
  if (held !== null) rows.push(['Held at month end', formatBtc(held)]);
  const value = text(n.data.holdingsValueAudCents);
  rows.push(['Value at month end', value === null ? 'no price recorded' : `${formatAudCents(value)} AUD`]);
  return {
    subject: `${ctx.tenantName}: your statement for ${month}`,
    heading: `Statement for ${month}`,
    lead: `The monthly statement of ${ctx.tenantName} is attached as a PDF: purchases, sales, fees, the CGT parcels held and their value at the end of the month. It is also in the dashboard.`,
    rows,
    footer: FOOTER,
  };
}


/** KYB needs the business: the status only (never the officer's reason, which may touch a suspicion the business must not be told of). */
function kybBody(n: Notice, ctx: TemplateContext): Body {
  const refused = text(n.data.status) === 'REJECTED';
  return {
    subject: refused ? `${ctx.tenantName}: business verification was not approved` : `${ctx.tenantName}: business verification needs more information`,
    heading: refused ? 'Business verification not approved' : 'Business verification needs more information',
    lead: refused
      ? `The verification of ${ctx.tenantName} (KYB) was not approved, so purchases, sales and withdrawals on real exchanges stay closed. Sign in to the dashboard to see what you can do next.`
      : `The verification of ${ctx.tenantName} (KYB) needs more information before purchases, sales and withdrawals on real exchanges can start. Sign in to the dashboard to see what is asked and to update your business details.`,
    rows: [
      ['Status', refused ? 'Not approved' : 'More information needed'],
      ['When', `${n.occurredAt} (UTC)`],
    ],
    footer: FOOTER,
  };
}

/** A finished report: which one, and where it is; the figures stay behind the dashboard's sign-in. */
function reportBody(n: Notice, ctx: TemplateContext): Body {
  const fy = text(n.data.financialYear);
  const what = `tax report${fy ? ` for ${fy}` : ''}`;
  return {
    subject: `${ctx.tenantName}: your ${what} is ready`,
    heading: `Your ${what} is ready`,
    lead: `The ${what} of ${ctx.tenantName} (capital gains summary as PDF and the full schedule as CSV) is ready to download under Tax in the dashboard.`,
    rows: [
      ['Report', `Tax report${fy ? `, ${fy}` : ''}`],
      ['Reference', n.subjectId.slice(0, 8)],
      ['When', `${n.occurredAt} (UTC)`],
    ],
    footer: FOOTER,
  };
}

/** The email for a notice, or null when the notice type has no email. */
export function renderNoticeEmail(n: Notice, ctx: TemplateContext): RenderedEmail | null {
  let b: Body;
  if (n.type === 'purchase.filled' || n.type === 'purchase.failed') b = purchaseBody(n, ctx);
  else if (n.type === 'limit.reached') b = limitBody(n, ctx);
  else if (n.type === 'statement.ready') b = statementBody(n, ctx);
  else if (n.type === 'kyb.action_needed') b = kybBody(n, ctx);
  else if (n.type === 'report.ready') b = reportBody(n, ctx);
  else return null;
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
