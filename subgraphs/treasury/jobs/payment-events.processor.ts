import type { MikroORM } from '@mikro-orm/postgresql';
import type { EventBus } from '../../../lib/bus';
import { TenantDirectory, withTenant } from '../../../lib/db/tenant-context';
import { log } from '../../../lib/logger';
import type { JobInfo } from '../../../lib/queue';
import { lockPaymentEvent, settlePaymentEvent } from '../../tenant/payments/payment-events';
import { publishAfterCommit, type Publication, type TreasuryEngine } from '../purchases/treasury-engine';
import { jobString } from '../../../workers/job-data';

/**
 * `payment-events`: one verified payment event → the tenant's rules → accruals and purchases.
 * The event row is locked and settled in the same transaction as everything it caused, so a
 * redelivered job (retry, crash, duplicate enqueue) finds it settled and changes nothing.
 */
export function paymentEventsProcessor(orm: MikroORM, directory: TenantDirectory, engine: TreasuryEngine, bus: EventBus) {
  return async (job: JobInfo): Promise<void> => {
    const tenantId = jobString(job, 'tenantId');
    const paymentEventId = jobString(job, 'paymentEventId');
    const publications = await withTenant(orm, directory, tenantId, async (em): Promise<Publication[]> => {
      const e = await lockPaymentEvent(em, paymentEventId);
      if (!e) {
        log().warn({ paymentEventId }, 'payment event not found; nothing to do');
        return [];
      }
      if (e.status !== 'RECEIVED') return [];
      if (e.kind === 'IGNORED' || e.amountCents === null || e.currency === null || e.providerObjectId === null) {
        await settlePaymentEvent(em, e.id, 'SKIPPED', 'event carries no amount the treasury acts on');
        return [];
      }
      const outcome = await engine.applyPaymentEvent(em, tenantId, {
        paymentEventId: e.id,
        provider: e.provider,
        kind: e.kind,
        amountCents: e.amountCents,
        currency: e.currency,
        providerObjectId: e.providerObjectId,
        relatedPaymentId: e.relatedPaymentId,
      });
      await settlePaymentEvent(em, e.id, outcome.status, outcome.reason);
      return outcome.publications;
    });
    await publishAfterCommit(bus, publications);
  };
}
