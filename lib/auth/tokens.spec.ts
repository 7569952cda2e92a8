import { SignJWT } from 'jose';
import { bearer, hashToken, newOpaqueToken, signAccessToken, verifyAccessToken } from './tokens';

const SECRET = 'a'.repeat(48);

describe('access tokens', () => {
  it('round-trips claims and expires in 24 hours', async () => {
    const token = await signAccessToken({ sub: 'u1', tid: 't1', role: 'ADMIN', amr: ['pwd'] }, SECRET);
    expect(await verifyAccessToken(token, SECRET)).toEqual({ sub: 'u1', tid: 't1', role: 'ADMIN', amr: ['pwd'], issuedAtMs: expect.any(Number) });
    const payload = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as { exp: number; iat: number };
    expect(payload.exp - payload.iat).toBe(24 * 3600);
  });

  it('refuses a wrong secret, an expired token, a forged role and alg none', async () => {
    const token = await signAccessToken({ sub: 'u1', tid: 't1', role: 'VIEWER', amr: [] }, SECRET);
    await expect(verifyAccessToken(token, 'b'.repeat(48))).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    const expired = await signAccessToken({ sub: 'u1', tid: 't1', role: 'VIEWER', amr: [] }, SECRET, -10);
    await expect(verifyAccessToken(expired, SECRET)).rejects.toThrow(/expired/);
    const badRole = await new SignJWT({ tid: 't1', role: 'GOD', amr: [] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('u1')
      .setIssuer('liquid-abt')
      .setAudience('liquid-abt-api')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(SECRET));
    await expect(verifyAccessToken(badRole, SECRET)).rejects.toThrow(/claims/);
    const [, p] = token.split('.');
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${p}.`;
    await expect(verifyAccessToken(none, SECRET)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('parses bearer headers strictly', () => {
    expect(bearer(undefined)).toBeUndefined();
    expect(bearer('Bearer abc')).toBe('abc');
    expect(() => bearer('Basic abc')).toThrow(/Bearer/);
  });

  it('stores only a hash of opaque refresh tokens', () => {
    const { token, hash } = newOpaqueToken();
    expect(hash).toBe(hashToken(token));
    expect(hash).not.toContain(token);
    expect(token).toMatch(/^[\w-]{43}$/);
  });
});
