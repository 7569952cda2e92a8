import { createHash } from 'node:crypto';
import { z } from 'zod';
import { isoTime, uuid } from './fields';

/**
 * Tenant notices (#12): durable facts about something a tenant's people or systems want to hear
 * about, written through the tenant's outbox in the same transaction as the change (so a notice
 * exists if and only if the change committed), on the `notifications` queue, job `notice`.
 *
 * One processor in `subgraphs/tenant/notifications/` consumes them and hands each notice to every
 * registered `NoticeSink` (email/SMS to members by their preferences, outbound webhooks to the
 * tenant's endpoints). A sink must be idempotent on `notice.id`: a job can run more than once.
 *
 * `data` carries only what a message may show: ids, statuses, amounts as integer strings (AUD cents,
 * satoshis), never secrets, credentials or full account data.
 *
 * Producers so far: `purchase.filled` / `purchase.failed` (treasury/purchases/purchase-notices.ts:
 * amountAudCents, filledSats, exchange, status; subject the purchase) and `limit.reached`
 * (treasury/rules/limit-notices.ts: limit DAILY_CAP | MONTHLY_CAP, capAudCents, ruleType, day — the
 * tenant's local YYYY-MM-DD; subject the rule; id from rule + day, so one per rule and day),
 * `statement.ready` (compliance/statements), `kyb.action_needed` (compliance/aml/kyb.service.ts:
 * status NEEDS_INFO | REJECTED only, never the officer's reason; subject the tenant) and
 * `report.ready` (compliance/reports/reports.service.ts: report TAX, financialYear; subject the report).
 */

export const NOTICES_QUEUE = 'notifications' as const;
export const NOTICE_JOB = 'notice' as const;

export const NOTICE_TYPES = [
  'purchase.filled',
  'purchase.failed',
  'sale.filled',
  'limit.reached',
  'kyb.action_needed',
  'compliance.action_needed',
  'report.ready',
  'withdrawal.updated',
  'statement.ready',
] as const;
export type NoticeType = (typeof NOTICE_TYPES)[number];

const scalar = z.union([z.string().max(500), z.boolean(), z.null()]);

export const NoticeV1 = z.object({
  version: z.literal(1),
  /** Stable id of the notice (derived from the change it describes, see `noticeId`). */
  id: uuid,
  tenantId: uuid,
  type: z.enum(NOTICE_TYPES),
  occurredAt: isoTime,
  /** The subject's id (purchase, sale, report, withdrawal …). */
  subjectId: z.string().min(1).max(200),
  /** Flat, message-safe fields; amounts as integer strings (`amountAudCents`, `filledSats`, …). */
  data: z.record(z.string().max(64), scalar),
});
export type Notice = z.infer<typeof NoticeV1>;

/** A consumer of notices. `handle` runs in the notices processor; it must be idempotent on `notice.id`. */
export interface NoticeSink {
  readonly name: string;
  handle(notice: Notice): Promise<void>;
}

/** The notice/job id: a UUID (v5 layout) of SHA-256 over the type and the key of the change (e.g. the purchase id and its final status). */
export function noticeId(type: NoticeType, key: string): string {
  const h = createHash('sha256').update(`notice:${type}:${key}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
