import { randomBytes } from 'node:crypto';
import { at } from '../../test/helpers/present';
import { keyRingFromEnv, needsRotation, open, reseal, seal, SecretBoxError, type KeyRing } from './secret-box';

const k1 = randomBytes(32);
const k2 = randomBytes(32);
const ring: KeyRing = { current: 'k1', keys: { k1 } };
const AAD = 'tenant:t_1:stripe';
const SECRET = 'sk_live_51AbCdEfGhIjKlMnOp';

function expectCode(fn: () => unknown, code: string): SecretBoxError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SecretBoxError);
    const e = err as SecretBoxError;
    expect(e.code).toBe(code);
    return e;
  }
  throw new Error(`expected SecretBoxError ${code}`);
}

// Flips one bit in the given dot-separated part of a sealed value, keeping the encoding canonical.
function flip(sealed: string, partIndex: number): string {
  const parts = sealed.split('.');
  const buf = Buffer.from(at(parts, partIndex, 'sealed parts'), 'base64url');
  buf.writeUInt8(buf.readUInt8(0) ^ 0x01, 0);
  parts[partIndex] = buf.toString('base64url');
  return parts.join('.');
}

describe('secret-box', () => {
  it('round-trips in the documented v1 format', () => {
    const sealed = seal(ring, SECRET, AAD);
    expect(sealed).toMatch(/^v1\.k1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]+$/);
    expect(sealed).not.toContain(SECRET);
    expect(open(ring, sealed, AAD)).toBe(SECRET);
  });

  it('round-trips empty and non-ASCII plaintext', () => {
    expect(open(ring, seal(ring, '', AAD), AAD)).toBe('');
    expect(open(ring, seal(ring, 'clé 🔑 ключ', AAD), AAD)).toBe('clé 🔑 ключ');
  });

  it('uses a fresh IV each time', () => {
    expect(seal(ring, SECRET, AAD)).not.toBe(seal(ring, SECRET, AAD));
  });

  it.each([
    ['iv', 2],
    ['tag', 3],
    ['ciphertext', 4],
  ])('detects tampering with the %s', (_name, index) => {
    const sealed = seal(ring, SECRET, AAD);
    const e = expectCode(() => open(ring, flip(sealed, index), AAD), 'DECRYPT_FAILED');
    expect(e.message).not.toContain(SECRET);
  });

  it('rejects a truncated tag and non-canonical encodings as malformed', () => {
    const parts = seal(ring, SECRET, AAD).split('.');
    expectCode(() => open(ring, [...parts.slice(0, 3), at(parts, 3).slice(0, 10), at(parts, 4)].join('.'), AAD), 'MALFORMED');
    expectCode(() => open(ring, [...parts.slice(0, 4), `${at(parts, 4)}!`].join('.'), AAD), 'MALFORMED');
    expectCode(() => open(ring, 'v2.k1.a.b.c', AAD), 'MALFORMED');
    expectCode(() => open(ring, 'not sealed', AAD), 'MALFORMED');
  });

  it('fails on AAD mismatch (a credential moved to another tenant does not open)', () => {
    const sealed = seal(ring, SECRET, AAD);
    expectCode(() => open(ring, sealed, 'tenant:t_2:stripe'), 'DECRYPT_FAILED');
  });

  it('fails on the wrong key without leaking key material or plaintext', () => {
    const sealed = seal(ring, SECRET, AAD);
    const wrong: KeyRing = { current: 'k1', keys: { k1: k2 } };
    const e = expectCode(() => open(wrong, sealed, AAD), 'DECRYPT_FAILED');
    const shown = `${e.message} ${e.stack ?? ''} ${JSON.stringify(e)}`;
    for (const needle of [SECRET, k1.toString('base64'), k2.toString('base64'), k1.toString('hex'), k2.toString('hex')]) {
      expect(shown).not.toContain(needle);
    }
  });

  it('fails with UNKNOWN_KEY_ID when the key id is not in the ring', () => {
    const sealed = seal({ current: 'old', keys: { old: k2 } }, SECRET, AAD);
    expectCode(() => open(ring, sealed, AAD), 'UNKNOWN_KEY_ID');
  });

  it('cannot be relabelled to another key id in the ring', () => {
    const both: KeyRing = { current: 'k1', keys: { k1, k2: k1 } };
    const sealed = seal(both, SECRET, AAD).replace(/^v1\.k1\./, 'v1.k2.');
    expectCode(() => open(both, sealed, AAD), 'DECRYPT_FAILED');
  });

  it('rotates: old values still open, new values seal under current', () => {
    const before: KeyRing = { current: 'k1', keys: { k1 } };
    const oldSealed = seal(before, SECRET, AAD);
    const after: KeyRing = { current: 'k2', keys: { k2, k1 } };
    expect(needsRotation(before, oldSealed)).toBe(false);
    expect(needsRotation(after, oldSealed)).toBe(true);
    expect(open(after, oldSealed, AAD)).toBe(SECRET);
    const fresh = seal(after, SECRET, AAD);
    expect(fresh.startsWith('v1.k2.')).toBe(true);
    expect(needsRotation(after, fresh)).toBe(false);
    const resealed = reseal(after, oldSealed, AAD);
    expect(resealed.startsWith('v1.k2.')).toBe(true);
    expect(open({ current: 'k2', keys: { k2 } }, resealed, AAD)).toBe(SECRET);
  });

  it('refuses a ring whose current key is missing or the wrong size', () => {
    expectCode(() => seal({ current: 'nope', keys: { k1 } }, SECRET, AAD), 'UNKNOWN_KEY_ID');
    expectCode(() => seal({ current: 'short', keys: { short: randomBytes(16) } }, SECRET, AAD), 'INVALID_KEY_RING');
  });

  describe('keyRingFromEnv', () => {
    it('parses kid:base64 pairs with the first as current', () => {
      const r = keyRingFromEnv(` k2:${k2.toString('base64')} , k1:${k1.toString('base64url')}`);
      expect(r.current).toBe('k2');
      expect(r.keys.k2?.equals(k2)).toBe(true);
      expect(r.keys.k1?.equals(k1)).toBe(true);
      expect(open(r, seal(ring, SECRET, AAD), AAD)).toBe(SECRET);
    });

    it.each([
      ['empty', ''],
      ['missing key', 'k1'],
      ['missing kid', `:${randomBytes(32).toString('base64')}`],
      ['short key', `k1:${randomBytes(16).toString('base64')}`],
      ['duplicate kid', `k1:${randomBytes(32).toString('base64')},k1:${randomBytes(32).toString('base64')}`],
      ['not base64', 'k1:not base64 at all!'],
      ['dot in kid', `k.1:${randomBytes(32).toString('base64')}`],
    ])('rejects a ring with %s without echoing the key', (_label, value) => {
      const e = expectCode(() => keyRingFromEnv(value), 'INVALID_KEY_RING');
      const [firstPair = ''] = value.split(',');
      const encoded = firstPair.split(':')[1];
      if (encoded && encoded.length > 8) expect(e.message).not.toContain(encoded);
    });
  });
});
