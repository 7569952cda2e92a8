import { z } from 'zod';

/**
 * Durable facts treasury sends compliance's tax ledger, as jobs on the `tax` queue written through
 * the tenant's outbox in the same transaction as the change they describe (so a fact exists if and
 * only if the fill or the sale's settlement committed). The job id is the fact id: a replay or a
 * second relay pass is the same job, and compliance inserts each fact once (`on conflict do nothing`).
 *
 * Amounts travel as decimal strings of integer cents and satoshis; times as ISO 8601 UTC.
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const uuid = z.string().regex(UUID, 'not a uuid');
const isoTime = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'not an ISO timestamp');
/** A non-negative integer as a decimal string (cents or sats). */
const wholeUnits = z.string().regex(/^(0|[1-9][0-9]*)$/, 'not a non-negative integer');
/** A positive integer as a decimal string. */
const positiveUnits = z.string().regex(/^[1-9][0-9]*$/, 'not a positive integer');

export const TAX_QUEUE = 'tax' as const;
export const TAX_ACQUISITION_JOB = 'tax.acquisition' as const;
export const TAX_DISPOSAL_JOB = 'tax.disposal' as const;

/**
 * A fill (or the filled part of a partial fill): one parcel. `id` is the parcel id, stable for the
 * fill (`<purchaseId>:<n>` for the n-th recorded fill of that purchase; `<purchaseId>` when whole).
 */
export const TaxAcquisitionFactV1 = z.object({
  kind: z.literal('acquisition'),
  version: z.literal(1),
  tenantId: uuid,
  id: z.string().min(1).max(200),
  purchaseId: uuid,
  exchange: z.string().min(1),
  exchangeOrderId: z.string().nullable(),
  at: isoTime,
  sats: positiveUnits,
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
export const TaxDisposalFactV1 = z.object({
  kind: z.literal('disposal'),
  version: z.literal(1),
  tenantId: uuid,
  /** The disposal id (the sale's id). */
  id: z.string().min(1).max(200),
  saleId: uuid,
  type: z.literal('SALE'),
  exchange: z.string().min(1),
  exchangeOrderId: z.string().nullable(),
  at: isoTime,
  sats: positiveUnits,
  /** Gross AUD received, before the selling fee. */
  proceedsAudCents: wholeUnits,
  feeAudCents: wholeUnits,
  identification: IdentificationV1.optional(),
});
export type TaxDisposalFact = z.infer<typeof TaxDisposalFactV1>;

export const TaxFactV1 = z.discriminatedUnion('kind', [TaxAcquisitionFactV1, TaxDisposalFactV1]);
export type TaxFact = z.infer<typeof TaxFactV1>;
