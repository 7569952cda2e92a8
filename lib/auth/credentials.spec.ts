import type { MikroORM } from '@mikro-orm/postgresql';
import { newApiKey } from './api-keys';
import { CredentialVerifier, forgetApiKey, forgetUser } from './credentials';
import { signAccessToken } from './tokens';

const SECRET = 's'.repeat(48);
const U = '11111111-1111-4111-8111-111111111111';
const T = '22222222-2222-4222-8222-222222222222';
const S = '55555555-5555-4555-8555-555555555555';
const K = '33333333-3333-4333-8333-333333333333';

/** An ORM stand-in whose connection answers every query with `rows()`, counting calls. */
function fakeOrm(rows: () => Record<string, unknown>[]): { orm: MikroORM; calls: () => number } {
  let n = 0;
  const conn = { execute: () => (n++, Promise.resolve(rows())) };
  return { orm: { em: { fork: () => ({ getConnection: () => conn }) } } as unknown as MikroORM, calls: () => n };
}
const codeOf = async (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'OK',
    (e: { code?: string }) => String(e.code),
  );

describe('credential verification', () => {
  it('uses the membership’s current role and refuses tokens issued before tokens_valid_after', async () => {
    let state: Record<string, unknown> = { tva: null, role: 'VIEWER', mfa: true, revoked: false, bound: true };
    const { orm, calls } = fakeOrm(() => [state]);
    const v = new CredentialVerifier(orm);
    const token = await signAccessToken({ sub: U, tid: T, role: 'OWNER', amr: ['pwd'], sid: S }, SECRET);
    expect(await v.principal(token, SECRET)).toEqual({ kind: 'user', userId: U, tenantId: T, role: 'VIEWER', amr: ['pwd'], mfaRequired: true });
    await v.principal(token, SECRET);
    expect(calls()).toBe(1); // cached
    state = { tva: String(Date.now() + 1000), role: 'VIEWER', mfa: false, revoked: false, bound: true };
    forgetUser(U);
    expect(await codeOf(v.principal(token, SECRET))).toBe('UNAUTHENTICATED');
    state = { tva: null, role: null, mfa: false, revoked: false, bound: true };
    forgetUser(U);
    expect(await codeOf(v.principal(token, SECRET))).toBe('UNAUTHENTICATED');
  });

  it('refuses a token whose session is not its subject’s (in its tenant), or has none', async () => {
    const seen: unknown[][] = [];
    const conn = { execute: (_sql: string, params: unknown[]) => (seen.push(params), Promise.resolve([{ tva: null, role: 'OWNER', mfa: false, revoked: false, bound: false }])) };
    const v = new CredentialVerifier({ em: { fork: () => ({ getConnection: () => conn }) } } as unknown as MikroORM);
    const other = '66666666-6666-4666-8666-666666666666';
    const token = await signAccessToken({ sub: other, tid: T, role: 'OWNER', amr: ['pwd'], sid: S }, SECRET);
    expect(await codeOf(v.principal(token, SECRET))).toBe('UNAUTHENTICATED');
    // The binding is asked of the database for exactly this session, user and tenant.
    expect(seen[0]).toEqual([T, T, S, T, other]);
    const notUuid = await signAccessToken({ sub: other, tid: T, role: 'OWNER', amr: ['pwd'], sid: 'not-a-session' }, SECRET);
    expect(await codeOf(v.principal(notUuid, SECRET))).toBe('UNAUTHENTICATED');
  });

  it('verifies API keys: secret, revocation, expiry', async () => {
    const k = newApiKey();
    let row: Record<string, unknown> = { id: K, tenant_id: T, scopes: ['read:treasury', 'nonsense'], secret_hash: k.secretHash, exp: null, revoked: false, used: String(Date.now()) };
    const { orm } = fakeOrm(() => [row]);
    const v = new CredentialVerifier(orm);
    expect(await v.principal(k.key, SECRET)).toEqual({ kind: 'apiKey', keyId: K, tenantId: T, scopes: ['read:treasury'] });
    expect(await codeOf(v.principal(`abt_live_${k.lookup}_${'x'.repeat(40)}`, SECRET))).toBe('UNAUTHENTICATED');
    expect(await codeOf(v.principal('abt_live_nonsense', SECRET))).toBe('UNAUTHENTICATED');
    row = { ...row, revoked: true };
    forgetApiKey(k.lookup);
    expect(await codeOf(v.principal(k.key, SECRET))).toBe('UNAUTHENTICATED');
    row = { ...row, revoked: false, exp: String(Date.now() - 1) };
    forgetApiKey(k.lookup);
    expect(await codeOf(v.principal(k.key, SECRET))).toBe('UNAUTHENTICATED');
  });
});
