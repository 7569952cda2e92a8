import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from 'otplib';
import { gql } from 'graphql-request';
import { SignJWT } from 'jose';
import { jwtKeyRing, signAccessToken } from '../../lib/auth/tokens';
import { eventually } from '../helpers/db';
import { client, errorCodes, startTestPlatform, type TestPlatform } from '../helpers/platform';
import { at } from '../helpers/present';

const PASSWORD = 'Correct-Horse-42-Battery';
const OTHER_PASSWORD = 'Another-Horse-77-Staple';

type Session = {
  accessToken: string;
  refreshToken: string;
  user: { id: string; email: string; role: string; mfaEnabled: boolean };
  tenant: { id: string; name: string };
};
type LoginResult = {
  accessToken: string | null;
  refreshToken: string | null;
  mfaRequired: boolean;
  mfaChallenge: string | null;
  user: { id: string; role: string } | null;
  tenant: { id: string } | null;
};

const SESSION_FIELDS = `accessToken refreshToken user { id email role mfaEnabled } tenant { id name }`;
const SIGN_UP = gql`mutation ($input: SignUpInput!) { signUp(input: $input) { ${SESSION_FIELDS} } }`;
const LOGIN = gql`
  mutation ($input: LoginInput!) {
    login(input: $input) {
      accessToken
      refreshToken
      mfaRequired
      mfaChallenge
      user { id role }
      tenant { id }
    }
  }
`;
const VERIFY_MFA = gql`mutation ($c: String!, $code: String!) { verifyMfa(challenge: $c, code: $code) { ${SESSION_FIELDS} } }`;
const REFRESH = gql`mutation ($t: String!) { refreshSession(refreshToken: $t) { ${SESSION_FIELDS} } }`;
const INVITE = gql`
  mutation ($email: String!, $role: Role!) {
    inviteUser(email: $email, role: $role) {
      token
      invitation { id email role expiresAt }
    }
  }
`;
const ACCEPT = gql`mutation ($token: String!, $password: String) { acceptInvite(token: $token, password: $password) { ${SESSION_FIELDS} } }`;
const CHANGE_ROLE = gql`
  mutation ($userId: ID!, $role: Role!) {
    changeMemberRole(userId: $userId, role: $role) { userId role }
  }
`;
const REMOVE = gql`mutation ($userId: ID!) { removeMember(userId: $userId) }`;
const MEMBERS = gql`{ members { userId email role } }`;
const ME = gql`{ me { id role tenantId mfaEnabled } }`;
const CREATE_KEY = gql`
  mutation ($input: CreateApiKeyInput!) {
    createApiKey(input: $input) {
      key
      apiKey { id name prefix scopes expiresAt lastUsedAt revokedAt }
    }
  }
`;
const AUDIT = gql`{ auditEvents(first: 10) { edges { node { eventType } } } }`;

/** A partner operation from the committed manifest (the gateway runs only these for API keys). */
function partnerOperation(name: string): string | undefined {
  const path = join(__dirname, '..', '..', 'schema', 'operations', 'manifest.json');
  if (!existsSync(path)) return undefined;
  const m = JSON.parse(readFileSync(path, 'utf8')) as { operations: { name: string; body: string }[] };
  return m.operations.find((o) => o.name === name)?.body;
}

const claimsOf = (jwt: string): Record<string, unknown> =>
  JSON.parse(Buffer.from(at(jwt.split('.'), 1), 'base64url').toString()) as Record<string, unknown>;

