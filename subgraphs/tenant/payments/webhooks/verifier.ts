import { invalidSignature, malformed } from './errors';
import type { RevenueEventResult, WebhookProvider } from './revenue-event';

/** Header bag: Node lower-cases names; a repeated header is an array in `req.headersDistinct` (`req.headers` joins it). */
export type WebhookHeaders = Record<string, string | string[] | undefined>;

/** The delivery exactly as received: the body must be the raw bytes, never re-serialized JSON. */
export type RawWebhookRequest = { rawBody: Buffer | string; headers: WebhookHeaders };

export type WebhookVerifier = {
  provider: WebhookProvider;
  /** Resolves to a normalized or ignored event; rejects only with WebhookVerificationError. */
  verify(request: RawWebhookRequest): Promise<RevenueEventResult>;
};

/** Every value of a header, case-insensitively (pass `req.headersDistinct`: `req.headers` joins repeats into one). */
function headerValues(headers: WebhookHeaders, name: string): string[] {
  const wanted = name.toLowerCase();
  const values: string[] = [];
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== wanted || value === undefined) continue;
    values.push(...(Array.isArray(value) ? value : [value]));
  }
  return values;
}

/**
 * A header that must appear exactly once. A repeated signature header is refused rather than
 * picked from: which copy counts would be ours to guess, and a forged copy must not ride along.
 */
export function requireSingleHeader(provider: WebhookProvider, headers: WebhookHeaders, name: string, label: string): string {
  const values = headerValues(headers, name);
  if (values.length > 1) throw invalidSignature(provider, `repeated ${label} header`);
  const [value] = values;
  if (value === undefined || value === '') throw invalidSignature(provider, `missing ${label} header`);
  return value;
}

export function bodyText(rawBody: Buffer | string): string {
  return typeof rawBody === 'string' ? rawBody : rawBody.toString('utf8');
}

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads a dotted path through nested objects; undefined when any step is missing or not an object. */
export function at(value: unknown, path: string): unknown {
  let current: unknown = value;
  for (const key of path.split('.')) {
    if (!isObject(current)) return undefined;
    current = current[key];
  }
  return current;
}

/** A provider id or type string; the length cap keeps hostile payloads out of keys and logs. */
export function requireString(provider: WebhookProvider, value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 255) {
    throw malformed(provider, `${field} must be a non-empty string`);
  }
  return value;
}

export function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= 255 ? value : undefined;
}

/** JSON.parse that reports MALFORMED_PAYLOAD and insists on a top-level object. */
export function parseJsonObject(provider: WebhookProvider, text: string): JsonObject {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw malformed(provider, 'body is not valid JSON');
  }
  if (!isObject(parsed)) throw malformed(provider, 'body must be a JSON object');
  return parsed;
}
