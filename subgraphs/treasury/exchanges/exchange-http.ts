import type { Attributes } from '@opentelemetry/api';
import { performance } from 'node:perf_hooks';
import { currentCorrelationId } from '../../../lib/logger';
import { observeExchangeCall, type ExchangeCallOutcome } from '../../../lib/metrics';
import { type JsonValue, parseJsonLossless, textToUnits } from '../../../lib/money';
import { CORRELATION_ATTRIBUTE, traceOutgoing } from '../../../lib/tracing';
import { ExchangeError, type ExchangeName } from './exchange.types';

export type FetchLike = typeof fetch;

export type HttpRequest = {
  exchange: ExchangeName;
  url: string;
  method: 'GET' | 'POST' | 'DELETE';
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
  /** Whether the request can move money: decides if a lost answer leaves the outcome unknown. */
  mutation: boolean;
  /** The metric's operation label; default: the method and the URL path with ids templated. */
  operation?: string;
  fetchImpl?: FetchLike;
};

export type HttpResponse = { status: number; text: string; headers: Headers };

// Errors raised before any byte reached the server: the request certainly did nothing.
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH']);

function causeCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const cause = (err as { cause?: unknown }).cause;
  if (typeof cause === 'object' && cause !== null && typeof (cause as { code?: unknown }).code === 'string') {
    return (cause as { code: string }).code;
  }
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * `POST /0/private/AddOrder`, `GET /live-rates/:id/`: the path of an exchange call with every
 * segment that looks like an id (two or more digits, or a long hex/uuid/token) templated, so the
 * metric's label values stay few. Never the query string (it can carry order ids).
 */
export function operationOf(method: string, url: string): string {
  let path: string;
  try {
    path = new URL(url).pathname;
  } catch {
    return method;
  }
  const segments = path.split('/').map((s) => (/^\d{2,}$/.test(s) || /^[0-9a-f-]{16,}$/i.test(s) || /^[A-Za-z0-9_-]{32,}$/.test(s) ? ':id' : s));
  return `${method} ${segments.join('/')}`;
}

function outcomeOf(status: number): ExchangeCallOutcome {
  if (status >= 200 && status < 400) return 'ok';
  if (status === 429) return 'rate_limited';
  return status >= 500 ? 'server_error' : 'client_error';
}

/**
 * What a CLIENT span of an exchange call says: the exchange, the templated operation (never the
 * query string, ids, body, headers, API key or signature), the host and whether it can move money.
 */
export function exchangeSpanAttributes(req: Pick<HttpRequest, 'exchange' | 'method' | 'url' | 'mutation'>, operation: string): Attributes {
  let host: { 'server.address'?: string; 'server.port'?: number } = {};
  try {
    const u = new URL(req.url);
    host = { 'server.address': u.hostname, 'server.port': Number(u.port || (u.protocol === 'https:' ? 443 : 80)) };
  } catch {
    // An unparsable URL fails in fetch; the span just has no host.
  }
  const correlationId = currentCorrelationId();
  return {
    'abt.exchange': req.exchange,
    'abt.exchange.operation': operation,
    'abt.exchange.mutation': req.mutation,
    'http.request.method': req.method,
    ...host,
    ...(correlationId ? { [CORRELATION_ATTRIBUTE]: correlationId } : {}),
  };
}

/**
 * One HTTP round trip, measured (abt_exchange_request_duration_seconds by exchange, operation,
 * outcome) and traced (a CLIENT span `<exchange> <operation>`). No traceparent goes to the exchange:
 * it is a third party and would continue nothing of ours.
 */
export async function sendHttp(req: HttpRequest): Promise<HttpResponse> {
  const started = performance.now();
  const operation = req.operation ?? operationOf(req.method, req.url);
  const observe = (outcome: ExchangeCallOutcome): void =>
    observeExchangeCall({ exchange: req.exchange, operation, outcome, seconds: (performance.now() - started) / 1000 });
  return traceOutgoing(
    `${req.exchange} ${operation}`,
    exchangeSpanAttributes(req, operation),
    async () => {
      try {
        const res = await roundTrip(req);
        observe(outcomeOf(res.status));
        return res;
      } catch (err) {
        observe(/timed out/.test((err as Error).message) ? 'timeout' : 'network_error');
        throw err;
      }
    },
    (res) => res.status,
  );
}

