import type { TenantTransactions } from '../../../lib/db/tenant-tx';
import { amlOperationMessage } from '../../../lib/events/aml-facts';
import { log } from '../../../lib/logger';
import type { JobInfo } from '../../../lib/queue';
import { lockPaymentEvent, settlePaymentEvent } from '../../tenant/payments/payment-events';
import type { RuleEngine } from '../rules/rule-engine';
import { jobString } from '../../../workers/job-data';

/**
 * `payment-events`: one verified payment event → the tenant's rules → accruals and purchases.
 * The event row is locked and settled in the same transaction as everything it caused, so a
 * redelivered job (retry, crash, duplicate enqueue) finds it settled and changes nothing.
 * Every AUD revenue or refund event is also an `aml.operation` fact (kind REVENUE or REFUND) for compliance's
 * monitoring (#11), in the same transaction, whether or not a rule acts on it.
 */
export function paymentEventsProcessor(tenants: TenantTransactions, engine: RuleEngine) {
  return async (job: JobInfo): Promise<void> => {
    const tenantId = jobString(job, 'tenantId');
    const paymentEventId = jobString(job, 'paymentEventId');
    await tenants.run(tenantId, async (tx) => {
      const { em } = tx;
      const e = await lockPaymentEvent(em, paymentEventId);
      if (!e) {
        log().warn({ paymentEventId }, 'payment event not found; nothing to do');
        return;
      }
      if (e.status !== 'RECEIVED') return;
      if (e.kind === 'IGNORED' || e.amountCents === null || e.currency === null || e.providerObjectId === null) {
        await settlePaymentEvent(em, e.id, 'SKIPPED', 'event carries no amount the treasury acts on');
        return;
      }
      if ((e.kind === 'REVENUE' || e.kind === 'REFUND') && e.currency === 'AUD' && e.amountCents > 0n) {
        // The provider's time of the payment (the raw query hands back a string), else this transaction's.
        const at = new Date(e.occurredAt ?? tx.now).toISOString();
        await tx.outbox(amlOperationMessage({ version: 1, tenantId: tx.tenantId, id: e.id, kind: e.kind, amountAudCents: e.amountCents.toString(), at }));
      }
      const outcome = await engine.applyPaymentEvent(tx, {
        paymentEventId: e.id,
        provider: e.provider,
        kind: e.kind,
        amountCents: e.amountCents,
        currency: e.currency,
        providerObjectId: e.providerObjectId,
        relatedPaymentId: e.relatedPaymentId,
      });
      await settlePaymentEvent(em, e.id, outcome.status, outcome.reason);
    });
  };
}
