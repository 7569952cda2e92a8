import { createHash, randomInt, timingSafeEqual } from 'node:crypto';

/**
 * Partner API keys: `abt_live_<12-char base62 lookup prefix>_<40-char base62 secret>`.
 * CONTRACT with the gateway: it recognises the `abt_live_` prefix and rate-limits on
 * `abt_live_<prefix>`. Only the prefix and SHA-256 of the secret are stored.
 */
export const API_KEY_PREFIX = 'abt_live_';
export const API_KEY_LOOKUP_LENGTH = 12;
export const API_KEY_SECRET_LENGTH = 40;

/** Scopes a key may carry; `lib/access.ts` maps each to the actions it allows. */
export const API_KEY_SCOPES = ['read:treasury', 'write:purchases', 'read:compliance', 'read:market'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];
export const isApiKeyScope = (s: string): s is ApiKeyScope => (API_KEY_SCOPES as readonly string[]).includes(s);

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const FORMAT = new RegExp(`^${API_KEY_PREFIX}([0-9A-Za-z]{${API_KEY_LOOKUP_LENGTH}})_([0-9A-Za-z]{32,128})$`);

/** Uniform base62 from a CSPRNG (randomInt has no modulo bias). */
export function randomBase62(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += BASE62[randomInt(62)];
  return out;
}

export const hashApiKeySecret = (secret: string): string => createHash('sha256').update(secret, 'utf8').digest('hex');

export type NewApiKey = { key: string; lookup: string; secretHash: string };

export function newApiKey(): NewApiKey {
  const lookup = randomBase62(API_KEY_LOOKUP_LENGTH);
  const secret = randomBase62(API_KEY_SECRET_LENGTH);
  return { key: `${API_KEY_PREFIX}${lookup}_${secret}`, lookup, secretHash: hashApiKeySecret(secret) };
}

export const looksLikeApiKey = (token: string): boolean => token.startsWith(API_KEY_PREFIX);

/** Splits a presented key; undefined when it is not in the key format at all. */
export function parseApiKey(token: string): { lookup: string; secret: string } | undefined {
  const m = FORMAT.exec(token);
  const lookup = m?.[1];
  const secret = m?.[2];
  return lookup !== undefined && secret !== undefined ? { lookup, secret } : undefined;
}

/** Constant-time comparison of a presented secret with the stored hex SHA-256. */
export function apiKeySecretMatches(secret: string, storedHashHex: string): boolean {
  const a = Buffer.from(hashApiKeySecret(secret), 'hex');
  const b = Buffer.from(storedHashHex, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