describe('identity and roles end to end (through the gateway)', () => {
  let t: TestPlatform;
  beforeAll(async () => {
    t = await startTestPlatform({ redis: true });
  });
  afterAll(async () => {
    await t?.stop();
  });

  let n = 0;
  const unique = (label: string): string => `${label}-${Date.now().toString(36)}-${n++}@id.example`;
  const gw = (token?: string) => client(t.gateway, token);
  const signUp = async (email = unique('owner'), tenantName = 'Identity Co'): Promise<Session> =>
    (await gw().request<{ signUp: Session }>(SIGN_UP, { input: { tenantName, email, password: PASSWORD } })).signUp;
  const login = async (email: string, password = PASSWORD, tenantId?: string): Promise<LoginResult> =>
    (await gw().request<{ login: LoginResult }>(LOGIN, { input: { email, password, tenantId } })).login;
  const invite = async (token: string, email: string, role: string): Promise<string> =>
    (await gw(token).request<{ inviteUser: { token: string } }>(INVITE, { email, role })).inviteUser.token;
  const accept = async (inviteToken: string, password: string | null, bearer?: string): Promise<Session> =>
    (await gw(bearer).request<{ acceptInvite: Session }>(ACCEPT, { token: inviteToken, password })).acceptInvite;
  /**
   * The tenant's audit facts as written in the change's own transaction (its outbox), plus those the
   * workers already appended to the chain; independent of how quickly the relay runs.
   */
  const auditTypes = async (tenantId: string): Promise<string[]> => {
    const rows = await t.db.owner.em.getConnection().execute<{ type: string }[]>(
      `select payload->>'eventType' as type from pool.outbox where tenant_id = ? and queue = 'audit'
       union all select event_type as type from pool.audit_event where tenant_id = ?`,
      [tenantId, tenantId],
    );
    return [...new Set(rows.map((r) => r.type))];
  };
  /** An owner plus a member with the given role, both signed in. */
  const team = async (role: string): Promise<{ owner: Session; member: Session; memberEmail: string }> => {
    const owner = await signUp();
    const memberEmail = unique(role.toLowerCase());
    const member = await accept(await invite(owner.accessToken, memberEmail, role), OTHER_PASSWORD);
    return { owner, member, memberEmail };
  };

  describe('invitations and roles', () => {
    it('invite → accept (new account) → role, then a role change, audited', async () => {
      const owner = await signUp();
      const email = unique('new');
      const inv = await gw(owner.accessToken).request<{ inviteUser: { token: string; invitation: { email: string; role: string } } }>(INVITE, {
        email,
        role: 'USER',
      });
      expect(inv.inviteUser.invitation).toMatchObject({ email, role: 'USER' });
      const joined = await accept(inv.inviteUser.token, OTHER_PASSWORD);
      expect(joined.user).toMatchObject({ email, role: 'USER' });
      expect(joined.tenant.id).toBe(owner.tenant.id);
      // Single use.
      expect(await errorCodes(accept(inv.inviteUser.token, OTHER_PASSWORD))).toEqual(['UNAUTHENTICATED']);

      const changed = await gw(owner.accessToken).request<{ changeMemberRole: { role: string } }>(CHANGE_ROLE, { userId: joined.user.id, role: 'ADMIN' });
      expect(changed.changeMemberRole.role).toBe('ADMIN');
      // The member's existing token now acts with the new role (membership is re-read on every request).
      expect((await gw(joined.accessToken).request<{ me: { role: string } }>(ME)).me.role).toBe('ADMIN');
      const members = await gw(owner.accessToken).request<{ members: { email: string; role: string }[] }>(MEMBERS);
      expect(members.members.map((m) => m.role).sort()).toEqual(['ADMIN', 'OWNER']);
      const types = await eventually(() => auditTypes(owner.tenant.id), (ts) => ts.includes('member.role_changed'));
      expect(types).toEqual(expect.arrayContaining(['member.invited', 'member.invite_accepted', 'member.role_changed']));
    });

    it('an existing user joins a second tenant, lists both and switches between them', async () => {
      const a = await signUp(unique('a'), 'Tenant A');
      const bEmail = unique('b');
      const b = await signUp(bEmail, 'Tenant B');
      const token = await invite(a.accessToken, bEmail, 'VIEWER');
      // An existing account must prove itself: no password → refused; signed in → joins.
      expect(await errorCodes(accept(token, null))).toEqual(['UNAUTHENTICATED']);
      const joined = await accept(token, null, b.accessToken);
      expect(joined.tenant.id).toBe(a.tenant.id);
      expect(joined.user.role).toBe('VIEWER');
      const mine = await gw(b.accessToken).request<{ myTenants: { tenant: { id: string }; role: string }[] }>(
        gql`{ myTenants { tenant { id } role } }`,
      );
      expect(mine.myTenants).toEqual([
        { tenant: { id: b.tenant.id }, role: 'OWNER' },
        { tenant: { id: a.tenant.id }, role: 'VIEWER' },
      ]);
      const switched = await gw(b.accessToken).request<{ switchTenant: Session }>(
        gql`mutation ($id: ID!) { switchTenant(tenantId: $id) { ${SESSION_FIELDS} } }`,
        { id: a.tenant.id },
      );
      expect(switched.switchTenant.user.role).toBe('VIEWER');
      expect((await gw(switched.switchTenant.accessToken).request<{ tenant: { id: string } }>(gql`{ tenant { id } }`)).tenant.id).toBe(a.tenant.id);
      // Not a member: NOT_FOUND, never a token.
      const c = await signUp();
      expect(await errorCodes(gw(c.accessToken).request(gql`mutation ($id: ID!) { switchTenant(tenantId: $id) { accessToken } }`, { id: a.tenant.id }))).toEqual([
        'NOT_FOUND',
      ]);
      // login may name the tenant too.
      expect((await login(bEmail, PASSWORD, a.tenant.id)).tenant?.id).toBe(a.tenant.id);
    });

    it('VIEWER reads only; ADMIN manages members but cannot touch OWNERs', async () => {
      const { owner, member: viewer } = await team('VIEWER');
      expect(await errorCodes(gw(viewer.accessToken).request(INVITE, { email: unique('x'), role: 'USER' }))).toEqual(['FORBIDDEN']);
      expect((await gw(viewer.accessToken).request<{ members: unknown[] }>(MEMBERS)).members).toHaveLength(2);
      expect(await errorCodes(gw(viewer.accessToken).request(gql`{ apiKeys { id } }`))).toEqual(['FORBIDDEN']);

      const adminEmail = unique('admin');
      const admin = await accept(await invite(owner.accessToken, adminEmail, 'ADMIN'), OTHER_PASSWORD);
      expect(await errorCodes(gw(admin.accessToken).request(INVITE, { email: unique('o'), role: 'OWNER' }))).toEqual(['FORBIDDEN']);
      expect(await errorCodes(gw(admin.accessToken).request(CHANGE_ROLE, { userId: owner.user.id, role: 'VIEWER' }))).toEqual(['FORBIDDEN']);
      expect(await errorCodes(gw(admin.accessToken).request(REMOVE, { userId: owner.user.id }))).toEqual(['FORBIDDEN']);
      expect(await errorCodes(gw(admin.accessToken).request(CHANGE_ROLE, { userId: viewer.user.id, role: 'OWNER' }))).toEqual(['FORBIDDEN']);
      await gw(admin.accessToken).request(CHANGE_ROLE, { userId: viewer.user.id, role: 'USER' });
      expect(await errorCodes(gw(admin.accessToken).request(gql`mutation { setRequireMfaForAdmins(enabled: true) { id } }`))).toEqual(['FORBIDDEN']);
      // Removal ends the member's access at once.
      await gw(admin.accessToken).request(REMOVE, { userId: viewer.user.id });
      expect(await errorCodes(gw(viewer.accessToken).request(ME))).toEqual(['UNAUTHENTICATED']);
      expect(await errorCodes(gw().request(REFRESH, { t: viewer.refreshToken }))).toEqual(['UNAUTHENTICATED']);
    });

    it('nobody removes or demotes the last OWNER', async () => {
      const owner = await signUp();
      expect(await errorCodes(gw(owner.accessToken).request(CHANGE_ROLE, { userId: owner.user.id, role: 'ADMIN' }))).toEqual(['CONFLICT']);
      expect(await errorCodes(gw(owner.accessToken).request(REMOVE, { userId: owner.user.id }))).toEqual(['CONFLICT']);
      expect((await gw(owner.accessToken).request<{ me: { role: string } }>(ME)).me.role).toBe('OWNER');
    });

    it('two OWNERs demoting each other at once: exactly one wins, one OWNER remains', async () => {
      for (let round = 0; round < 3; round++) {
        const a = await signUp();
        const b = await accept(await invite(a.accessToken, unique('co'), 'OWNER'), OTHER_PASSWORD);
        const results = await Promise.allSettled([
          gw(a.accessToken).request(CHANGE_ROLE, { userId: b.user.id, role: 'ADMIN' }),
          gw(b.accessToken).request(CHANGE_ROLE, { userId: a.user.id, role: 'ADMIN' }),
          gw(a.accessToken).request(REMOVE, { userId: b.user.id }),
          gw(b.accessToken).request(REMOVE, { userId: a.user.id }),
        ]);
        expect(results.filter((r) => r.status === 'fulfilled').length).toBeGreaterThanOrEqual(1);
        const owners = await t.db.owner.em
          .getConnection()
          .execute<{ n: string }[]>(`select count(*) as n from public.membership where tenant_id = ? and role = 'OWNER'`, [a.tenant.id]);
        expect(Number(at(owners, 0).n)).toBe(1);
      }
    });
  });

  describe('tokens', () => {
    it('refresh rotates; presenting a used refresh token revokes the family and its access tokens', async () => {
      const s = await signUp();
      const r1 = (await gw().request<{ refreshSession: Session }>(REFRESH, { t: s.refreshToken })).refreshSession;
      expect(await errorCodes(gw().request(REFRESH, { t: s.refreshToken }))).toEqual(['UNAUTHENTICATED']);
      expect(await errorCodes(gw().request(REFRESH, { t: r1.refreshToken }))).toEqual(['UNAUTHENTICATED']);
      expect(await errorCodes(gw(r1.accessToken).request(ME))).toEqual(['UNAUTHENTICATED']);
    });

    it('logout ends one session; logoutEverywhere ends all, access tokens included', async () => {
      const email = unique('lo');
      const s1 = await signUp(email);
      const s2 = await login(email);
      await gw().request(gql`mutation ($t: String!) { logout(refreshToken: $t) }`, { t: s1.refreshToken });
      expect(await errorCodes(gw().request(REFRESH, { t: s1.refreshToken }))).toEqual(['UNAUTHENTICATED']);
      expect(await errorCodes(gw(s1.accessToken).request(ME))).toEqual(['UNAUTHENTICATED']);
      expect((await gw(s2.accessToken!).request<{ me: { id: string } }>(ME)).me.id).toBe(s1.user.id);

      const s3 = await login(email);
      await gw(s3.accessToken!).request(gql`mutation { logoutEverywhere }`);
      for (const token of [s2.accessToken!, s3.accessToken!]) {
        expect(await errorCodes(gw(token).request(ME))).toEqual(['UNAUTHENTICATED']);
        expect(await errorCodes(client(t.platform.urls.treasury!, token).request(gql`{ treasuryRules { id } }`))).toEqual(['UNAUTHENTICATED']);
      }
      expect(await errorCodes(gw().request(REFRESH, { t: s3.refreshToken }))).toEqual(['UNAUTHENTICATED']);
      // A login right after works.
      const again = await login(email);
      expect((await gw(again.accessToken!).request<{ me: { id: string } }>(ME)).me.id).toBe(s1.user.id);
      const types = await eventually(() => auditTypes(s1.tenant.id), (ts) => ts.includes('auth.logged_out_everywhere'));
      expect(types).toEqual(expect.arrayContaining(['auth.logged_out', 'auth.logged_out_everywhere']));
    });

    it('expired and tampered tokens are UNAUTHENTICATED', async () => {
      const s = await signUp();
      const expired = await signAccessToken({ sub: s.user.id, tid: s.tenant.id, role: 'OWNER', amr: ['pwd'], sid: randomUUID() }, t.platform.jwtSecret, -10);
      const [h, , sig] = s.accessToken.split('.');
      const forged = `${h}.${Buffer.from(JSON.stringify({ ...claimsOf(s.accessToken), amr: ['pwd', 'otp'] })).toString('base64url')}.${sig}`;
      for (const token of [expired, forged]) {
        expect(await errorCodes(gw(token).request(ME))).toEqual(['UNAUTHENTICATED']);
        expect(await errorCodes(client(t.platform.urls.tenant!, token).request(ME))).toEqual(['UNAUTHENTICATED']);
      }
    });
    it('tokens minted with the real key but without exp or iat, for another audience, or naming another user’s session are UNAUTHENTICATED', async () => {
      const a = await signUp();
      const b = await signUp();
      const key = jwtKeyRing(t.platform.jwtSecret);
      const mint = async (payload: Record<string, unknown>, omit: string[] = []): Promise<string> => {
        const now = Math.floor(Date.now() / 1000);
        const claims: Record<string, unknown> = { ...claimsOf(b.accessToken), iat: now, exp: now + 600, ...payload };
        for (const k of omit) delete claims[k];
        return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: key.current }).sign(new TextEncoder().encode(key.keys[key.current]));
      };
      // The control: a hand-made copy of b's own claims is accepted, so each refusal below is for its one difference.
      expect((await gw(await mint({})).request<{ me: { id: string } }>(ME)).me.id).toBe(b.user.id);
      const forgeries = {
        noExp: await mint({}, ['exp']),
        noIat: await mint({}, ['iat', 'ims']),
        wrongAudience: await mint({ aud: 'liquid-abt-mfa-challenge' }),
        othersSession: await mint({ sid: claimsOf(a.accessToken).sid }),
        unknownSession: await mint({ sid: randomUUID() }),
      };
      const refusals: Record<string, string[]> = {};
      for (const [name, token] of Object.entries(forgeries)) {
        refusals[name] = [
          ...(await errorCodes(gw(token).request(ME))),
          ...(await errorCodes(client(t.platform.urls.treasury!, token).request(gql`{ treasuryRules { id } }`))),
        ];
      }
      expect(refusals).toEqual(Object.fromEntries(Object.keys(forgeries).map((k) => [k, ['UNAUTHENTICATED', 'UNAUTHENTICATED']])));
    });
  });

  describe('MFA', () => {
    const ENROLL = gql`mutation { enrollMfa { secret otpauthUri } }`;
    const CONFIRM = gql`mutation ($code: String!) { confirmMfa(code: $code) { recoveryCodes } }`;
    /** A code for the next 30-second step: never the one confirmMfa just used. */
    const nextCode = (secret: string): Promise<string> => generate({ secret, epoch: Math.floor(Date.now() / 1000) + 30 });

    const enrol = async (s: Session): Promise<{ secret: string; recoveryCodes: string[] }> => {
      const { enrollMfa } = await gw(s.accessToken).request<{ enrollMfa: { secret: string; otpauthUri: string } }>(ENROLL);
      expect(enrollMfa.otpauthUri).toMatch(/^otpauth:\/\/totp\/Liquid%20ABT:.*secret=/);
      expect(await errorCodes(gw(s.accessToken).request(CONFIRM, { code: '000000' }))).toEqual(['INVALID_CREDENTIALS']);
      const code = await generate({ secret: enrollMfa.secret });
      const { confirmMfa } = await gw(s.accessToken).request<{ confirmMfa: { recoveryCodes: string[] } }>(CONFIRM, { code });
      return { secret: enrollMfa.secret, recoveryCodes: confirmMfa.recoveryCodes };
    };

    it('enrol, confirm, two-step login with TOTP; codes and recovery codes are single use', async () => {
      const email = unique('mfa');
      const s = await signUp(email);
      const { secret, recoveryCodes } = await enrol(s);
      expect(recoveryCodes).toHaveLength(10);
      expect(new Set(recoveryCodes).size).toBe(10);
      const stored = await t.db.owner.em
        .getConnection()
        .execute<{ sealed: string }[]>(`select mfa_secret_sealed as sealed from public.app_user where id = ?`, [s.user.id]);
      expect(at(stored, 0).sealed).toMatch(/^v1\./);
      expect(at(stored, 0).sealed).not.toContain(secret);

      const step1 = await login(email);
      expect(step1).toMatchObject({ mfaRequired: true, accessToken: null, refreshToken: null });
      expect(await errorCodes(gw().request(VERIFY_MFA, { c: step1.mfaChallenge, code: '123456' }))).toEqual(['INVALID_CREDENTIALS']);
      // The challenge is not an access token.
      expect(await errorCodes(gw(step1.mfaChallenge!).request(ME))).toEqual(['UNAUTHENTICATED']);
      const code = await nextCode(secret);
      const done = (await gw().request<{ verifyMfa: Session }>(VERIFY_MFA, { c: step1.mfaChallenge, code })).verifyMfa;
      expect(claimsOf(done.accessToken).amr).toEqual(['pwd', 'otp']);
      expect(done.user.mfaEnabled).toBe(true);
      // The same TOTP code twice: refused.
      const again = await login(email);
      expect(await errorCodes(gw().request(VERIFY_MFA, { c: again.mfaChallenge, code }))).toEqual(['INVALID_CREDENTIALS']);
      // A recovery code works once.
      const viaRecovery = (await gw().request<{ verifyMfa: Session }>(VERIFY_MFA, { c: again.mfaChallenge, code: recoveryCodes[3] })).verifyMfa;
      expect(claimsOf(viaRecovery.accessToken).amr).toEqual(['pwd', 'otp']);
      const third = await login(email);
      expect(await errorCodes(gw().request(VERIFY_MFA, { c: third.mfaChallenge, code: recoveryCodes[3] }))).toEqual(['INVALID_CREDENTIALS']);
      // The second factor survives a refresh.
      const refreshed = (await gw().request<{ refreshSession: Session }>(REFRESH, { t: viaRecovery.refreshToken })).refreshSession;
      expect(claimsOf(refreshed.accessToken).amr).toEqual(['pwd', 'otp']);
      const types = await eventually(() => auditTypes(s.tenant.id), (ts) => ts.includes('auth.recovery_code_used'));
      expect(types).toEqual(expect.arrayContaining(['mfa.enrolment_started', 'mfa.enabled', 'auth.mfa_challenged', 'auth.mfa_used', 'auth.mfa_failed', 'auth.recovery_code_used']));
    });

    it('with requireMfaForAdmins, sensitive mutations need an otp session (MFA_REQUIRED)', async () => {
      const email = unique('req');
      const owner = await signUp(email);
      await gw(owner.accessToken).request(gql`mutation { setRequireMfaForAdmins(enabled: true) { requireMfaForAdmins } }`);
      const keyInput = { input: { name: 'k', scopes: ['read:treasury'] } };
      expect(await errorCodes(gw(owner.accessToken).request(CREATE_KEY, keyInput))).toEqual(['MFA_REQUIRED']);
      expect(await errorCodes(gw(owner.accessToken).request(INVITE, { email: unique('i'), role: 'USER' }))).toEqual(['MFA_REQUIRED']);
      expect(
        await errorCodes(
          gw(owner.accessToken).request(gql`mutation { connectPaymentIntegration(input: { provider: STRIPE, name: "S", stripeWebhookSecret: "whsec_test_0123456789abcdef" }) { id } }`),
        ),
      ).toEqual(['MFA_REQUIRED']);
      expect(await errorCodes(gw(owner.accessToken).request(gql`mutation { setRequireMfaForAdmins(enabled: false) { id } }`))).toEqual(['MFA_REQUIRED']);
      // Reads still work; enrolling is allowed; with otp the same mutation passes.
      expect((await gw(owner.accessToken).request<{ me: { id: string } }>(ME)).me.id).toBe(owner.user.id);
      const { secret } = await enrol(owner);
      const step1 = await login(email);
      const strong = (await gw().request<{ verifyMfa: Session }>(VERIFY_MFA, { c: step1.mfaChallenge, code: await nextCode(secret) })).verifyMfa;
      const created = await gw(strong.accessToken).request<{ createApiKey: { key: string } }>(CREATE_KEY, keyInput);
      expect(created.createApiKey.key).toMatch(/^abt_live_/);
    });
  });

  describe('login throttling', () => {
    it('locks after repeated failures, the same way for unknown emails, with the same messages', async () => {
      const email = unique('lock');
      const victim = await signUp(email);
      const ghost = unique('ghost');
      const attempt = async (who: string, password: string): Promise<{ code: string; message: string }> => {
        try {
          await login(who, password);
          return { code: 'OK', message: '' };
        } catch (err) {
          const e = at((err as { response: { errors: { message: string; extensions: { code: string } }[] } }).response.errors, 0, 'errors');
          return { code: e.extensions.code, message: e.message };
        }
      };
      const real: { code: string; message: string }[] = [];
      const fake: { code: string; message: string }[] = [];
      for (let i = 0; i < 5; i++) {
        real.push(await attempt(email, 'Wrong-Password-123'));
        fake.push(await attempt(ghost, 'Wrong-Password-123'));
      }
      expect(real).toEqual(fake);
      expect(real.every((r) => r.code === 'INVALID_CREDENTIALS')).toBe(true);
      // Now even the right password is refused for a while; the unknown email behaves identically.
      expect(await attempt(email, PASSWORD)).toEqual(await attempt(ghost, PASSWORD));
      expect((await attempt(email, PASSWORD)).code).toBe('ACCOUNT_LOCKED');
      const rows = await t.db.owner.em.getConnection().execute<{ key: string }[]>(`select key from public.login_throttle`);
      expect(rows.every((r) => !r.key.includes('@'))).toBe(true);
      await eventually(() => auditTypes(victim.tenant.id), (ts) => ts.includes('auth.login_failed') && ts.includes('auth.locked_out'));
    });
  });

  describe('API keys', () => {
    const TENANT_RULES = gql`{ tenant { id treasuryRules { id } } }`;
    /** Through the gateway when it forwards keys, else straight to the subgraphs (gateway change in flight). */
    const viaGatewayOr = async (key: string, fallbackUrl: string): Promise<string> => {
      const codes = await errorCodes(gw(key).request(gql`{ tenant { id } }`)).catch(() => [] as string[]);
      return codes.length === 0 ? t.gateway : fallbackUrl;
    };

    it('create → use → scope refusal → revoke; the secret is shown once and stored hashed', async () => {
      const { owner, member: user } = await team('USER');
      expect(await errorCodes(gw(user.accessToken).request(CREATE_KEY, { input: { name: 'x', scopes: ['read:treasury'] } }))).toEqual(['FORBIDDEN']);
      expect(await errorCodes(gw(owner.accessToken).request(CREATE_KEY, { input: { name: 'x', scopes: ['admin:all'] } }))).toEqual(['BAD_USER_INPUT']);
      const created = (
        await gw(owner.accessToken).request<{ createApiKey: { key: string; apiKey: { id: string; prefix: string; scopes: string[] } } }>(CREATE_KEY, {
          input: { name: 'Partner', scopes: ['read:treasury'] },
        })
      ).createApiKey;
      expect(created.key).toMatch(/^abt_live_[0-9A-Za-z]{12}_[0-9A-Za-z]{32,}$/);
      expect(created.key.startsWith(`${created.apiKey.prefix}_`)).toBe(true);
      const secret = created.key.split('_').pop()!;
      const dump = JSON.stringify(await t.db.owner.em.getConnection().execute(`select * from public.api_key`));
      expect(dump).not.toContain(secret);

      // Through the gateway, with the partner operations it allows keys to run.
      const tenantOp = partnerOperation('PartnerTenant');
      const rulesOp = partnerOperation('PartnerTreasuryRules');
      const auditOp = partnerOperation('PartnerAuditEvents');
      const meOp = partnerOperation('PartnerMe');
      if (tenantOp && rulesOp && auditOp && meOp) {
        const g = gw(created.key);
        expect((await g.request<{ tenant: { id: string } }>(tenantOp)).tenant.id).toBe(owner.tenant.id);
        expect((await g.request<{ treasuryRules: unknown[] }>(rulesOp)).treasuryRules).toEqual([]);
        expect(await errorCodes(g.request(auditOp))).toEqual(['FORBIDDEN']);
        expect(await errorCodes(g.request(meOp))).toEqual(['FORBIDDEN']);
      }
      const url = await viaGatewayOr(created.key, t.platform.urls.tenant!);
      const k = client(url, created.key);
      expect((await k.request<{ tenant: { id: string } }>(gql`{ tenant { id } }`)).tenant.id).toBe(owner.tenant.id);
      const rules = await client(url === t.gateway ? url : t.platform.urls.treasury!, created.key).request<{ treasuryRules: unknown[] }>(gql`{ treasuryRules { id } }`);
      expect(rules.treasuryRules).toEqual([]);
      if (url === t.gateway) expect((await k.request<{ tenant: { id: string } }>(TENANT_RULES)).tenant.id).toBe(owner.tenant.id);
      // Outside its scopes, and never user or key management.
      expect(await errorCodes(client(url === t.gateway ? url : t.platform.urls.compliance!, created.key).request(AUDIT))).toEqual(['FORBIDDEN']);
      expect(await errorCodes(client(url === t.gateway ? url : t.platform.urls.tenant!, created.key).request(ME))).toEqual(['FORBIDDEN']);
      expect(await errorCodes(client(url === t.gateway ? url : t.platform.urls.tenant!, created.key).request(CREATE_KEY, { input: { name: 'y', scopes: ['read:treasury'] } }))).toEqual([
        'FORBIDDEN',
      ]);
      const listed = await gw(owner.accessToken).request<{ apiKeys: { id: string; lastUsedAt: string | null }[] }>(gql`{ apiKeys { id name prefix scopes lastUsedAt } }`);
      expect(JSON.stringify(listed)).not.toContain(secret);
      await eventually(
        () => gw(owner.accessToken).request<{ apiKeys: { lastUsedAt: string | null }[] }>(gql`{ apiKeys { lastUsedAt } }`),
        (r) => at(r.apiKeys, 0).lastUsedAt !== null,
      );
      // A wrong secret with a real prefix, then revocation.
      const wrong = `${created.apiKey.prefix}_${'x'.repeat(40)}`;
      expect(await errorCodes(client(t.platform.urls.tenant!, wrong).request(gql`{ tenant { id } }`))).toEqual(['UNAUTHENTICATED']);
      await gw(owner.accessToken).request(gql`mutation ($id: ID!) { revokeApiKey(id: $id) { revokedAt } }`, { id: created.apiKey.id });
      expect(await errorCodes(client(t.platform.urls.tenant!, created.key).request(gql`{ tenant { id } }`))).toEqual(['UNAUTHENTICATED']);
      expect(await errorCodes(client(t.platform.urls.treasury!, created.key).request(gql`{ treasuryRules { id } }`))).toEqual(['UNAUTHENTICATED']);
      if (tenantOp) expect(await errorCodes(gw(created.key).request(tenantOp))).toEqual(['UNAUTHENTICATED']);
      // Another tenant cannot revoke it: NOT_FOUND.
      const other = await signUp();
      expect(await errorCodes(gw(other.accessToken).request(gql`mutation ($id: ID!) { revokeApiKey(id: $id) { id } }`, { id: created.apiKey.id }))).toEqual(['NOT_FOUND']);
      const types = await eventually(() => auditTypes(owner.tenant.id), (ts) => ts.includes('api_key.revoked'));
      expect(types).toEqual(expect.arrayContaining(['api_key.created', 'api_key.revoked']));
    });

    it('an expired key is UNAUTHENTICATED', async () => {
      const owner = await signUp();
      // Long enough to be used once even on a loaded machine; then wait for the expiry itself, not a fixed time.
      const expiresAt = Date.now() + 10_000;
      const created = (
        await gw(owner.accessToken).request<{ createApiKey: { key: string } }>(CREATE_KEY, {
          input: { name: 'Short', scopes: ['read:treasury'], expiresAt: new Date(expiresAt).toISOString() },
        })
      ).createApiKey;
      const tenant = client(t.platform.urls.tenant!, created.key);
      expect((await tenant.request<{ tenant: { id: string } }>(gql`{ tenant { id } }`)).tenant.id).toBe(owner.tenant.id);
      await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now()) + 200));
      expect(await errorCodes(tenant.request(gql`{ tenant { id } }`))).toEqual(['UNAUTHENTICATED']);
      expect(
        await errorCodes(gw(owner.accessToken).request(CREATE_KEY, { input: { name: 'Past', scopes: ['read:treasury'], expiresAt: new Date(Date.now() - 1000).toISOString() } })),
      ).toEqual(['BAD_USER_INPUT']);
    });
  });
});
