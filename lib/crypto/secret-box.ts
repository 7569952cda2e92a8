import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * AES-256-GCM sealing of integration credentials at rest.
 *
 * Sealed format: `v1.<keyId>.<iv b64url>.<tag b64url>.<ciphertext b64url>`.
 * The key id travels with the ciphertext so keys can rotate: new values seal under
 * `ring.current`, older values still open with whichever key they name.
 */
export type KeyRing = { current: string; keys: Record<string, Buffer> };

export type SecretBoxErrorCode = 'INVALID_KEY_RING' | 'MALFORMED' | 'UNKNOWN_KEY_ID' | 'DECRYPT_FAILED';

/** Carries only a code and a fixed message: never key bytes, plaintext or ciphertext. */
export class SecretBoxError extends Error {
  constructor(
    readonly code: SecretBoxErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'SecretBoxError';
  }
}

const VERSION = 'v1';
const ALGORITHM = 'aes-256-gcm';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
// Key ids sit inside a dot-separated token and a comma/colon-separated env var.
const KEY_ID = /^[A-Za-z0-9_-]{1,64}$/;
const B64URL = /^[A-Za-z0-9_-]*$/;

type Parsed = { keyId: string; iv: Buffer; tag: Buffer; ciphertext: Buffer };

function keyFor(ring: KeyRing, keyId: string): Buffer {
  if (!Object.prototype.hasOwnProperty.call(ring.keys, keyId)) {
    throw new SecretBoxError('UNKNOWN_KEY_ID', `no key with id "${keyId}" in the key ring`);
  }
  const key = ring.keys[keyId];
  if (!Buffer.isBuffer(key) || key.length !== KEY_BYTES) {
    throw new SecretBoxError('INVALID_KEY_RING', `key "${keyId}" must be ${KEY_BYTES} bytes`);
  }
  return key;
}

// Binding version and key id into the AAD means a relabelled token can never authenticate.
function fullAad(keyId: string, aad: string): Buffer {
  return Buffer.from(`${VERSION}|${keyId}|${aad}`, 'utf8');
}

function decodeB64url(part: string, expectedBytes?: number): Buffer {
  if (!B64URL.test(part)) throw new SecretBoxError('MALFORMED', 'sealed value is not valid');
  const buf = Buffer.from(part, 'base64url');
  // Canonical re-encoding rejects stray trailing bits that Buffer.from would silently drop.
  if (buf.toString('base64url') !== part) throw new SecretBoxError('MALFORMED', 'sealed value is not valid');
  if (expectedBytes !== undefined && buf.length !== expectedBytes) {
    throw new SecretBoxError('MALFORMED', 'sealed value is not valid');
  }
  return buf;
}

function parse(sealed: string): Parsed {
  if (typeof sealed !== 'string') throw new SecretBoxError('MALFORMED', 'sealed value must be a string');
  const [version, keyId, iv, tag, ciphertext, ...extra] = sealed.split('.');
  if (
    version !== VERSION ||
    keyId === undefined ||
    iv === undefined ||
    tag === undefined ||
    ciphertext === undefined ||
    extra.length > 0
  ) {
    throw new SecretBoxError('MALFORMED', `sealed value is not in ${VERSION} format`);
  }
  if (!KEY_ID.test(keyId)) throw new SecretBoxError('MALFORMED', 'sealed value has an invalid key id');
  return {
    keyId,
    iv: decodeB64url(iv, IV_BYTES),
    tag: decodeB64url(tag, TAG_BYTES),
    ciphertext: decodeB64url(ciphertext),
  };
}

/** Encrypts plaintext under the ring's current key; aad (e.g. `tenant:<id>:stripe`) must match on open. */
export function seal(ring: KeyRing, plaintext: string, aad: string): string {
  const keyId = ring.current;
  if (!KEY_ID.test(keyId)) throw new SecretBoxError('INVALID_KEY_RING', 'current key id is not valid');
  const key = keyFor(ring, keyId);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(fullAad(keyId, aad));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  const tag = cipher.getAuthTag();
  return [VERSION, keyId, iv.toString('base64url'), tag.toString('base64url'), ciphertext.toString('base64url')].join('.');
}

/** Decrypts a sealed value with the key it names; wrong key, tampering and AAD mismatch all fail alike. */
export function open(ring: KeyRing, sealed: string, aad: string): string {
  const { keyId, iv, tag, ciphertext } = parse(sealed);
  const key = keyFor(ring, keyId);
  try {
    const decipher = createDecipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(fullAad(keyId, aad));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
  } catch {
    // The OpenSSL error carries nothing useful and must not leak; one generic failure for every cause.
    throw new SecretBoxError('DECRYPT_FAILED', 'sealed value could not be authenticated');
  }
}

/** The key id a sealed value names (it says nothing about whether it opens). */
export function keyIdOf(sealed: string): string {
  return parse(sealed).keyId;
}

/** True when the value was sealed under a key other than the current one and should be re-sealed. */
export function needsRotation(ring: KeyRing, sealed: string): boolean {
  return parse(sealed).keyId !== ring.current;
}

/** Opens with whichever key sealed it and seals again under the current key. */
export function reseal(ring: KeyRing, sealed: string, aad: string): string {
  return seal(ring, open(ring, sealed, aad), aad);
}

/**
 * Parses `kid1:base64key,kid2:base64key` (standard or url-safe base64, 32-byte keys);
 * the first entry is the current key. Errors name the key id, never the key.
 */
export function keyRingFromEnv(value: string): KeyRing {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new SecretBoxError('INVALID_KEY_RING', 'key ring is empty');
  }
  const keys: Record<string, Buffer> = {};
  let current: string | undefined;
  for (const [index, rawEntry] of value.split(',').entries()) {
    const entry = rawEntry.trim();
    const colon = entry.indexOf(':');
    if (colon <= 0) throw new SecretBoxError('INVALID_KEY_RING', `key ring entry ${index + 1} is not "kid:base64key"`);
    const keyId = entry.slice(0, colon).trim();
    const encoded = entry.slice(colon + 1).trim();
    if (!KEY_ID.test(keyId)) throw new SecretBoxError('INVALID_KEY_RING', `key ring entry ${index + 1} has an invalid key id`);
    if (Object.prototype.hasOwnProperty.call(keys, keyId)) {
      throw new SecretBoxError('INVALID_KEY_RING', `key id "${keyId}" appears twice`);
    }
    if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(encoded)) {
      throw new SecretBoxError('INVALID_KEY_RING', `key "${keyId}" is not base64`);
    }
    const key = Buffer.from(encoded.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (key.length !== KEY_BYTES) {
      throw new SecretBoxError('INVALID_KEY_RING', `key "${keyId}" must decode to ${KEY_BYTES} bytes`);
    }
    keys[keyId] = key;
    current ??= keyId;
  }
  if (current === undefined) throw new SecretBoxError('INVALID_KEY_RING', 'key ring is empty');
  return { current, keys };
}
