import { AppError } from '../../../lib/errors';
import { parseTimeWithOffset } from './history-csv';
import type { Acquisition, Disposal, TaxProfile, Transfer } from './tax.types';

/** Builders for the kernel's specs: times are written with their offset, as a person would read them. */

export const t = (iso: string): Date => parseTimeWithOffset(iso);

export const buy = (id: string, iso: string, sats: bigint, costAudCents: bigint, feeAudCents = 0n, extra: Partial<Acquisition> = {}): Acquisition => ({
  id,
  source: 'PURCHASE_FILL',
  at: t(iso),
  sats,
  costAudCents,
  feeAudCents,
  exchange: 'kraken',
  ...extra,
});

export const sell = (id: string, iso: string, sats: bigint, proceedsAudCents: bigint, feeAudCents = 0n, extra: Partial<Disposal> = {}): Disposal => ({
  id,
  type: 'SALE',
  source: 'PLATFORM',
  at: t(iso),
  sats,
  proceedsAudCents,
  feeAudCents,
  ...extra,
});

export const move = (id: string, iso: string, fromWallet: string, toWallet: string, sats: bigint, networkFeeSats = 0n, feeValue = 0n, extra: Partial<Transfer> = {}): Transfer => ({
  id,
  at: t(iso),
  fromWallet,
  toWallet,
  sats,
  networkFeeSats,
  networkFeeMarketValueAudCents: feeValue,
  ...extra,
});

export const individual: TaxProfile = { entityType: 'INDIVIDUAL', gstRegistered: false };
export const company: TaxProfile = { entityType: 'COMPANY', gstRegistered: true };
export const smsf: TaxProfile = { entityType: 'SMSF', gstRegistered: false };

/** Runs fn and returns the typed error it must throw. */
export function typedError(fn: () => unknown): { code: string; reason: string; extensions: Record<string, unknown>; message: string } {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof AppError)) throw e;
    return { code: String(e.extensions.code), reason: String(e.extensions.reason), extensions: e.extensions, message: e.message };
  }
  throw new Error('expected a typed error, but nothing was thrown');
}
