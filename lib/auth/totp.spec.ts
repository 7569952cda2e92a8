import { generate } from 'otplib';
import { open, seal } from '../crypto/secret-box';
import { at } from '../../test/helpers/present';
import { derivedMfaKeyRing, hashRecoveryCode, newRecoveryCode, newTotpSecret, totpUri, verifyTotp } from './totp';

describe('TOTP', () => {
  it('accepts a current code once (never at or before the last accepted step) and refuses others', async () => {
    const secret = newTotpSecret();
    const now = Math.floor(Date.now() / 1000);
    const code = await generate({ secret, epoch: now });
    const step = await verifyTotp(secret, code);
    expect(step).toBe(Math.floor(now / 30));
    expect(await verifyTotp(secret, code, step)).toBeNull();
    expect(await verifyTotp(secret, '12345')).toBeNull();
    expect(await verifyTotp(secret, 'abcdef')).toBeNull();
    const old = await generate({ secret, epoch: now - 120 });
    expect(await verifyTotp(secret, old)).toBeNull();
  });

  it('builds an otpauth URI for authenticator apps', () => {
    expect(totpUri('a@b.example', 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP')).toMatch(/^otpauth:\/\/totp\/Liquid%20ABT:a%40b\.example\?.*secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP/);
  });

  it('recovery codes are random, formatted and hashed per user', () => {
    const codes = Array.from({ length: 50 }, newRecoveryCode);
    expect(new Set(codes).size).toBe(50);
    const code = at(codes, 0, 'recovery codes');
    expect(code).toMatch(/^[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}$/);
    expect(hashRecoveryCode('u1', code)).toBe(hashRecoveryCode('u1', code.toUpperCase().replace(/-/g, ' ')));
    expect(hashRecoveryCode('u1', code)).not.toBe(hashRecoveryCode('u2', code));
  });

  it('seals secrets with a key derived from (not equal to) the JWT secret', () => {
    const ring = derivedMfaKeyRing('j'.repeat(40));
    const sealed = seal(ring, 'SECRET', 'user:1:totp');
    expect(open(ring, sealed, 'user:1:totp')).toBe('SECRET');
    expect(() => open(derivedMfaKeyRing('k'.repeat(40)), sealed, 'user:1:totp')).toThrow();
  });
});
