import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** The header every outbound delivery carries: `t=<unix seconds>,v1=<hex>[,v1=<hex>]` (one v1 per live secret). */
export const SIGNATURE_HEADER = 'Liquid-Signature';
/** Receivers should refuse signatures older than this (replayed captures). */
export const DEFAULT_TOLERANCE_S = 300;

/** A new endpoint signing secret: `whsec_` + 32 random bytes, base64url. Shown once, stored sealed. */
export function generateSigningSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

const hmac = (secret: string, t: number, body: string): string => createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');

/** The header value for `body` at unix time `t`, signed with every given secret (current first, then the one being rotated out). */
export function signatureHeader(secrets: readonly string[], body: string, t: number): string {
  if (secrets.length === 0) throw new Error('no signing secret');
  return [`t=${t}`, ...secrets.map((s) => `v1=${hmac(s, t, body)}`)].join(',');
}

/** True when one v1 in `header` is `secret`'s HMAC of `${t}.${body}` and t is within tolerance of now (seconds). */
export function verifySignature(header: string, body: string, secret: string, now = Math.floor(Date.now() / 1000), toleranceS = DEFAULT_TOLERANCE_S): boolean {
  const parts = header.split(',').map((p) => p.trim().split('='));
  const t = Number(parts.find(([k]) => k === 't')?.[1]);
  if (!Number.isInteger(t) || Math.abs(now - t) > toleranceS) return false;
  const expected = Buffer.from(hmac(secret, t, body), 'hex');
  return parts.some(([k, v]) => k === 'v1' && typeof v === 'string' && v.length === expected.length * 2 && timingSafeEqual(Buffer.from(v, 'hex'), expected));
}
