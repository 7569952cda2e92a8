import type { TenantTx } from '../../../lib/db/tenant-tx';
import { ACCOUNTING_FILL_JOB, TAX_ACQUISITION_JOB, TAX_QUEUE, TaxAcquisitionFactV1, taxFactJobId, type TaxAcquisitionFact } from '../../../lib/events/tax-facts';
import type { ExchangeOrder } from '../exchanges/exchange.types';

/**
 * Writes the parcel a purchase's fill created to the `tax` queue through the tenant's outbox, in the
 * caller's transaction: the fact exists if and only if the fill committed. One executor settles a
 * purchase once (whole or partial), so the parcel id is the purchase id. The fact is validated
 * against the contract before it is written, so a malformed fact fails the fill instead of the
 * consumer. Nothing else happens here: compliance's tax ledger consumes the queue.
 */
export async function recordAcquisitionFact(tx: TenantTx, purchaseId: string, order: ExchangeOrder): Promise<void> {
  if (order.filledSats <= 0n) return;
  const fact: TaxAcquisitionFact = TaxAcquisitionFactV1.parse({
    version: 1,
    kind: 'acquisition',
    tenantId: tx.tenantId,
    id: purchaseId,
    purchaseId,
    exchange: order.exchange,
    exchangeOrderId: order.exchangeOrderId,
    at: tx.now.toISOString(),
    sats: order.filledSats.toString(),
    costAudCents: order.spentAudCents.toString(),
    feeAudCents: order.feeAudCents.toString(),
  });
  await tx.outbox({ queue: TAX_QUEUE, jobName: TAX_ACQUISITION_JOB, payload: fact, id: taxFactJobId(TAX_ACQUISITION_JOB, fact.id) });
  // The same fact for compliance's books (#12): the fill's journal in each connected ledger.
  await tx.outbox({ queue: 'accounting', jobName: ACCOUNTING_FILL_JOB, payload: fact, id: taxFactJobId(ACCOUNTING_FILL_JOB, fact.id) });
}
