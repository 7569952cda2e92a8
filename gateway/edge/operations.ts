import type { Request } from 'express';

/** One GraphQL operation as it arrived (POST body, one element of a batch, or GET parameters). */
export type WireOperation = { query?: string; operationName?: string; sha256Hash?: string; persistedQueryVersion?: unknown };

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function parseJsonParam(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v) as unknown;
  } catch {
    return undefined;
  }
}

function fromObject(o: unknown): WireOperation {
  if (!o || typeof o !== 'object') return {};
  const r = o as Record<string, unknown>;
  const ext = parseJsonParam(r.extensions) as { persistedQuery?: { sha256Hash?: unknown; version?: unknown } } | undefined;
  return {
    query: str(r.query),
    operationName: str(r.operationName),
    sha256Hash: str(ext?.persistedQuery?.sha256Hash),
    persistedQueryVersion: ext?.persistedQuery?.version,
  };
}

/** Whether the request body is a batch (a JSON array of operations). */
export const isBatch = (req: Request): boolean => req.method === 'POST' && Array.isArray(req.body);

/** The operations a request carries; empty for requests with no GraphQL body (Apollo answers those). */
export function operationsOf(req: Request): WireOperation[] {
  if (req.method === 'GET') return [fromObject(req.query)];
  const body: unknown = req.body;
  if (Array.isArray(body)) return body.map(fromObject);
  return body && typeof body === 'object' ? [fromObject(body)] : [];
}
