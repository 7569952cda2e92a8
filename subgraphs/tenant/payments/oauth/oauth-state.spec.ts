import { randomBytes } from 'node:crypto';
import type { KeyRing } from '../../../../lib/crypto/secret-box';
import { AppError } from '../../../../lib/errors';
import { oauthReasonOf, signState, verifyState } from './oauth-state';

const k1 = randomBytes(32);
const k2 = randomBytes(32);
const ring: KeyRing = { current: 'k1', keys: { k1 } };
const TENANT = '0b7e4a4e-0000-4000-8000-000000000001';
const USER = '0b7e4a4e-0000-4000-8000-000000000002';
const now = new Date('2026-12-03T10:00:00Z');
const inTen = new Date(now.getTime() + 600_000);

function reasonOf(fn: () => unknown): string | null {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return oauthReasonOf(err);
  }
  throw new Error('expected verifyState to refuse');
}

describe('payment OAuth state', () => {
  it('round-trips tenant, user, provider and nonce, and carries no key material', () => {
    const { state, nonce } = signState(ring, { tenantId: TENANT, userId: USER, provider: 'square', expiresAt: inTen });
    expect(state).not.toContain(k1.toString('base64url'));
    expect(verifyState(ring, state, 'square', now)).toEqual({ tenantId: TENANT, userId: USER, provider: 'square', nonce, expiresAt: new Date(Math.floor(inTen.getTime() / 1000) * 1000) });
  });

  it('gives every state its own nonce', () => {
    const a = signState(ring, { tenantId: TENANT, userId: USER, provider: 'square', expiresAt: inTen });
    const b = signState(ring, { tenantId: TENANT, userId: USER, provider: 'square', expiresAt: inTen });
    expect(a.nonce).not.toBe(b.nonce);
    expect(a.state).not.toBe(b.state);
  });

  it('refuses a state once it expired', () => {
    const { state } = signState(ring, { tenantId: TENANT, userId: USER, provider: 'square', expiresAt: inTen });
    expect(reasonOf(() => verifyState(ring, state, 'square', new Date(inTen.getTime() + 1000)))).toBe('OAUTH_STATE_EXPIRED');
  });

  it('refuses a state for another provider (a Square state at the Stripe callback)', () => {
    const { state } = signState(ring, { tenantId: TENANT, userId: USER, provider: 'square', expiresAt: inTen });
    expect(reasonOf(() => verifyState(ring, state, 'stripe', now))).toBe('OAUTH_STATE_INVALID');
  });

  it('refuses a tampered payload (another tenant spliced in) and a forged signature', () => {
    const { state } = signState(ring, { tenantId: TENANT, userId: USER, provider: 'square', expiresAt: inTen });
    const [kid, payload, sig] = state.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const other = Buffer.from(JSON.stringify({ ...claims, t: '0b7e4a4e-0000-4000-8000-0000000000ff' })).toString('base64url');
    expect(reasonOf(() => verifyState(ring, `${kid}.${other}.${sig}`, 'square', now))).toBe('OAUTH_STATE_INVALID');
    const forged = signState({ current: 'k1', keys: { k1: k2 } }, { tenantId: TENANT, userId: USER, provider: 'square', expiresAt: inTen }).state;
    expect(reasonOf(() => verifyState(ring, forged, 'square', now))).toBe('OAUTH_STATE_INVALID');
  });

  it('refuses garbage, a missing state and an unknown key id', () => {
    for (const bad of [undefined, '', 'abc', 'a.b.c', 'k9.e30.AAAA', 'x'.repeat(2000)]) {
      expect(reasonOf(() => verifyState(ring, bad, 'square', now))).toBe('OAUTH_STATE_INVALID');
    }
  });

  it('still verifies a state signed under a key that rotated out of current, while the ring holds it', () => {
    const { state } = signState(ring, { tenantId: TENANT, userId: USER, provider: 'square', expiresAt: inTen });
    const rotated: KeyRing = { current: 'k2', keys: { k1, k2 } };
    expect(verifyState(rotated, state, 'square', now).tenantId).toBe(TENANT);
    expect(reasonOf(() => verifyState({ current: 'k2', keys: { k2 } }, state, 'square', now))).toBe('OAUTH_STATE_INVALID');
  });
});
