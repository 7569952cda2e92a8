import type { TenantTx } from '../../../lib/db/tenant-tx';
import { NOTICE_JOB, NOTICES_QUEUE, NoticeV1, noticeId, type Notice } from '../../../lib/events/notices';
import { tenantTimezone } from '../settings/treasury-settings';
import type { RuleRow } from './rule.repository';

/** Which cap stopped or cut a rule's purchase (rule-limits.ts `limitedBy`). */
export type CapHit = 'daily cap' | 'monthly cap';

/** The tenant's local calendar day, YYYY-MM-DD (the day caps reset on). */
export function localDay(at: Date, timeZone: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);
}

/** The `limit.reached` notice of a rule on a local day: its id is derived from (rule, day), so one per rule per day. */
export function limitNotice(tenantId: string, at: Date, day: string, rule: Pick<RuleRow, 'id' | 'type' | 'daily_cap_aud_cents' | 'monthly_cap_aud_cents'>, hit: CapHit): Notice {
  const monthly = hit === 'monthly cap';
  return NoticeV1.parse({
    version: 1,
    id: noticeId('limit.reached', `${rule.id}:${day}`),
    tenantId,
    type: 'limit.reached',
    occurredAt: at.toISOString(),
    subjectId: rule.id,
    data: {
      limit: monthly ? 'MONTHLY_CAP' : 'DAILY_CAP',
      capAudCents: (monthly ? rule.monthly_cap_aud_cents : rule.daily_cap_aud_cents) ?? null,
      ruleType: rule.type,
      day,
    },
  });
}

/**
 * Writes the notice through the tenant's outbox in the transaction whose purchase the cap cut or
 * stopped. The outbox keeps its rows keyed (tenant_id, id) and inserts with `on conflict do nothing`,
 * so a second cap hit of the rule that day (another payment, the cut-off, the monthly cap) adds none.
 */
export async function recordLimitNotice(tx: TenantTx, rule: RuleRow, hit: CapHit, at: Date): Promise<void> {
  const notice = limitNotice(tx.tenantId, at, localDay(at, await tenantTimezone(tx.em)), rule, hit);
  await tx.outbox({ queue: NOTICES_QUEUE, jobName: NOTICE_JOB, payload: notice, id: notice.id });
}
