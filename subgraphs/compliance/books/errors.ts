import { AppError, ErrorCode } from '../../../lib/errors';

/** Stable reasons the books adapters refuse or fail with; callers branch on `extensions.reason`. */
export const BooksReason = {
  // Building a journal (BAD_USER_INPUT): nothing is sent.
  INVALID_AMOUNT: 'INVALID_AMOUNT',
  INVALID_SOURCE_ID: 'INVALID_SOURCE_ID',
  INVALID_MAPPING: 'INVALID_MAPPING',
  GST_ACCOUNT_REQUIRED: 'GST_ACCOUNT_REQUIRED',
  GST_EXCEEDS_FEE: 'GST_EXCEEDS_FEE',
  FEE_EXCEEDS_PROCEEDS: 'FEE_EXCEEDS_PROCEEDS',
  GAIN_MISMATCH: 'GAIN_MISMATCH',
  UNBALANCED_JOURNAL: 'UNBALANCED_JOURNAL',
  // OAuth (the tenant must act).
  OAUTH_STATE_MISMATCH: 'OAUTH_STATE_MISMATCH',
  OAUTH_DENIED: 'OAUTH_DENIED',
  RECONNECT_REQUIRED: 'RECONNECT_REQUIRED',
  NOT_CONNECTED: 'NOT_CONNECTED',
  // Posting.
  PROVIDER_VALIDATION: 'PROVIDER_VALIDATION',
  PROVIDER_FORBIDDEN: 'PROVIDER_FORBIDDEN',
  RATE_LIMITED: 'RATE_LIMITED',
  PROVIDER_UNAVAILABLE: 'PROVIDER_UNAVAILABLE',
  DAILY_LIMIT_REACHED: 'DAILY_LIMIT_REACHED',
} as const;
export type BooksReason = (typeof BooksReason)[keyof typeof BooksReason];

const CODE: Record<BooksReason, ErrorCode> = {
  INVALID_AMOUNT: ErrorCode.BAD_USER_INPUT,
  INVALID_SOURCE_ID: ErrorCode.BAD_USER_INPUT,
  INVALID_MAPPING: ErrorCode.BAD_USER_INPUT,
  GST_ACCOUNT_REQUIRED: ErrorCode.BAD_USER_INPUT,
  GST_EXCEEDS_FEE: ErrorCode.BAD_USER_INPUT,
  FEE_EXCEEDS_PROCEEDS: ErrorCode.BAD_USER_INPUT,
  GAIN_MISMATCH: ErrorCode.BAD_USER_INPUT,
  UNBALANCED_JOURNAL: ErrorCode.BAD_USER_INPUT,
  OAUTH_STATE_MISMATCH: ErrorCode.BAD_USER_INPUT,
  OAUTH_DENIED: ErrorCode.BAD_USER_INPUT,
  RECONNECT_REQUIRED: ErrorCode.CONFLICT,
  NOT_CONNECTED: ErrorCode.NOT_FOUND,
  PROVIDER_VALIDATION: ErrorCode.BAD_USER_INPUT,
  PROVIDER_FORBIDDEN: ErrorCode.FORBIDDEN,
  // Transient provider trouble is server-side: masked for clients, retried by the job.
  RATE_LIMITED: ErrorCode.INTERNAL_SERVER_ERROR,
  PROVIDER_UNAVAILABLE: ErrorCode.INTERNAL_SERVER_ERROR,
  DAILY_LIMIT_REACHED: ErrorCode.INTERNAL_SERVER_ERROR,
};

/** Reasons a later attempt (the queue job's own retry) can cure without anyone acting. */
const RETRYABLE = new Set<BooksReason>([BooksReason.RATE_LIMITED, BooksReason.PROVIDER_UNAVAILABLE, BooksReason.DAILY_LIMIT_REACHED]);

/** Details are JSON-safe so they survive GraphQL extensions and job payloads; never a token or secret. */
export type BooksErrorDetails = Record<string, string | number | boolean | null | string[]>;

export function booksError(reason: BooksReason, message: string, details: BooksErrorDetails = {}): AppError {
  return new AppError(CODE[reason], message, { reason, retryable: RETRYABLE.has(reason), ...details });
}

export function booksReasonOf(err: unknown): BooksReason | undefined {
  if (!(err instanceof AppError)) return undefined;
  const r = err.extensions.reason;
  return typeof r === 'string' && r in CODE ? (r as BooksReason) : undefined;
}

/** True for failures the `accounting` job should try again later (rate limits, outages, the day's quota). */
export function isRetryableBooksError(err: unknown): boolean {
  const reason = booksReasonOf(err);
  return reason !== undefined && RETRYABLE.has(reason);
}
