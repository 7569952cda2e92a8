import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'graphql-ws';
import { gql } from 'graphql-request';
import { generate } from 'otplib';
import Stripe from 'stripe';
import WebSocket from 'ws';
import { tokenKeyId } from '../../lib/auth/tokens';
import { loadConfig } from '../../lib/config';
import type { LocalSecrets } from '../../lib/secrets';
import { ROLES, startPlatform, type Platform } from '../../ops/platform';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { client, errorCodes, testEnv } from '../helpers/platform';
import { waitFor } from '../helpers/wait';
import { at } from '../helpers/present';

const PASSWORD = 'Correct-Horse-42-Battery';
const WHSEC = 'whsec_rotation_0123456789abcdef';
type Session = { accessToken: string; refreshToken: string; user: { id: string }; tenant: { id: string } };
const SESSION = 'accessToken refreshToken user { id } tenant { id }';
const ME = gql`{ me { id } }`;
const kidOf = (sealed: string): string => at(sealed.split('.'), 1);

/**
 * A full rotation in embedded mode (keys generated into DATA_DIR/secrets.json): the keys age past
 * KEY_ROTATION_DAYS, the platform adds new ones, everyone stays signed in and every sealed value
 * still opens; the re-seal job moves everything to the new keys; then the platform restarts with
 * only the new keys (as an operator would after the access-token lifetime) and nobody is logged out.
 */
