import type { CombinedError } from '@urql/core';

/** An API error as a person reads it: a title by `extensions.code`, detail where the API's own message is meant for people. */
export type ReadableError = { code: string; title: string; detail?: string; field?: string };

type Extensions = { code?: unknown; field?: unknown; retryAfterSeconds?: unknown; reason?: unknown };

/** Codes whose messages the API writes for end users (they name the field and the rule). */
const USER_MESSAGES = new Set(['BAD_USER_INPUT', 'CONFLICT', 'WEAK_PASSWORD', 'INVALID_EMAIL']);

const TITLES: Record<string, string> = {
  BAD_USER_INPUT: 'Please check what you entered',
  INVALID_EMAIL: 'That email address does not look right',
  WEAK_PASSWORD: 'Choose a stronger password',
  EMAIL_TAKEN: 'An account with this email already exists — log in instead',
  INVALID_CREDENTIALS: 'The email, password or code is not right',
  UNAUTHENTICATED: 'Your session has ended — please log in again',
  FORBIDDEN: 'Your role does not allow this — ask an owner or admin',
  NOT_FOUND: 'We could not find that — it may have been removed',
  CONFLICT: 'This changed or already exists',
  MFA_REQUIRED: 'This needs a session verified with your authenticator app — log out and log in again with your code',
  ACCOUNT_LOCKED: 'Too many failed attempts — the account is locked for a while; try again later',
  RATE_LIMITED: 'Too many requests — please wait a moment',
  PERSISTED_QUERY_NOT_FOUND: 'This version of the dashboard is out of date — reload the page',
  PERSISTED_QUERY_NOT_IN_LIST: 'This version of the dashboard is out of date — reload the page',
  GRAPHQL_VALIDATION_FAILED: 'This version of the dashboard is out of date — reload the page',
  PAYLOAD_TOO_LARGE: 'That is too much to send at once',
  INTERNAL_SERVER_ERROR: 'Something went wrong on our side — please try again',
  NETWORK: 'Cannot reach Liquid ABT — check your connection',
};

export function readableCode(code: string, extensions: Extensions = {}, message?: string): ReadableError {
  const title =
    code === 'RATE_LIMITED' && typeof extensions.retryAfterSeconds === 'number'
      ? `Too many requests — try again in ${extensions.retryAfterSeconds} s`
      : (TITLES[code] ?? 'Something went wrong — please try again');
  const detail = USER_MESSAGES.has(code) && message ? sentence(message) : undefined;
  const field = typeof extensions.field === 'string' ? extensions.field : undefined;
  return { code, title, detail, field };
}

const sentence = (m: string): string => m.charAt(0).toUpperCase() + m.slice(1) + (/[.!?]$/.test(m) ? '' : '.');

/** The first error of an urql result, readable. */
export function readable(error: CombinedError): ReadableError {
  const first = error.graphQLErrors[0];
  if (first) {
    const ext = (first.extensions ?? {}) as Extensions;
    return readableCode(typeof ext.code === 'string' ? ext.code : 'INTERNAL_SERVER_ERROR', ext, first.message);
  }
  return readableCode('NETWORK');
}

export const errorCode = (error: CombinedError | undefined): string | undefined =>
  error ? (((error.graphQLErrors[0]?.extensions ?? {}) as Extensions).code as string | undefined) ?? (error.networkError ? 'NETWORK' : undefined) : undefined;
