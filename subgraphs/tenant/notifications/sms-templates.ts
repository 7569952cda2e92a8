import type { Notice } from '../../../lib/events/notices';
import { capPeriod, formatAudCents, formatBtc, ruleTypeName, type TemplateContext } from './email-templates';

/** One SMS segment in GSM-7 is 160 characters; every template stays within it. */
export const SMS_MAX = 160;
const NAME_MAX = 24;

const text = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** The tenant's name on one line, control characters dropped, shortened: it is user-chosen text. */
export function smsName(name: string): string {
  const flat = name.replace(/[\p{Cc}\p{Cf}\u2028\u2029]+/gu, ' ').replace(/\s+/g, ' ').trim() || 'your business';
  return flat.length > NAME_MAX ? `${flat.slice(0, NAME_MAX - 3).trimEnd()}...` : flat;
}

/** A short reference (the first 8 characters of the subject's id), never a full id or account data. */
export const shortRef = (id: string): string => id.replace(/[^0-9A-Za-z]/g, '').slice(0, 8);

/**
 * The SMS for a notice, or null when the type has none. Short and plain: the business, what
 * happened, the amount, a short reference; no addresses, order ids, reasons or links with tokens.
 */
export function renderNoticeSms(n: Notice, ctx: TemplateContext): string | null {
  const who = smsName(ctx.tenantName);
  const ref = `ref ${shortRef(n.subjectId)}`;
  let body: string;
  switch (n.type) {
    case 'purchase.filled':
      body = `Liquid ABT: ${who} bought ${formatBtc(text(n.data.filledSats) ?? '0')} for ${formatAudCents(text(n.data.amountAudCents) ?? '0')} AUD (${ref}).`;
      break;
    case 'purchase.failed':
      body = `Liquid ABT: ${who}'s ${formatAudCents(text(n.data.amountAudCents) ?? '0')} AUD bitcoin purchase failed; nothing was bought (${ref}).`;
      break;
    case 'limit.reached': {
      const period = capPeriod(text(n.data.limit));
      const cap = text(n.data.capAudCents);
      body = `Liquid ABT: ${who}'s ${ruleTypeName(text(n.data.ruleType)).toLowerCase()} rule reached its ${period} cap${cap ? ` of ${formatAudCents(cap)} AUD` : ''}; the rest waits (${ref}).`;
      break;
    }
    case 'statement.ready': {
      const period = text(n.data.period);
      body = `Liquid ABT: ${who}'s statement${period ? ` for ${period}` : ''} is ready; it is in your email and the dashboard (${ref}).`;
      break;
    }
    case 'kyb.action_needed':
      body =
        text(n.data.status) === 'REJECTED'
          ? `Liquid ABT: ${who}'s business verification was not approved; see the dashboard.`
          : `Liquid ABT: ${who}'s business verification needs more information; see the dashboard.`;
      break;
    case 'report.ready': {
      const fy = text(n.data.financialYear);
      body = `Liquid ABT: ${who}'s tax report${fy ? ` for ${fy}` : ''} is ready in the dashboard (${ref}).`;
      break;
    }
    default:
      return null;
  }
  return body.length > SMS_MAX ? `${body.slice(0, SMS_MAX - 3)}...` : body;
}
