import { createHash } from 'node:crypto';
import { z } from 'zod';
import { isoTime, uuid } from './fields';

/**
 * Durable facts treasury sends compliance's tax ledger, as jobs on the `tax` queue written through
 * the tenant's outbox in the same transaction as the change they describe (so a fact exists if and
 * only if the fill or the sale's settlement committed). Each fact has a stable `id`; compliance
 * records each fact once by that id (`on conflict do nothing`), whatever job delivered it.
 *
 * The outbox row (and so the job) needs an id of its own: the fact's id is often the id of the
 * order whose own job already holds that outbox id (`<tenant, id>` is unique and a second insert
 * is dropped). `taxFactJobId` derives the job id from the job name and the fact id, so a replay or
 * a second relay pass is still the same job.
 *
 * Amounts travel as decimal strings of integer cents and satoshis; times as ISO 8601 UTC.
 */

/** A non-negative integer as a decimal string (cents or sats). */
const wholeUnits = z.string().regex(/^(0|[1-9][0-9]*)$/, 'not a non-negative integer');
/** A positive integer as a decimal string. */
const positiveUnits = z.string().regex(/^[1-9][0-9]*$/, 'not a positive integer');

export const TAX_QUEUE = 'tax' as const;
export const TAX_ACQUISITION_JOB = 'tax.acquisition' as const;
export const TAX_DISPOSAL_JOB = 'tax.disposal' as const;
/** The `accounting` queue's job for a fill (#12): the same TaxAcquisitionFactV1, posted as a journal to each connected ledger. */
export const ACCOUNTING_FILL_JOB = 'accounting.fill' as const;
export const TAX_TRANSFER_JOB = 'tax.transfer' as const;

/** The outbox/job id of a tax fact: a UUID (v5 layout) of SHA-256 over the job name and the fact id. */
export function taxFactJobId(jobName: typeof TAX_ACQUISITION_JOB | typeof TAX_DISPOSAL_JOB | typeof TAX_TRANSFER_JOB | typeof ACCOUNTING_FILL_JOB, factId: string): string {
  const h = createHash('sha256').update(`${jobName}:${factId}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** What every fact about an exchange order carries: who, which order, when, how many sats. */
const OrderFact = z.object({
  version: z.literal(1),
  tenantId: uuid,
  /** The fact id (see each fact). */
  id: z.string().min(1).max(200),
  exchange: z.string().min(1),
  exchangeOrderId: z.string().nullable(),
  at: isoTime,
  sats: positiveUnits,
});

/**
 * A fill (or the filled part of a partial fill): one parcel. `id` is the parcel id, stable for the
 * fill (`<purchaseId>:<n>` for the n-th recorded fill of that purchase; `<purchaseId>` when whole).
 */
export const TaxAcquisitionFactV1 = OrderFact.extend({
  kind: z.literal('acquisition'),
  purchaseId: uuid,
  /** AUD spent on the bitcoin itself, excluding the fee. */
  costAudCents: wholeUnits,
  /** Brokerage charged on the fill. */
  feeAudCents: wholeUnits,
});
export type TaxAcquisitionFact = z.infer<typeof TaxAcquisitionFactV1>;

export const IDENTIFICATION_METHODS = ['FIFO', 'SPECIFIC', 'HIGHEST_COST_FIRST', 'LOWEST_COST_FIRST', 'LIFO', 'SAME_DAY_AVERAGE'] as const;

/** The parcel choice recorded with a disposal (see subgraphs/compliance/tax/README.md). */
export const IdentificationV1 = z.discriminatedUnion('method', [
  z.object({ method: z.literal('FIFO') }),
  z.object({ method: z.literal('SPECIFIC'), parcels: z.array(z.object({ parcelId: z.string().min(1), sats: positiveUnits })).min(1) }),
  z.object({ method: z.enum(['HIGHEST_COST_FIRST', 'LOWEST_COST_FIRST', 'LIFO']), chosenAt: isoTime }),
  z.object({ method: z.literal('SAME_DAY_AVERAGE'), acquiredOn: z.string().regex(/^\d{4}-\d{2}-\d{2}$/).optional() }),
]);
export type IdentificationFact = z.infer<typeof IdentificationV1>;

/** A sale settled on an exchange (CGT event A1): the sats sold and the gross AUD received. */
export const TaxDisposalFactV1 = OrderFact.extend({
  kind: z.literal('disposal'),
  /** The disposal id is the sale's id. */
  saleId: uuid,
  type: z.literal('SALE'),
  /** Gross AUD received, before the selling fee. */
  proceedsAudCents: wholeUnits,
  feeAudCents: wholeUnits,
  identification: IdentificationV1.optional(),
});
export type TaxDisposalFact = z.infer<typeof TaxDisposalFactV1>;

export const TaxFactV1 = z.discriminatedUnion('kind', [TaxAcquisitionFactV1, TaxDisposalFactV1]);
export type TaxFact = z.infer<typeof TaxFactV1>;

/**
 * A confirmed withdrawal to the tenant's own wallet (#13): not a disposal. Its parcels move from the
 * exchange's wallet to `toWallet` keeping their acquisition dates and cost; the network fee paid in
 * bitcoin is a FEE disposal at its market value, which the tax kernel derives from the transfer
 * (parcel-ledger.ts `transfer`), so it is not sent as a disposal of its own. `id` is the withdrawal id.
 */
export const TaxTransferFactV1 = z.object({
  version: z.literal(1),
  kind: z.literal('transfer'),
  tenantId: uuid,
  id: uuid,
  withdrawalId: uuid,
  exchange: z.string().min(1),
  at: isoTime,
  fromWallet: z.string().min(1).max(200),
  toWallet: z.string().min(1).max(200),
  /** Sats arriving in toWallet; fromWallet loses sats + networkFeeSats. */
  sats: positiveUnits,
  networkFeeSats: wholeUnits,
  /** The fee sats' market value at `at` (the FEE disposal's proceeds); 0 with `priceMissing` when no price was known. */
  networkFeeMarketValueAudCents: wholeUnits,
  priceMissing: z.boolean().optional(),
  txid: z.string().nullable(),
});
export type TaxTransferFact = z.infer<typeof TaxTransferFactV1>;
