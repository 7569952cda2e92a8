import type { Response } from 'express';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { maskError } from '../../lib/errors';

/** Stable codes for everything the edge refuses. Clients may branch on them. */
export const EdgeCode = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  BAD_REQUEST: 'BAD_REQUEST',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  BATCH_TOO_LARGE: 'BATCH_TOO_LARGE',
  RATE_LIMITED: 'RATE_LIMITED',
  PERSISTED_QUERY_NOT_IN_LIST: 'PERSISTED_QUERY_NOT_IN_LIST',
  PERSISTED_QUERY_HASH_MISMATCH: 'PERSISTED_QUERY_HASH_MISMATCH',
  MAX_DEPTH_EXCEEDED: 'MAX_DEPTH_EXCEEDED',
  MAX_ALIASES_EXCEEDED: 'MAX_ALIASES_EXCEEDED',
  MAX_COST_EXCEEDED: 'MAX_COST_EXCEEDED',
  MAX_DIRECTIVES_EXCEEDED: 'MAX_DIRECTIVES_EXCEEDED',
  MAX_TOKENS_EXCEEDED: 'MAX_TOKENS_EXCEEDED',
} as const;
export type EdgeCode = (typeof EdgeCode)[keyof typeof EdgeCode];
const EDGE_CODES = new Set<string>(Object.values(EdgeCode));

/** A refusal by the edge: stable code, HTTP status, safe message (never a secret). */
export class EdgeError extends GraphQLError {
  constructor(
    readonly code: EdgeCode,
    message: string,
    readonly status: number,
    details: Record<string, unknown> = {},
  ) {
    super(message, { extensions: { code, ...details, http: { status } } });
    this.name = 'EdgeError';
  }
}

/** The edge's refusal inside `error`, also when Apollo wrapped it (a validation rule's error becomes GRAPHQL_VALIDATION_FAILED). */
function edgeErrorIn(error: unknown): EdgeError | undefined {
  if (error instanceof EdgeError) return error;
  if (error instanceof GraphQLError && error.originalError instanceof EdgeError) return error.originalError;
  return undefined;
}

/**
 * Apollo formatError for the gateway: the edge's own refusals keep their code (and the original
 * message, without graphql-armor's "Syntax Error: " prefix); everything else goes to the shared
 * masking (lib/errors), which passes known codes and hides the rest.
 */
export function formatGatewayError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const edge = edgeErrorIn(error);
  if (edge) {
    const { http: _h, stacktrace: _s, ...extensions } = edge.extensions;
    return { message: edge.message, extensions: { ...extensions, code: edge.code } };
  }
  const code = formatted.extensions?.code;
  if (typeof code === 'string' && EDGE_CODES.has(code)) {
    const { stacktrace: _s, http: _h, ...extensions } = formatted.extensions ?? {};
    return { message: formatted.message, extensions };
  }
  return maskError(formatted, error);
}

/** Answers an HTTP request with a GraphQL-shaped error body, before Apollo sees it. */
export function sendEdgeError(res: Response, err: EdgeError): void {
  if (res.headersSent) return;
  const { http: _h, ...extensions } = err.extensions;
  res.status(err.status).json({ errors: [{ message: err.message, extensions: { ...extensions, code: err.code } }] });
}
