import { AppError, ErrorCode } from '../../../lib/errors';

/** Stable reasons the AML kernel refuses with; clients branch on `extensions.reason`. */
export const AmlReason = {
  INVALID_ABN: 'INVALID_ABN',
  INVALID_ACN: 'INVALID_ACN',
  ACN_MISMATCH: 'ACN_MISMATCH',
  UNKNOWN_ABN: 'UNKNOWN_ABN',
  CANCELLED_ABN: 'CANCELLED_ABN',
  REGISTER_UNAVAILABLE: 'REGISTER_UNAVAILABLE',
  INVALID_GUID: 'INVALID_GUID',
  INVALID_ENTITY: 'INVALID_ENTITY',
  DIRECTOR_REQUIRED: 'DIRECTOR_REQUIRED',
  OWNERSHIP_OUT_OF_RANGE: 'OWNERSHIP_OUT_OF_RANGE',
  OWNERSHIP_EXCEEDS_100: 'OWNERSHIP_EXCEEDS_100',
  BENEFICIAL_OWNER_UNIDENTIFIED: 'BENEFICIAL_OWNER_UNIDENTIFIED',
  NO_BENEFICIAL_OWNER: 'NO_BENEFICIAL_OWNER',
  DUPLICATE_PERSON: 'DUPLICATE_PERSON',
  INVALID_TRANSITION: 'INVALID_TRANSITION',
  EVIDENCE_REQUIRED: 'EVIDENCE_REQUIRED',
  DECIDER_REQUIRED: 'DECIDER_REQUIRED',
  KYB_NOT_VERIFIED: 'KYB_NOT_VERIFIED',
  INVALID_MONITORING_CONFIG: 'INVALID_MONITORING_CONFIG',
  INVALID_OPERATION: 'INVALID_OPERATION',
  INVALID_ADDRESS: 'INVALID_ADDRESS',
  INVALID_SCREENING_LIST: 'INVALID_SCREENING_LIST',
  INVALID_DATE: 'INVALID_DATE',
  INVALID_RECORD: 'INVALID_RECORD',
  INVALID_ANCHOR: 'INVALID_ANCHOR',
  INVALID_CASE: 'INVALID_CASE',
} as const;
export type AmlReason = (typeof AmlReason)[keyof typeof AmlReason];

/**
 * The GraphQL code each reason travels under. The register's outage and our own GUID
 * misconfiguration are server-side (masked and logged by maskError; the GUID never appears).
 */
const CODE: Record<AmlReason, ErrorCode> = {
  INVALID_ABN: ErrorCode.BAD_USER_INPUT,
  INVALID_ACN: ErrorCode.BAD_USER_INPUT,
  ACN_MISMATCH: ErrorCode.BAD_USER_INPUT,
  UNKNOWN_ABN: ErrorCode.BAD_USER_INPUT,
  CANCELLED_ABN: ErrorCode.BAD_USER_INPUT,
  REGISTER_UNAVAILABLE: ErrorCode.INTERNAL_SERVER_ERROR,
  INVALID_GUID: ErrorCode.INTERNAL_SERVER_ERROR,
  INVALID_ENTITY: ErrorCode.BAD_USER_INPUT,
  DIRECTOR_REQUIRED: ErrorCode.BAD_USER_INPUT,
  OWNERSHIP_OUT_OF_RANGE: ErrorCode.BAD_USER_INPUT,
  OWNERSHIP_EXCEEDS_100: ErrorCode.BAD_USER_INPUT,
  BENEFICIAL_OWNER_UNIDENTIFIED: ErrorCode.BAD_USER_INPUT,
  NO_BENEFICIAL_OWNER: ErrorCode.BAD_USER_INPUT,
  DUPLICATE_PERSON: ErrorCode.BAD_USER_INPUT,
  INVALID_TRANSITION: ErrorCode.CONFLICT,
  EVIDENCE_REQUIRED: ErrorCode.BAD_USER_INPUT,
  DECIDER_REQUIRED: ErrorCode.BAD_USER_INPUT,
  KYB_NOT_VERIFIED: ErrorCode.FORBIDDEN,
  INVALID_MONITORING_CONFIG: ErrorCode.BAD_USER_INPUT,
  INVALID_OPERATION: ErrorCode.BAD_USER_INPUT,
  INVALID_ADDRESS: ErrorCode.BAD_USER_INPUT,
  INVALID_SCREENING_LIST: ErrorCode.BAD_USER_INPUT,
  INVALID_DATE: ErrorCode.BAD_USER_INPUT,
  INVALID_RECORD: ErrorCode.BAD_USER_INPUT,
  INVALID_ANCHOR: ErrorCode.BAD_USER_INPUT,
  INVALID_CASE: ErrorCode.CONFLICT,
};

export function amlError(reason: AmlReason, message: string, details: Record<string, unknown> = {}): AppError {
  return new AppError(CODE[reason], message, { reason, ...details });
}

/** The reason of an error raised by this kernel, or undefined for anything else. */
export function amlReasonOf(err: unknown): AmlReason | undefined {
  if (!(err instanceof AppError)) return undefined;
  const r = err.extensions.reason;
  return typeof r === 'string' && r in CODE ? (r as AmlReason) : undefined;
}
