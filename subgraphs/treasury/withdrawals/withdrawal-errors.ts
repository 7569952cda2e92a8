import { AppError, ErrorCode } from '../../../lib/errors';

/** Stable reasons (extensions.reason) the withdrawals kernel gives; clients branch on them. */
export const WithdrawalReason = {
  // addresses and extended keys
  MALFORMED: 'MALFORMED',
  BAD_CHECKSUM: 'BAD_CHECKSUM',
  WRONG_NETWORK: 'WRONG_NETWORK',
  UNSUPPORTED_TYPE: 'UNSUPPORTED_TYPE',
  PRIVATE_KEY_REFUSED: 'PRIVATE_KEY_REFUSED',
  INVALID_KEY: 'INVALID_KEY',
  SCRIPT_TYPE_MISMATCH: 'SCRIPT_TYPE_MISMATCH',
  INVALID_DERIVATION_INDEX: 'INVALID_DERIVATION_INDEX',
  // address book
  INVALID_DESTINATION: 'INVALID_DESTINATION',
  SELF_CONFIRMATION: 'SELF_CONFIRMATION',
  NOT_CONFIRMED: 'NOT_CONFIRMED',
  COOLING_OFF: 'COOLING_OFF',
  DESTINATION_DISABLED: 'DESTINATION_DISABLED',
  NOT_AN_XPUB_DESTINATION: 'NOT_AN_XPUB_DESTINATION',
  GAP_LIMIT_REACHED: 'GAP_LIMIT_REACHED',
  // approvals and the state machine
  INVALID_POLICY: 'INVALID_POLICY',
  INVALID_AMOUNT: 'INVALID_AMOUNT',
  INVALID_PRICE: 'INVALID_PRICE',
  SELF_APPROVAL: 'SELF_APPROVAL',
  DUPLICATE_APPROVAL: 'DUPLICATE_APPROVAL',
  ROLE_NOT_ALLOWED: 'ROLE_NOT_ALLOWED',
  MFA_REQUIRED: 'MFA_REQUIRED',
  INVALID_TRANSITION: 'INVALID_TRANSITION',
  REASON_REQUIRED: 'REASON_REQUIRED',
  // auto-withdraw
  INVALID_AUTO_WITHDRAW_RULE: 'INVALID_AUTO_WITHDRAW_RULE',
  INVALID_FEE: 'INVALID_FEE',
  // travel rule and ownership proofs
  INVALID_TRAVEL_RULE: 'INVALID_TRAVEL_RULE',
  INVALID_SIGNATURE: 'INVALID_SIGNATURE',
  UNSUPPORTED_SIGNATURE: 'UNSUPPORTED_SIGNATURE',
  // exchange references and reconciliation
  INVALID_WITHDRAWAL_ID: 'INVALID_WITHDRAWAL_ID',
  INVALID_EXCHANGE_RECORD: 'INVALID_EXCHANGE_RECORD',
  // caller bugs (the service passed something no user could have typed)
  INVALID_MEMBER: 'INVALID_MEMBER',
  INVALID_CLOCK: 'INVALID_CLOCK',
} as const;
export type WithdrawalReason = (typeof WithdrawalReason)[keyof typeof WithdrawalReason];

/** The GraphQL code each reason travels under. */
const CODE: Record<WithdrawalReason, ErrorCode> = {
  MALFORMED: ErrorCode.BAD_USER_INPUT,
  BAD_CHECKSUM: ErrorCode.BAD_USER_INPUT,
  WRONG_NETWORK: ErrorCode.BAD_USER_INPUT,
  UNSUPPORTED_TYPE: ErrorCode.BAD_USER_INPUT,
  PRIVATE_KEY_REFUSED: ErrorCode.BAD_USER_INPUT,
  INVALID_KEY: ErrorCode.BAD_USER_INPUT,
  SCRIPT_TYPE_MISMATCH: ErrorCode.BAD_USER_INPUT,
  INVALID_DERIVATION_INDEX: ErrorCode.BAD_USER_INPUT,
  INVALID_DESTINATION: ErrorCode.BAD_USER_INPUT,
  SELF_CONFIRMATION: ErrorCode.FORBIDDEN,
  NOT_CONFIRMED: ErrorCode.CONFLICT,
  COOLING_OFF: ErrorCode.CONFLICT,
  DESTINATION_DISABLED: ErrorCode.CONFLICT,
  NOT_AN_XPUB_DESTINATION: ErrorCode.BAD_USER_INPUT,
  GAP_LIMIT_REACHED: ErrorCode.CONFLICT,
  INVALID_POLICY: ErrorCode.BAD_USER_INPUT,
  INVALID_AMOUNT: ErrorCode.BAD_USER_INPUT,
  INVALID_PRICE: ErrorCode.BAD_USER_INPUT,
  SELF_APPROVAL: ErrorCode.FORBIDDEN,
  DUPLICATE_APPROVAL: ErrorCode.CONFLICT,
  ROLE_NOT_ALLOWED: ErrorCode.FORBIDDEN,
  MFA_REQUIRED: ErrorCode.MFA_REQUIRED,
  INVALID_TRANSITION: ErrorCode.CONFLICT,
  REASON_REQUIRED: ErrorCode.BAD_USER_INPUT,
  INVALID_AUTO_WITHDRAW_RULE: ErrorCode.BAD_USER_INPUT,
  INVALID_FEE: ErrorCode.BAD_USER_INPUT,
  INVALID_TRAVEL_RULE: ErrorCode.BAD_USER_INPUT,
  INVALID_SIGNATURE: ErrorCode.BAD_USER_INPUT,
  UNSUPPORTED_SIGNATURE: ErrorCode.BAD_USER_INPUT,
  INVALID_WITHDRAWAL_ID: ErrorCode.BAD_USER_INPUT,
  // An exchange that answers nonsense is our problem, not the user's: masked and logged.
  INVALID_EXCHANGE_RECORD: ErrorCode.INTERNAL_SERVER_ERROR,
  INVALID_MEMBER: ErrorCode.INTERNAL_SERVER_ERROR,
  INVALID_CLOCK: ErrorCode.INTERNAL_SERVER_ERROR,
};

/** Details are JSON-safe (amounts as decimal strings, instants ISO) so they survive GraphQL's extensions. */
export type WithdrawalErrorDetails = Record<string, string | number | boolean | null | readonly string[]>;

export function withdrawalError(reason: WithdrawalReason, message: string, details: WithdrawalErrorDetails = {}): AppError {
  return new AppError(CODE[reason], message, { reason, ...details });
}

/** The reason of an error raised by this kernel, or undefined for anything else. */
export function withdrawalReasonOf(err: unknown): WithdrawalReason | undefined {
  if (!(err instanceof AppError)) return undefined;
  const r = err.extensions.reason;
  return typeof r === 'string' && r in CODE ? (r as WithdrawalReason) : undefined;
}
