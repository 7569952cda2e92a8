/**
 * Object storage for generated files (tax reports). Keys are `/`-separated relative paths, the
 * tenant's prefix first (`<tenantId>/reports/...`). Two stores: S3 (any S3-compatible server) and
 * the local filesystem (embedded default) whose signed URLs the gateway serves (gateway/files.ts).
 */
export interface ObjectStore {
  put(key: string, bytes: Uint8Array, contentType: string): Promise<void>;
  /** The object's bytes, or null when there is none. */
  get(key: string): Promise<Uint8Array | null>;
  /** A URL anyone holding it can GET until it expires (`ttlSeconds`). */
  signedDownloadUrl(key: string, ttlSeconds: number): Promise<string>;
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
