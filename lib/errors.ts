import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { log } from './logger';

/** Stable error codes clients may branch on. */
export const ErrorCode = {
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  INVALID_EMAIL: 'INVALID_EMAIL',
  WEAK_PASSWORD: 'WEAK_PASSWORD',
  EMAIL_TAKEN: 'EMAIL_TAKEN',
  INVALID_CREDENTIALS: 'INVALID_CREDENTIALS',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
  MFA_REQUIRED: 'MFA_REQUIRED',
  ACCOUNT_LOCKED: 'ACCOUNT_LOCKED',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const HTTP_STATUS: Partial<Record<ErrorCode, number>> = {
  UNAUTHENTICATED: 401,
};

/** An error that is safe to show: stable code, human message, no secrets. */
export class AppError extends GraphQLError {
  constructor(
    readonly code: ErrorCode,
    message: string,
    details: Record<string, unknown> = {},
  ) {
    const status = HTTP_STATUS[code];
    super(message, { extensions: { code, ...details, ...(status ? { http: { status } } : {}) } });
    this.name = 'AppError';
  }
}

export const notFound = (what: string): AppError => new AppError(ErrorCode.NOT_FOUND, `${what} not found`);
export const badInput = (message: string, field?: string): AppError =>
  new AppError(ErrorCode.BAD_USER_INPUT, message, field ? { field } : {});

/** Codes produced by GraphQL itself (parse/validate) that are safe to pass through. */
const GRAPHQL_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
  'BAD_REQUEST',
  'UNAUTHENTICATED',
  'FORBIDDEN',
]);
const APP_CODES = new Set<string>(Object.values(ErrorCode));

/** Extensions Apollo adds that a client must not see (stack, wrapped exception, HTTP hints). */
const INTERNAL_EXTENSIONS = new Set(['stacktrace', 'exception', 'http']);

/**
 * Apollo formatError: keeps coded errors, masks everything else (stack traces, SQL, driver
 * messages) behind INTERNAL_SERVER_ERROR, and logs the original for operators.
 */
export function maskError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const code = typeof formatted.extensions?.code === 'string' ? formatted.extensions.code : undefined;
  const original = error instanceof GraphQLError ? (error.originalError ?? error) : error;
  if (code !== undefined && code !== ErrorCode.INTERNAL_SERVER_ERROR && (APP_CODES.has(code) || GRAPHQL_CODES.has(code))) {
    const extensions = Object.fromEntries(
      Object.entries(formatted.extensions ?? {}).filter(([key]) => !INTERNAL_EXTENSIONS.has(key)),
    );
    return { message: formatted.message, locations: formatted.locations, path: formatted.path, extensions };
  }
  log().error({ err: original, path: formatted.path }, 'unhandled error in resolver');
  return {
    message: 'Internal server error',
    path: formatted.path,
    extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
  };
}
