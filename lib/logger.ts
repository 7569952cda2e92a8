import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
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

type LogContext = { correlationId: string; tenantId?: string; logger: Logger };
const storage = new AsyncLocalStorage<LogContext>();

let root: Logger = pino({ level: process.env.LOG_LEVEL ?? 'info', redact: { paths: REDACT_PATHS, censor: '[redacted]' } });

export function configureLogger(level: string, destination?: pino.DestinationStream): Logger {
  root = pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, destination);
  return root;
}

/** The logger bound to the current request/job, or the root logger outside one. */
export function log(): Logger {
  return storage.getStore()?.logger ?? root;
}

export function currentCorrelationId(): string | undefined {
  return storage.getStore()?.correlationId;
}

/** Runs fn with a correlation id (given or new) attached to every log line inside it. */
export function withCorrelation<T>(correlationId: string | undefined, fields: Record<string, unknown>, fn: () => T): T {
  const id = correlationId && /^[\w.:-]{1,128}$/.test(correlationId) ? correlationId : randomUUID();
  const logger = root.child({ correlationId: id, ...fields });
  return storage.run({ correlationId: id, logger }, fn);
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
