import { AppError, ErrorCode } from '../../../lib/errors';

/** Stable reasons (extensions.reason) the tax kernel gives, grouped by the GraphQL code they travel with. */
export const TaxErrorReason = {
  // BAD_USER_INPUT
  NEGATIVE_SATS: 'NEGATIVE_SATS',
  ZERO_SATS: 'ZERO_SATS',
  FRACTIONAL_SATS: 'FRACTIONAL_SATS',
  NEGATIVE_AMOUNT: 'NEGATIVE_AMOUNT',
  FRACTIONAL_CENTS: 'FRACTIONAL_CENTS',
  INVALID_AMOUNT: 'INVALID_AMOUNT',
  INSUFFICIENT_HOLDINGS: 'INSUFFICIENT_HOLDINGS',
  SPECIFIC_SATS_MISMATCH: 'SPECIFIC_SATS_MISMATCH',
  DUPLICATE_PARCEL_IN_CHOICE: 'DUPLICATE_PARCEL_IN_CHOICE',
  STRATEGY_CHOSEN_AFTER_SALE: 'STRATEGY_CHOSEN_AFTER_SALE',
  NO_SAME_DAY_PARCELS: 'NO_SAME_DAY_PARCELS',
  FEE_EXCEEDS_PROCEEDS: 'FEE_EXCEEDS_PROCEEDS',
  GST_EXCEEDS_FEE: 'GST_EXCEEDS_FEE',
  GST_AMBIGUOUS: 'GST_AMBIGUOUS',
  ITC_NOT_REGISTERED: 'ITC_NOT_REGISTERED',
  SAME_WALLET_TRANSFER: 'SAME_WALLET_TRANSFER',
  REASON_REQUIRED: 'REASON_REQUIRED',
  INVALID_TIME: 'INVALID_TIME',
  INVALID_DATE: 'INVALID_DATE',
  INVALID_TIME_ZONE: 'INVALID_TIME_ZONE',
  INVALID_FINANCIAL_YEAR: 'INVALID_FINANCIAL_YEAR',
  INVALID_PROFILE: 'INVALID_PROFILE',
  INVALID_EVENT: 'INVALID_EVENT',
  INVALID_IDENTIFICATION: 'INVALID_IDENTIFICATION',
  INVALID_ID: 'INVALID_ID',
  CSV_INVALID: 'CSV_INVALID',
  // NOT_FOUND
  UNKNOWN_PARCEL: 'UNKNOWN_PARCEL',
  UNKNOWN_DISPOSAL: 'UNKNOWN_DISPOSAL',
  // CONFLICT
  YEAR_CLOSED: 'YEAR_CLOSED',
  DUPLICATE_ID: 'DUPLICATE_ID',
} as const;
export type TaxErrorReason = (typeof TaxErrorReason)[keyof typeof TaxErrorReason];

/** Details are JSON-safe (amounts as decimal strings) so they survive GraphQL's extensions. */
export type TaxErrorDetails = Record<string, string | number | boolean | null | TaxErrorDetails[] | Record<string, unknown>>;

export function taxError(
  code: typeof ErrorCode.BAD_USER_INPUT | typeof ErrorCode.NOT_FOUND | typeof ErrorCode.CONFLICT,
  reason: TaxErrorReason,
  message: string,
  details: TaxErrorDetails = {},
): AppError {
  return new AppError(code, message, { reason, ...details });
}

export const badTaxInput = (reason: TaxErrorReason, message: string, details: TaxErrorDetails = {}): AppError =>
  taxError(ErrorCode.BAD_USER_INPUT, reason, message, details);

/** The reason of an AppError raised by this kernel, for callers that branch on it. */
export function taxErrorReason(err: unknown): TaxErrorReason | undefined {
  if (!(err instanceof AppError)) return undefined;
  const r = err.extensions.reason;
  return typeof r === 'string' && r in TaxErrorReason ? (r as TaxErrorReason) : undefined;
}
