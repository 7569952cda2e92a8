import type { Readable } from 'node:stream';

/** One stored object as a listing names it. */
export type ObjectInfo = { key: string; size: number; lastModified: Date };

/**
 * Object storage for generated files (tax reports) and database backups. Keys are `/`-separated
 * relative paths, the tenant's prefix first (`<tenantId>/reports/...`; backups under `backups/`).
 * Two stores: S3 (any S3-compatible server) and the local filesystem (embedded default) whose
 * signed URLs the gateway serves (gateway/files.ts).
 */
export interface ObjectStore {
  put(key: string, bytes: Uint8Array, contentType: string): Promise<void>;
  /** Stores a stream without holding it whole in memory (S3: multipart); returns the bytes written. */
  putStream(key: string, body: Readable, contentType: string): Promise<{ size: number }>;
  /** The object's bytes, or null when there is none. */
  get(key: string): Promise<Uint8Array | null>;
  /** The object as a stream, or null when there is none. */
  getStream(key: string): Promise<Readable | null>;
  /** Every object whose key starts with `prefix` ('' or safe segments, optionally ending in `/`), by key. */
  list(prefix: string): Promise<ObjectInfo[]>;
  /** Removes the object; an absent key is not an error. */
  delete(key: string): Promise<void>;
  /** A URL anyone holding it can GET until it expires (`ttlSeconds`). */
  signedDownloadUrl(key: string, ttlSeconds: number): Promise<string>;
}

/** A safe listing prefix: empty, or a safe key that may end in `/`. */
export function assertObjectPrefix(prefix: string): string {
  if (prefix !== '' && !isObjectKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix)) throw new Error(`invalid object prefix: ${JSON.stringify(prefix)}`);
  return prefix;
}

/** A safe key: relative, no `..`/`.` segments, no backslash, no empty segment, printable ASCII subset. */
export function assertObjectKey(key: string): string {
  if (!isObjectKey(key)) throw new Error(`invalid object key: ${JSON.stringify(key)}`);
  return key;
}

export function isObjectKey(key: string): boolean {
  if (key.length === 0 || key.length > 512 || !/^[A-Za-z0-9._\-/]+$/.test(key)) return false;
  return key.split('/').every((seg) => seg.length > 0 && seg !== '.' && seg !== '..');
}
