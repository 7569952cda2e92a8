import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { trace, TraceFlags } from '@opentelemetry/api';
import pino, { type Logger } from 'pino';

export type { Logger };

/** Paths pino blanks out wherever they appear in a log line. */
export const REDACT_PATHS = [
  'password',
  '*.password',
  'token',
  '*.token',
  'accessToken',
  '*.accessToken',
  'refreshToken',
  '*.refreshToken',
  'secret',
  '*.secret',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'apiKey',
  '*.apiKey',
  'credentials',
  '*.credentials',
  'databaseUrl',
  '*.databaseUrl',
];

/** What a request's or job's one access-log line reports, filled in as it becomes known. */
export type RequestNote = { tenantId?: string; operation?: string; errorCode?: string };

type LogContext = { correlationId: string; logger: Logger; note: RequestNote; boundTenant?: string };
const storage = new AsyncLocalStorage<LogContext>();

/**
 * The active span's ids on every line written inside it (lib/tracing.ts), so a log line leads to its trace.
 * A new object every call: pino merges each line's fields into what the mixin returns (Object.assign), so
 * a shared one would carry every earlier line's fields (other requests', other tenants') into the next.
 */
function traceIds(): { trace_id?: string; span_id?: string } {
  const sc = trace.getActiveSpan()?.spanContext();
  return sc && sc.traceFlags & TraceFlags.SAMPLED ? { trace_id: sc.traceId, span_id: sc.spanId } : {};
}

let root: Logger = pino({ level: process.env.LOG_LEVEL ?? 'info', redact: { paths: REDACT_PATHS, censor: '[redacted]' }, mixin: traceIds });

export function configureLogger(level: string, destination?: pino.DestinationStream): Logger {
  root = pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, mixin: traceIds }, destination);
  return root;
}

/** The logger bound to the current request/job (its tenant too, once known), or the root logger outside one. */
export function log(): Logger {
  const ctx = storage.getStore();
  if (!ctx) return root;
  const tenantId = ctx.note.tenantId;
  if (tenantId && ctx.boundTenant !== tenantId) {
    ctx.logger = ctx.logger.child({ tenantId });
    ctx.boundTenant = tenantId;
  }
  return ctx.logger;
}

export function currentCorrelationId(): string | undefined {
  return storage.getStore()?.correlationId;
}

const VALID_ID = /^[\w.:-]{1,128}$/;

/**
 * Runs fn with a correlation id attached to every log line inside it: the one given (when well
 * formed), else the enclosing request's, else a new one. Nested under the same id (the HTTP server's
 * context, then a router's), both share one RequestNote, so the access line sees what either noted.
 */
export function withCorrelation<T>(correlationId: string | undefined, fields: Record<string, unknown>, fn: () => T): T {
  const parent = storage.getStore();
  const id = correlationId && VALID_ID.test(correlationId) ? correlationId : (parent?.correlationId ?? randomUUID());
  const same = parent?.correlationId === id;
  const logger = (same ? parent.logger : root).child(same ? fields : { correlationId: id, ...fields });
  const note = same ? parent.note : {};
  return storage.run({ correlationId: id, logger, note, boundTenant: same ? parent.boundTenant : undefined }, fn);
}

/** Records what the current request's / job's access line should say (tenant, operation, error code). */
export function noteRequest(update: RequestNote): void {
  const note = storage.getStore()?.note;
  if (!note) return;
  if (update.tenantId) note.tenantId = update.tenantId;
  if (update.operation) note.operation = note.operation && note.operation !== update.operation ? `${note.operation},${update.operation}` : update.operation;
  if (update.errorCode && !note.errorCode) note.errorCode = update.errorCode;
}

/** The current context's note and logger, to write its access line when the request ends (outside its async context). */
export function requestContext(): { note: RequestNote; logger: () => Logger } | undefined {
  const ctx = storage.getStore();
  if (!ctx) return undefined;
  return { note: ctx.note, logger: () => storage.run(ctx, log) };
}

/** Strips anything that looks like credentials from a connection string before it is shown. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '[unparseable url]';
  }
}
