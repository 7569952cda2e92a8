import { SignJWT, type JWTPayload } from 'jose';
import { at } from '../../test/helpers/present';
import {
  LEGACY_KID,
  bearer,
  hashToken,
  jwtKeyRingFromEnv,
  newOpaqueToken,
  signAccessToken,
  signMfaChallenge,
  tokenKeyId,
  verifyAccessToken,
  verifyMfaChallenge,
} from './tokens';

const SECRET = 'a'.repeat(48);
const SID = '44444444-4444-4444-8444-444444444444';
const claims = { sub: 'u1', tid: 't1', role: 'ADMIN' as const, amr: ['pwd'], sid: SID };

/** A token signed with the real key but shaped by hand: what someone holding the key (or a bug) could mint. */
function forge(opts: { payload?: JWTPayload; alg?: string; kid?: string; aud?: string | null; iss?: string | null; iat?: number | null; exp?: number | null; secret?: string }): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload: JWTPayload = { sub: 'u1', tid: 't1', role: 'ADMIN', amr: ['pwd'], sid: SID, ...opts.payload };
  if (opts.aud !== null) payload.aud = opts.aud ?? 'liquid-abt-api';
  if (opts.iss !== null) payload.iss = opts.iss ?? 'liquid-abt';
  if (opts.iat !== null) payload.iat = opts.iat ?? now;
  if (opts.exp !== null) payload.exp = opts.exp ?? now + 3600;
  return new SignJWT(payload)
    .setProtectedHeader({ alg: opts.alg ?? 'HS256', ...(opts.kid ? { kid: opts.kid } : {}) })
    .sign(new TextEncoder().encode(opts.secret ?? SECRET));
}
const refused = async (token: string, keys: Parameters<typeof verifyAccessToken>[1] = SECRET): Promise<string> =>
  verifyAccessToken(token, keys).then(
    () => 'accepted',
    (e: { code?: string; message: string }) => `${e.code}: ${e.message}`,
  );

describe('access tokens', () => {
  it('round-trips claims and expires in 24 hours', async () => {
    const token = await signAccessToken(claims, SECRET);
    expect(await verifyAccessToken(token, SECRET)).toEqual({ ...claims, issuedAtMs: expect.any(Number) as number, expiresAtMs: expect.any(Number) as number });
    const payload = JSON.parse(Buffer.from(at(token.split('.'), 1, 'JWT segments'), 'base64url').toString()) as { exp: number; iat: number };
    expect(payload.exp - payload.iat).toBe(24 * 3600);
  });

  it('refuses a wrong secret, an expired token, a forged role and alg none', async () => {
    const token = await signAccessToken({ ...claims, role: 'VIEWER' }, SECRET);
    await expect(verifyAccessToken(token, 'b'.repeat(48))).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    const expired = await signAccessToken(claims, SECRET, -10);
    await expect(verifyAccessToken(expired, SECRET)).rejects.toThrow(/expired/);
    expect(await refused(await forge({ payload: { role: 'GOD' } }))).toBe('UNAUTHENTICATED: token claims are invalid');
    const [, p] = token.split('.');
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${p}.`;
    await expect(verifyAccessToken(none, SECRET)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('accepts a hand-made token with every claim (the forgeries below differ from it in one claim each)', async () => {
    expect(await refused(await forge({}))).toBe('accepted');
  });

  it.each([
    ['no exp', { exp: null }],
    ['no iat', { iat: null }],
    ['no aud', { aud: null }],
    ['the wrong aud (an MFA challenge’s)', { aud: 'liquid-abt-mfa-challenge' }],
    ['no iss', { iss: null }],
    ['the wrong iss', { iss: 'someone-else' }],
    ['an iat in the future', { iat: Math.floor(Date.now() / 1000) + 3600 }],
    ['a lifetime longer than 24 h', { exp: Math.floor(Date.now() / 1000) + 48 * 3600 }],
    ['no session id', { payload: { sid: undefined } }],
    ['alg HS512 (not the configured HS256)', { alg: 'HS512' }],
    ['a key id the ring does not hold', { kid: 'nope' }],
  ])('refuses a token signed with the real key but with %s', async (_why, opts) => {
    expect(await refused(await forge(opts))).toMatch(/^UNAUTHENTICATED/);
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

describe('JWT key rotation', () => {
  const OLD = 'o'.repeat(40);
  const NEW = 'n'.repeat(40);

  it('signs with the first key of JWT_KEYS and names it in the header; every key of the ring verifies', async () => {
    const before = jwtKeyRingFromEnv(`k1:${OLD}`);
    const after = jwtKeyRingFromEnv(`k2:${NEW},k1:${OLD}`);
    const old = await signAccessToken(claims, before);
    const fresh = await signAccessToken(claims, after);
    expect([tokenKeyId(old), tokenKeyId(fresh)]).toEqual(['k1', 'k2']);
    expect(await refused(old, after)).toBe('accepted');
    expect(await refused(fresh, after)).toBe('accepted');
    // Once k1 leaves the ring its tokens stop verifying; a new-key token never verifies under the old ring.
    expect(await refused(old, jwtKeyRingFromEnv(`k2:${NEW}`))).toMatch(/^UNAUTHENTICATED/);
    expect(await refused(fresh, before)).toMatch(/^UNAUTHENTICATED/);
    // The MFA challenge rides the same ring.
    const challenge = await signMfaChallenge({ sub: 'u1', tid: 't1' }, before);
    expect(await verifyMfaChallenge(challenge, after)).toEqual({ sub: 'u1', tid: 't1' });
  });

  it('a lone JWT_SECRET is one key ("default"): its tokens and kid-less legacy tokens verify after moving to JWT_KEYS', async () => {
    const lone = await signAccessToken(claims, OLD);
    expect(tokenKeyId(lone)).toBe(LEGACY_KID);
    const legacy = await forge({ secret: OLD });
    const ring = jwtKeyRingFromEnv(`k2:${NEW}`, OLD);
    expect(ring.current).toBe('k2');
    expect(await refused(lone, ring)).toBe('accepted');
    expect(await refused(legacy, ring)).toBe('accepted');
    // A kid-less token is tried with the legacy key only, never with the others.
    expect(await refused(await forge({ secret: NEW }), ring)).toMatch(/^UNAUTHENTICATED/);
  });

  it('refuses malformed rings, naming the key id and never the secret', () => {
    expect(() => jwtKeyRingFromEnv('')).toThrow(/not "kid:secret"/);
    expect(() => jwtKeyRingFromEnv('k1:short')).toThrow(/"k1" must be at least 32/);
    expect(() => jwtKeyRingFromEnv(`k1:${OLD},k1:${NEW}`)).toThrow(/appears twice/);
    expect(() => jwtKeyRingFromEnv(`bad kid:${OLD}`)).toThrow(/invalid key id/);
    try {
      jwtKeyRingFromEnv('k1:short-secret-value');
    } catch (err) {
      expect((err as Error).message).not.toContain('short-secret-value');
    }
  });
});
