import { createHash, hkdfSync, randomInt, timingSafeEqual } from 'node:crypto';
import { generateSecret, generateURI, verify } from 'otplib';
import type { KeyRing } from '../crypto/secret-box';

/** TOTP per RFC 6238 with authenticator-app defaults (SHA-1, 6 digits, 30 s), via otplib v13. */
export const TOTP_ISSUER = 'Liquid ABT';
/** One step either side: tolerates 30 s of clock drift between phone and server. */
const EPOCH_TOLERANCE_S = 30;

export const newTotpSecret = (): string => generateSecret({ length: 20 });

export const totpUri = (label: string, secret: string): string => generateURI({ issuer: TOTP_ISSUER, label, secret });

/**
 * Verifies a 6-digit code. Returns the accepted time step, or null. Codes at or before
 * `afterTimeStep` are refused, so one code is never accepted twice.
 */
export async function verifyTotp(secret: string, code: string, afterTimeStep?: number | null): Promise<number | null> {
  const token = code.replace(/\s+/g, '');
  if (!/^\d{6}$/.test(token)) return null;
  try {
    const result = await verify({
      secret,
      token,
      epochTolerance: EPOCH_TOLERANCE_S,
      ...(afterTimeStep !== null && afterTimeStep !== undefined ? { afterTimeStep } : {}),
    });
    return result.valid && 'timeStep' in result ? result.timeStep : null;
  } catch {
    return null;
  }
}

// Recovery codes: 12 characters of an unambiguous alphabet (~58 bits), shown as xxxx-xxxx-xxxx.
const RECOVERY_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
export const RECOVERY_CODE_COUNT = 10;

export function newRecoveryCode(): string {
  let raw = '';
  for (let i = 0; i < 12; i++) raw += RECOVERY_ALPHABET[randomInt(RECOVERY_ALPHABET.length)];
  return `${raw.slice(0, 4)}-${raw.slice(4, 8)}-${raw.slice(8)}`;
}

export const normalizeRecoveryCode = (code: string): string => code.toLowerCase().replace(/[^a-z0-9]/g, '');

/** Salted with the user id: equal codes of two users never hash alike. High-entropy input, so SHA-256 suffices. */
export const hashRecoveryCode = (userId: string, code: string): string =>
  createHash('sha256').update(`${userId}:${normalizeRecoveryCode(code)}`).digest('hex');

export function hexEqual(aHex: string, bHex: string): boolean {
  const a = Buffer.from(aHex, 'hex');
  const b = Buffer.from(bHex, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

export const looksLikeTotp = (code: string): boolean => /^\d{6}$/.test(code.replace(/\s+/g, ''));

/**
 * A key ring for sealing TOTP secrets when the platform passes none: derived from the JWT secret
 * with HKDF (a separate key for a separate purpose). Rotating JWT_SECRET then needs the old value
 * kept in the ring; pass a real ring (INTEGRATION_KEYS-style) in production.
 */
export function derivedMfaKeyRing(jwtSecret: string): KeyRing {
  const key = Buffer.from(hkdfSync('sha256', jwtSecret, 'liquid-abt', 'mfa-secret-box v1', 32));
  return { current: 'jwtderived1', keys: { jwtderived1: key } };
}
