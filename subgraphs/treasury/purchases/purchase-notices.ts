import type { TenantTx } from '../../../lib/db/tenant-tx';
import { NOTICE_JOB, NOTICES_QUEUE, NoticeV1, noticeId, type Notice, type NoticeType } from '../../../lib/events/notices';
import { PurchaseStatus } from './purchase-state';

/** Final states members hear about (#12); PARTIALLY_FILLED and CANCELLED have no notice type yet. */
const NOTICE_OF: Partial<Record<PurchaseStatus, NoticeType>> = {
  [PurchaseStatus.FILLED]: 'purchase.filled',
  [PurchaseStatus.FAILED]: 'purchase.failed',
};

export type PurchaseOutcome = {
  purchaseId: string;
  status: PurchaseStatus;
  amountAudCents: bigint;
  filledSats: bigint;
  /** Where the order went; null when nothing reached an exchange (e.g. refused by the KYB gate). */
  exchange: string | null;
};

/** The notice of a purchase's final state, or null when that state has none. Message-safe fields only (no reasons, order ids or credentials). */
export function purchaseNotice(tenantId: string, at: Date, o: PurchaseOutcome): Notice | null {
  const type = NOTICE_OF[o.status];
  if (!type) return null;
  return NoticeV1.parse({
    version: 1,
    id: noticeId(type, `${o.purchaseId}:${o.status}`),
    tenantId,
    type,
    occurredAt: at.toISOString(),
    subjectId: o.purchaseId,
    data: {
      amountAudCents: o.amountAudCents.toString(),
      filledSats: o.filledSats.toString(),
      exchange: o.exchange,
      status: o.status,
    },
  });
}

/**
 * Writes the notice through the tenant's outbox in the caller's transaction (the one that moved the
 * purchase): it exists if and only if the final state committed. The job id is the notice id.
 */
export async function recordPurchaseNotice(tx: TenantTx, o: PurchaseOutcome): Promise<void> {
  const notice = purchaseNotice(tx.tenantId, tx.now, o);
  if (!notice) return;
  await tx.outbox({ queue: NOTICES_QUEUE, jobName: NOTICE_JOB, payload: notice, id: notice.id });
}