/** Network failures and timeouts become UNAVAILABLE ExchangeErrors. */
async function roundTrip(req: HttpRequest): Promise<HttpResponse> {
  const doFetch = req.fetchImpl ?? fetch;
  let res: Response;
  try {
    res = await doFetch(req.url, {
      method: req.method,
      headers: req.headers,
      body: req.body,
      signal: AbortSignal.timeout(req.timeoutMs),
    });
  } catch (err) {
    const code = causeCode(err);
    const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
    const notSent = code !== undefined && NOT_SENT_CODES.has(code);
    throw new ExchangeError({
      exchange: req.exchange,
      kind: 'UNAVAILABLE',
      message: timedOut ? `request timed out after ${req.timeoutMs}ms` : `network error${code ? ` (${code})` : ''}`,
      outcomeUnknown: req.mutation && !notSent,
      cause: err,
    });
  }
  let text: string;
  try {
    text = await res.text();
  } catch (err) {
    throw new ExchangeError({
      exchange: req.exchange,
      kind: 'UNAVAILABLE',
      message: 'connection dropped while reading the response',
      outcomeUnknown: req.mutation,
      httpStatus: res.status,
      cause: err,
    });
  }
  return { status: res.status, text, headers: res.headers };
}

/** Parses a body that must be JSON; otherwise INVALID_RESPONSE (outcome unknown for mutations). */
export function parseBody(exchange: ExchangeName, res: HttpResponse, mutation: boolean): JsonValue {
  try {
    return parseJsonLossless(res.text);
  } catch (err) {
    throw new ExchangeError({
      exchange,
      kind: 'INVALID_RESPONSE',
      message: `response was not valid JSON (HTTP ${res.status})`,
      outcomeUnknown: mutation,
      httpStatus: res.status,
      cause: err,
    });
  }
}

/**
 * Maps a non-2xx HTTP status to an ExchangeError. 503 and 429 are refusals (nothing happened);
 * other 5xx may hide a request the origin did process, so mutations are marked outcomeUnknown.
 */
export function errorForStatus(exchange: ExchangeName, status: number, mutation: boolean, detail: string): ExchangeError {
  const msg = `HTTP ${status}${detail ? `: ${detail}` : ''}`;
  if (status === 401 || status === 403) return new ExchangeError({ exchange, kind: 'AUTH', message: msg, httpStatus: status });
  if (status === 429) return new ExchangeError({ exchange, kind: 'RATE_LIMITED', message: msg, httpStatus: status });
  if (status >= 500) {
    return new ExchangeError({ exchange, kind: 'UNAVAILABLE', message: msg, httpStatus: status, outcomeUnknown: mutation && status !== 503 });
  }
  return new ExchangeError({ exchange, kind: 'REJECTED', message: msg, httpStatus: status });
}

export function invalidResponse(exchange: ExchangeName, message: string, mutation: boolean, cause?: unknown): ExchangeError {
  return new ExchangeError({ exchange, kind: 'INVALID_RESPONSE', message, outcomeUnknown: mutation, cause });
}

/**
 * A decimal field of an exchange's order → integer units (sats, cents) with the given rounding; an
 * absent field is 0. Anything else than a non-negative decimal is an INVALID_RESPONSE naming the field.
 */
export function orderUnits(
  exchange: ExchangeName,
  text: string | null | undefined,
  decimals: number,
  rounding: 'floor' | 'half-up',
  field: string,
): bigint {
  if (text === null || text === undefined) return 0n;
  try {
    const v = textToUnits(text, decimals, rounding);
    if (v < 0n) throw new RangeError('negative');
    return v;
  } catch (err) {
    throw invalidResponse(exchange, `order field ${field} is not a non-negative decimal`, false, err);
  }
}

/** Runs async tasks strictly one after another (Kraken needs nonces to arrive in order). */
export class SerialQueue {
  private tail: Promise<void> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task, task);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
