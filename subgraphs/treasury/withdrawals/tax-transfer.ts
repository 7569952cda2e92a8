import { MAX_SATS } from './approvals';
import { assertNow } from './member';
import { isOwnWalletTransfer, type TravelRuleRecord } from './travel-rule';
import { WithdrawalReason, withdrawalError } from './withdrawal-errors';

/**
 * What a confirmed withdrawal means for tax. To the tenant's own wallet it is not a disposal: its
 * parcels move (keeping acquisition dates and cost); the network fee paid in bitcoin is a disposal.
 * The shape is compliance/tax's `Transfer` (tax.types.ts), handed over by event, not by import.
 */

export type TaxTransfer = {
  id: string;
  at: Date;
  fromWallet: string;
  toWallet: string;
  /** Sats arriving in toWallet; fromWallet loses sats + networkFeeSats. */
  sats: bigint;
  networkFeeSats: bigint;
  /** Market value of the fee sats at `at`: the FEE disposal's proceeds. */
  networkFeeMarketValueAudCents: bigint;
};

export type TaxTreatment =
  | { kind: 'OWN_WALLET_TRANSFER'; transfer: TaxTransfer }
  /** Someone else's wallet (or ownership unproven): a disposal for the tax kernel to decide with the tenant. */
  | { kind: 'NOT_OWN_WALLET'; reason: string };

export type ConfirmedWithdrawal = {
  withdrawalId: string;
  confirmedAt: Date;
  /** The exchange the bitcoin left: the tax kernel's wallet for parcels bought there. */
  exchange: string;
  destinationId: string;
  receivedSats: bigint;
  feeSats: bigint;
  feeMarketValueAudCents: bigint;
};

/** The wallet name parcels move to: stable per destination, so later withdrawals find them. */
export const destinationWallet = (destinationId: string): string => `destination:${destinationId}`;

export function taxTreatmentOf(record: TravelRuleRecord, w: ConfirmedWithdrawal): TaxTreatment {
  assertNow(w.confirmedAt);
  const sats = (v: unknown, field: string, min: bigint) => {
    if (typeof v !== 'bigint' || v < min || v > MAX_SATS) throw withdrawalError(WithdrawalReason.INVALID_AMOUNT, `${field} must be a bigint of at least ${min}`, { field });
  };
  sats(w.receivedSats, 'receivedSats', 1n);
  sats(w.feeSats, 'feeSats', 0n);
  if (typeof w.feeMarketValueAudCents !== 'bigint' || w.feeMarketValueAudCents < 0n) {
    throw withdrawalError(WithdrawalReason.INVALID_AMOUNT, 'feeMarketValueAudCents must be a non-negative bigint', { field: 'feeMarketValueAudCents' });
  }
  if (record.withdrawalId !== w.withdrawalId) throw withdrawalError(WithdrawalReason.INVALID_TRAVEL_RULE, 'the travel-rule record belongs to another withdrawal', { field: 'withdrawalId' });
  const own = record.wallet.kind === 'VASP' ? record.beneficiary.isOriginator : isOwnWalletTransfer(record);
  if (!own) {
    return { kind: 'NOT_OWN_WALLET', reason: record.beneficiary.isOriginator ? 'ownership of the self-hosted wallet is not proven' : 'the beneficiary is not the tenant' };
  }
  return {
    kind: 'OWN_WALLET_TRANSFER',
    transfer: {
      id: w.withdrawalId,
      at: w.confirmedAt,
      fromWallet: w.exchange,
      toWallet: destinationWallet(w.destinationId),
      sats: w.receivedSats,
      networkFeeSats: w.feeSats,
      networkFeeMarketValueAudCents: w.feeMarketValueAudCents,
    },
  };
}
