import { startSquareOAuthFake, type SquareOAuthFake } from '../../../../test/fakes/square-oauth.server';
import { startStripeConnectFake, type StripeConnectFake } from '../../../../test/fakes/stripe-connect.server';
import { oauthReasonOf } from './oauth-state';
import { SquareOAuthClient } from './square-oauth.client';
import { StripeConnectClient } from './stripe-connect.client';

/** The provider clients against the local fakes: what Square and Stripe answer, and how each failure is typed. */

async function failure(p: Promise<unknown>): Promise<{ reason: string | null; providerCode: unknown; message: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as Error & { extensions?: Record<string, unknown> };
    return { reason: oauthReasonOf(err), providerCode: e.extensions?.providerCode, message: e.message };
  }
  throw new Error('expected a failure');
}

const codeOf = (location: string): string => new URL(location).searchParams.get('code') ?? '';

describe('Square OAuth client (code flow) against the local Square', () => {
  let fake: SquareOAuthFake;
  let client: SquareOAuthClient;
  const cfg = { applicationId: 'sq0idp-spec', applicationSecret: 'sq0csp-spec-secret-0123456789' };

  beforeAll(async () => {
    fake = await startSquareOAuthFake({ ...cfg, redirectUrl: 'https://platform.example/oauth/square/callback' });
    client = new SquareOAuthClient({ ...cfg, baseUrl: fake.baseUrl });
  });
  afterAll(() => fake.close());

  it('exchanges a code once, refreshes with the same refresh token, and revokes with the Client header', async () => {
    const code = codeOf(await fake.approve(client.authorizeUrl('s1'), 'MSPEC1'));
    const grant = await client.exchangeCode(code);
    expect(grant).toMatchObject({ accountId: 'MSPEC1', scopes: ['PAYMENTS_READ', 'REFUNDS_READ', 'MERCHANT_PROFILE_READ'] });
    expect(grant.expiresAt!.getTime()).toBeGreaterThan(Date.now() + 29 * 86_400_000);
    const again = await failure(client.exchangeCode(code));
    expect(again).toEqual({ reason: 'OAUTH_CODE_REJECTED', providerCode: 'UNAUTHORIZED', message: 'Square refused the grant (UNAUTHORIZED)' });
    const refreshed = await client.refresh(grant.refreshToken!);
    expect(refreshed.refreshToken).toBe(grant.refreshToken);
    expect(refreshed.accessToken).not.toBe(grant.accessToken);
    expect(await fake.tokenWorks(refreshed.accessToken)).toBe(true);
    await client.revoke('MSPEC1');
    expect(await fake.tokenWorks(refreshed.accessToken)).toBe(false);
    expect((await failure(client.refresh(grant.refreshToken!))).reason).toBe('OAUTH_CODE_REJECTED');
    // Revoking a merchant with nothing left is done, not an error.
    await expect(client.revoke('MSPEC1')).resolves.toBeUndefined();
  });

  it('types a wrong application secret and an unreachable Square, never echoing what was sent', async () => {
    const code = codeOf(await fake.approve(client.authorizeUrl('s2'), 'MSPEC2'));
    const wrong = new SquareOAuthClient({ ...cfg, applicationSecret: 'sq0csp-wrong', baseUrl: fake.baseUrl });
    const f = await failure(wrong.exchangeCode(code));
    expect(f.reason).toBe('OAUTH_CODE_REJECTED');
    expect(f.message).not.toContain(code);
    expect((await failure(wrong.revoke('MSPEC2'))).reason).toBe('OAUTH_CODE_REJECTED');
    const down = new SquareOAuthClient({ ...cfg, baseUrl: 'http://127.0.0.1:1' });
    expect((await failure(down.exchangeCode(code))).reason).toBe('OAUTH_PROVIDER_UNAVAILABLE');
  });
});

describe('Stripe Connect OAuth client against the local connect.stripe.com', () => {
  let fake: StripeConnectFake;
  let client: StripeConnectClient;
  const cfg = { clientId: 'ca_Spec0123', secretKey: 'sk_test_spec_platform_key' };

  beforeAll(async () => {
    fake = await startStripeConnectFake({ ...cfg, redirectUri: 'https://platform.example/oauth/stripe/callback' });
    client = new StripeConnectClient({ ...cfg, baseUrl: fake.baseUrl });
  });
  afterAll(() => fake.close());

  it('exchanges a code for the account id; a reused code is invalid_grant and revokes what it gave', async () => {
    const code = codeOf(await fake.approve(client.authorizeUrl('s1'), 'acct_1Spec'));
    const grant = await client.exchangeCode(code);
    expect(grant).toMatchObject({ accountId: 'acct_1Spec', expiresAt: null, scopes: ['read_only'] });
    expect(await fake.tokenWorks(grant.accessToken)).toBe(true);
    expect(await failure(client.exchangeCode(code))).toEqual({ reason: 'OAUTH_CODE_REJECTED', providerCode: 'invalid_grant', message: 'Stripe refused the grant (invalid_grant)' });
    expect(await fake.tokenWorks(grant.accessToken)).toBe(false);
  });

  it('deauthorizes (and treats an account already disconnected as done); a wrong platform key is refused', async () => {
    const grant = await client.exchangeCode(codeOf(await fake.approve(client.authorizeUrl('s2'), 'acct_1Spec2')));
    const wrong = new StripeConnectClient({ ...cfg, secretKey: 'sk_test_wrong', baseUrl: fake.baseUrl });
    expect(await failure(wrong.revoke('acct_1Spec2'))).toMatchObject({ reason: 'OAUTH_CODE_REJECTED', providerCode: 'invalid_client' });
    expect(await fake.tokenWorks(grant.accessToken)).toBe(true);
    await client.revoke('acct_1Spec2');
    expect(await fake.tokenWorks(grant.accessToken)).toBe(false);
    await expect(client.revoke('acct_1Spec2')).resolves.toBeUndefined();
  });
});
