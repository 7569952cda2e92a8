import { assertCents } from './tax-amounts';
import { TaxErrorReason, badTaxInput } from './tax-errors';
import type { FeeGst } from './tax.types';

export type FeeGstResult = {
  gstAudCents: bigint;
  gstStatus: 'RECORDED' | 'DERIVED' | 'NONE';
  itcClaimed: boolean;
  /** GST the tenant gets back as an input tax credit: taken out of the cost base or selling costs (s 103-30). */
  itcAudCents: bigint;
};

/** GST in a GST-inclusive amount: 1/11, rounded to the nearest cent, half up (GST Act s 9-90). */
export function gstInInclusive(amountAudCents: bigint): bigint {
  return (2n * amountAudCents + 11n) / 22n;
}

export function feeGstOf(feeAudCents: bigint, gst: FeeGst, gstRegistered: boolean, field: string): FeeGstResult {
  if (gst.feeGstAudCents !== undefined && gst.feeGstInclusive) {
    throw badTaxInput(TaxErrorReason.GST_AMBIGUOUS, `${field}: give the GST component or mark the fee GST-inclusive, not both`, { field });
  }
  let gstAudCents = 0n;
  let gstStatus: FeeGstResult['gstStatus'] = 'NONE';
  if (gst.feeGstAudCents !== undefined) {
    gstAudCents = assertCents(gst.feeGstAudCents, `${field}.feeGstAudCents`);
    if (gstAudCents > feeAudCents) {
      throw badTaxInput(TaxErrorReason.GST_EXCEEDS_FEE, `${field}: the GST component exceeds the fee`, { field });
    }
    gstStatus = 'RECORDED';
  } else if (gst.feeGstInclusive) {
    gstAudCents = gstInInclusive(feeAudCents);
    gstStatus = 'DERIVED';
  }
  if (gst.feeItcClaimed && !gstRegistered) {
    throw badTaxInput(TaxErrorReason.ITC_NOT_REGISTERED, `${field}: only a GST-registered tenant can claim an input tax credit`, { field });
  }
  const itcClaimed = gstAudCents > 0n && (gst.feeItcClaimed ?? gstRegistered);
  return { gstAudCents, gstStatus, itcClaimed, itcAudCents: itcClaimed ? gstAudCents : 0n };
}