describe('key rotation end to end: JWT signing key and the sealing key, with nobody logged out', () => {
  let db: TestDatabase;
  let dataDir: string;
  let p: Platform;
  const stopped: Platform[] = [];

  const start = async (env: NodeJS.ProcessEnv = {}): Promise<Platform> => {
    const platform = await startPlatform(
      loadConfig(testEnv(db, { env: { DATA_DIR: dataDir, JWT_SECRET: '', KEY_RESEAL_INTERVAL_MS: '3600000', ...env } })),
      { roles: ROLES, migrate: false },
    );
    // The test runs the daily job itself, at the moments it checks.
    await platform.services.keyJob!.stop();
    return platform;
  };
  const gw = (token?: string) => client(p.gatewayUrl!, token);
  const secretsFile = (): LocalSecrets => JSON.parse(readFileSync(join(dataDir, 'secrets.json'), 'utf8')) as LocalSecrets;
  const sql = <T>(q: string, params: unknown[] = []): Promise<T[]> => db.owner.em.getConnection().execute<T[]>(q, params);

  const signUp = async (label: string): Promise<Session & { email: string }> => {
    const email = `${label}-${randomUUID()}@rotation.example`;
    const { signUp: s } = await gw().request<{ signUp: Session }>(gql`mutation ($i: SignUpInput!) { signUp(input: $i) { ${SESSION} } }`, {
      i: { tenantName: `Rotation ${label}`, email, password: PASSWORD },
    });
    return { ...s, email };
  };
  const refresh = async (token: string): Promise<Session> =>
    (await gw().request<{ refreshSession: Session }>(gql`mutation ($t: String!) { refreshSession(refreshToken: $t) { ${SESSION} } }`, { t: token })).refreshSession;
  const webhook = async (integrationId: string, n: number): Promise<number> => {
    const body = JSON.stringify({
      id: `evt_rot_${n}_${randomUUID()}`,
      object: 'event',
      type: 'payment_intent.succeeded',
      created: Math.floor(Date.now() / 1000),
      data: { object: { id: `pi_rot_${n}`, object: 'payment_intent', amount: 1000, amount_received: 1000, currency: 'aud', status: 'succeeded' } },
    });
    const res = await fetch(`${p.urls.tenant!.replace(/\/graphql$/, '')}/webhooks/stripe/${integrationId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload: body, secret: WHSEC }) },
      body,
    });
    return res.status;
  };
  // TOTP codes are accepted once per 30-second step: each login uses a later step than the last.
  let lastStep = 0;
  const totp = async (secret: string): Promise<string> => {
    const step = Math.max(lastStep + 1, Math.floor(Date.now() / 30_000));
    await waitFor(() => step <= Math.floor(Date.now() / 30_000) + 1, 'the next TOTP step', 40_000);
    lastStep = step;
    return generate({ secret, epoch: step * 30 });
  };
  const mfaLogin = async (email: string, secret: string): Promise<string> => {
    const { login } = await gw().request<{ login: { mfaChallenge: string } }>(gql`mutation ($i: LoginInput!) { login(input: $i) { mfaChallenge } }`, { i: { email, password: PASSWORD } });
    const { verifyMfa } = await gw().request<{ verifyMfa: Session }>(gql`mutation ($c: String!, $code: String!) { verifyMfa(challenge: $c, code: $code) { ${SESSION} } }`, {
      c: login.mfaChallenge,
      code: await totp(secret),
    });
    return verifyMfa.accessToken;
  };
  const tick = async (token: string): Promise<unknown> => {
    const ws = createClient({ url: `${p.gatewayUrl!.replace(/^http/, 'ws')}`, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${token}` }, retryAttempts: 0 });
    try {
      return await new Promise((resolve, reject) => {
        ws.subscribe({ query: 'subscription { btcPrice { source } }' }, { next: resolve, error: reject, complete: () => reject(new Error('completed')) });
      });
    } finally {
      await ws.dispose();
    }
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    dataDir = mkdtempSync(join(tmpdir(), 'abt-rotation-'));
    p = await start();
  });
  afterAll(async () => {
    await p?.stop();
    for (const s of stopped) await s.stop().catch(() => undefined);
    await db?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('rotates, keeps everyone signed in, re-seals, and drops the old keys', async () => {
    // Before: generated keys, kids "default" (JWT) and "local" (sealing).
    const owner = await signUp('owner');
    const { connectPaymentIntegration: integration } = await gw(owner.accessToken).request<{ connectPaymentIntegration: { id: string } }>(
      gql`mutation ($s: String!) { connectPaymentIntegration(input: { provider: STRIPE, name: "Stripe AU", stripeWebhookSecret: $s }) { id } }`,
      { s: WHSEC },
    );
    const mfaUser = await signUp('mfa');
    const { enrollMfa } = await gw(mfaUser.accessToken).request<{ enrollMfa: { secret: string } }>(gql`mutation { enrollMfa { secret } }`);
    lastStep = Math.floor(Date.now() / 30_000);
    await gw(mfaUser.accessToken).request(gql`mutation ($c: String!) { confirmMfa(code: $c) { recoveryCodes } }`, {
      c: await generate({ secret: enrollMfa.secret, epoch: lastStep * 30 }),
    });
    const b = await signUp('b');
    const c = await signUp('c');
    expect([tokenKeyId(b.accessToken), tokenKeyId(c.accessToken)]).toEqual(['default', 'default']);
    const sealedBefore = await sql<{ sealed: string }>(`select credentials_sealed as sealed from pool.payment_integration`);
    const mfaBefore = await sql<{ sealed: string }>(`select mfa_secret_sealed as sealed from public.app_user where id = ?`, [mfaUser.user.id]);
    expect([...sealedBefore, ...mfaBefore].map((r) => kidOf(r.sealed))).toEqual(['local', 'local']);
    expect(await webhook(integration.id, 1)).toBe(200);

    // 91 days pass: the generated keys are older than KEY_ROTATION_DAYS (90).
    const aged = secretsFile();
    const old = new Date(Date.now() - 91 * 86_400_000).toISOString();
    writeFileSync(join(dataDir, 'secrets.json'), JSON.stringify({ ...aged, keysSince: { jwt: old, integration: old } }), { mode: 0o600 });
    expect(p.services.keys!.rotate!()).toEqual(['jwt', 'integration']);
    const rotated = secretsFile();
    const [jwtKey, sealKey] = [rotated.jwtKeys![0], rotated.integrationKeys![0]];
    if (!jwtKey || !sealKey) throw new Error('expected jwtKey, sealKey to be present');
    expect([p.services.keys!.jwt.current, p.services.keys!.sealing.current]).toEqual([jwtKey.kid, sealKey.kid]);
    // A second check the same day rotates nothing.
    expect(p.services.keys!.rotate!()).toEqual([]);

    // Under the new keys, before any re-seal: old tokens verify (gateway, subgraph, WebSocket), refresh issues new-kid tokens.
    expect((await gw(b.accessToken).request<{ me: { id: string } }>(ME)).me.id).toBe(b.user.id);
    expect(await client(p.urls.treasury!, b.accessToken).request(gql`{ treasuryRules { id } }`)).toEqual({ treasuryRules: [] });
    expect(await tick(b.accessToken)).toEqual({ data: { btcPrice: { source: 'SIMULATED' } } });
    const b2 = await refresh(b.refreshToken);
    expect(tokenKeyId(b2.accessToken)).toBe(jwtKey.kid);
    expect((await gw(b2.accessToken).request<{ me: { id: string } }>(ME)).me.id).toBe(b.user.id);
    // Values sealed under the old key still open: the webhook verifies, the TOTP login works.
    expect(await webhook(integration.id, 2)).toBe(200);
    const viaMfa = await mfaLogin(mfaUser.email, enrollMfa.secret);
    expect(tokenKeyId(viaMfa)).toBe(jwtKey.kid);
    // New values seal under the new key.
    await gw(owner.accessToken).request(gql`mutation ($s: String!) { connectPaymentIntegration(input: { provider: STRIPE, name: "Second", stripeWebhookSecret: $s }) { id } }`, { s: WHSEC });
    const mixed = await sql<{ sealed: string }>(`select credentials_sealed as sealed from pool.payment_integration order by created_at`);
    expect(mixed.map((r) => kidOf(r.sealed))).toEqual(['local', sealKey.kid]);

    // The daily job moves everything to the new key, once; audited without secrets.
    const report = await p.services.keyJob!.runOnce();
    expect(report).toEqual({ rotated: [], integrations: { resealed: 1, failed: 0, tenants: 1 }, mfa: { resealed: 1, failed: 0 }, webhooks: { resealed: 0, failed: 0 } });
    expect(await p.services.keyJob!.runOnce()).toEqual({ rotated: [], integrations: { resealed: 0, failed: 0, tenants: 0 }, mfa: { resealed: 0, failed: 0 }, webhooks: { resealed: 0, failed: 0 } });
    const after = await sql<{ sealed: string }>(
      `select credentials_sealed as sealed from pool.payment_integration union all select mfa_secret_sealed from public.app_user where mfa_secret_sealed is not null`,
    );
    expect(after.map((r) => kidOf(r.sealed))).toEqual([sealKey.kid, sealKey.kid, sealKey.kid]);
    let audits: { tenant_id: string; type: string; payload: string }[] = [];
    await waitFor(
      async () => {
        audits = await sql<{ tenant_id: string; type: string; payload: string }>(
          `select tenant_id, payload->>'eventType' as type, payload::text as payload from pool.outbox where queue = 'audit' and payload->>'eventType' in ('keys.credentials_resealed', 'mfa.secret_resealed')
           union all select tenant_id, event_type, payload::text from pool.audit_event where event_type in ('keys.credentials_resealed', 'mfa.secret_resealed')`,
        );
        return new Set(audits.map((r) => r.type)).size === 2;
      },
      'the re-seal audit events',
    );
    const byType = Object.fromEntries(audits.map((r) => [r.type, r.tenant_id.toLowerCase()]));
    expect(byType).toEqual({ 'keys.credentials_resealed': owner.tenant.id, 'mfa.secret_resealed': mfaUser.tenant.id });
    const text = audits.map((r) => r.payload).join('\n');
    expect(text).toContain(sealKey.kid);
    for (const secret of [WHSEC, enrollMfa.secret, sealKey.secret, aged.integrationKey]) expect(text).not.toContain(secret);

    // The operator drops the old keys: only the new ones, from the environment.
    await p.stop();
    stopped.push(p);
    p = await start({ JWT_KEYS: `${jwtKey.kid}:${jwtKey.secret}`, INTEGRATION_KEYS: `${sealKey.kid}:${sealKey.secret}` });
    expect((await gw(b2.accessToken).request<{ me: { id: string } }>(ME)).me.id).toBe(b.user.id);
    // C never came back since the rotation: its refresh token (opaque, in the database) still works, so C is not logged out.
    const c2 = await refresh(c.refreshToken);
    expect(tokenKeyId(c2.accessToken)).toBe(jwtKey.kid);
    expect((await gw(c2.accessToken).request<{ me: { id: string } }>(ME)).me.id).toBe(c.user.id);
    // (Its old access token, signed by the removed key, no longer verifies: drop a JWT key only once its tokens have expired, 24 h.)
    expect(await errorCodes(gw(c.accessToken).request(ME))).toEqual(['UNAUTHENTICATED']);
    expect(await webhook(integration.id, 3)).toBe(200);
    expect(tokenKeyId(await mfaLogin(mfaUser.email, enrollMfa.secret))).toBe(jwtKey.kid);
  });
});
