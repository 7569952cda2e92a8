import { gql } from 'graphql-request';
import { startSquareOAuthFake, type SquareOAuthFake } from '../fakes/square-oauth.server';
import { startStripeConnectFake, type StripeConnectFake } from '../fakes/stripe-connect.server';
import { captureLogs } from '../helpers/logs';
import { client, errorCodes, startTestPlatform, type TestPlatform } from '../helpers/platform';
import { until } from '../helpers/wait';

const APP_ID = 'sq0idp-liquid-abt-test';
const APP_SECRET = 'sq0csp-test-application-secret-0123456789';
const SIGNATURE_KEY = 'sq-app-signature-key-0123456789';
const PASSWORD = 'Correct-Horse-42-Battery';
const MERCHANT = 'MLR1AU0000001';
const STRIPE_CLIENT_ID = 'ca_LiquidAbtTest0123';
const STRIPE_KEY = 'sk_test_platform_0123456789abcdef';
const CONNECT_SECRET = 'whsec_connect_0123456789abcdef';
const ACCOUNT = 'acct_1LiquidTest0001';

const START = gql`
  mutation ($provider: PaymentProvider!, $name: String) {
    startPaymentOAuth(provider: $provider, name: $name) {
      authorizationUrl
      expiresAt
    }
  }
`;
const LIST = gql`
  {
    paymentIntegrations {
      id
      provider
      name
      status
      connection
      accountId
      webhookUrl
    }
  }
`;
type Listed = { id: string; provider: string; name: string; status: string; connection: string; accountId: string | null; webhookUrl: string };

/** App-level webhooks through the gateway: OAuth connect → the account's payment → purchase. */
describe('payment processors connected by OAuth: Square and Stripe Connect (real PostgreSQL, gateway, local providers)', () => {
  let t: TestPlatform;
  let square: SquareOAuthFake;
  let stripe: StripeConnectFake;
  let gatewayBase: string;
  const lines: string[] = [];
  const owner = { token: '', tenantId: '' };
  const other = { token: '', tenantId: '' };

  const sql = <T>(q: string, params: unknown[] = []): Promise<T[]> => t.db.owner.em.getConnection().execute<T[]>(q, params);
  const count = async (q: string, params: unknown[] = []): Promise<number> => Number((await sql<{ n: string }>(q, params))[0]?.n ?? 0);
  const signUp = async (tenantName: string, email: string): Promise<{ token: string; tenantId: string }> => {
    const s = await client(t.gateway).request<{ signUp: { accessToken: string; tenant: { id: string } } }>(
      gql`mutation ($i: SignUpInput!) { signUp(input: $i) { accessToken tenant { id } } }`,
      { i: { tenantName, email, password: PASSWORD } },
    );
    return { token: s.signUp.accessToken, tenantId: s.signUp.tenant.id };
  };
  const start = async (token: string, name?: string, provider = 'SQUARE'): Promise<string> =>
    (await client(t.gateway, token).request<{ startPaymentOAuth: { authorizationUrl: string } }>(START, { provider, name })).startPaymentOAuth.authorizationUrl;
  /** The browser following Square's redirect to the platform's callback: where the platform sends it next. */
  const callback = async (location: string): Promise<URL> => {
    const res = await fetch(location, { redirect: 'manual' });
    expect(res.status).toBe(303);
    return new URL(res.headers.get('location') ?? '');
  };
  const list = async (token: string): Promise<Listed[]> => (await client(t.gateway, token).request<{ paymentIntegrations: Listed[] }>(LIST)).paymentIntegrations;
  const payment = (merchantId: string, eventId: string, paymentId: string, cents: number): Record<string, unknown> => ({
    merchant_id: merchantId,
    type: 'payment.updated',
    event_id: eventId,
    created_at: new Date().toISOString(),
    data: { type: 'payment', id: paymentId, object: { payment: { id: paymentId, status: 'COMPLETED', amount_money: { amount: cents, currency: 'AUD' } } } },
  });
  const deliver = async (n: { body: string; headers: Record<string, string> }, provider = 'square'): Promise<{ status: number; body: unknown }> => {
    const res = await fetch(`${gatewayBase}/webhooks/connect/${provider}`, { method: 'POST', body: n.body, headers: n.headers });
    return { status: res.status, body: await res.json() };
  };
  const written = (): Promise<number[]> =>
    Promise.all([
      count('select count(*) as n from pool.payment_integration'),
      count('select count(*) as n from public.payment_account_route'),
      count('select count(*) as n from pool.payment_event'),
    ]);

  beforeAll(async () => {
    square = await startSquareOAuthFake({ applicationId: APP_ID, applicationSecret: APP_SECRET });
    stripe = await startStripeConnectFake({ clientId: STRIPE_CLIENT_ID, secretKey: STRIPE_KEY, webhookSecret: CONNECT_SECRET });
    t = await startTestPlatform({
      env: {
        SQUARE_APPLICATION_ID: APP_ID,
        SQUARE_APPLICATION_SECRET: APP_SECRET,
        SQUARE_OAUTH_BASE_URL: square.baseUrl,
        SQUARE_WEBHOOK_SIGNATURE_KEY: SIGNATURE_KEY,
        STRIPE_CONNECT_CLIENT_ID: STRIPE_CLIENT_ID,
        STRIPE_SECRET_KEY: STRIPE_KEY,
        STRIPE_CONNECT_BASE_URL: stripe.baseUrl,
        STRIPE_CONNECT_WEBHOOK_SECRET: CONNECT_SECRET,
        PAYMENT_OAUTH_REFRESH_INTERVAL_MS: '1000',
        PRICE_TICK_MS: '100',
      },
    });
    gatewayBase = t.gateway.replace(/\/graphql$/, '');
    // The application's settings in Square's Developer Console: the redirect URL and the app webhook subscription.
    square.configure({ redirectUrl: `${gatewayBase}/oauth/square/callback`, webhook: { notificationUrl: `${gatewayBase}/webhooks/connect/square`, signatureKey: SIGNATURE_KEY } });
    stripe.configure({ redirectUri: `${gatewayBase}/oauth/stripe/callback` });
    Object.assign(owner, await signUp('OAuth Coffee Pty Ltd', 'oauth-owner@x.example'));
    Object.assign(other, await signUp('Other Shop Pty Ltd', 'oauth-other@x.example'));
    await client(t.gateway, owner.token).request(gql`mutation ($i: TreasuryRuleInput!) { createTreasuryRule(input: $i) { id } }`, {
      i: { name: '10% of revenue', type: 'PERCENTAGE_OF_REVENUE', percentageBps: 1000 },
    });
    captureLogs(lines, 'debug');
  }, 60_000);
  afterAll(async () => {
    await t?.stop();
    await square?.close();
    await stripe?.close();
  });

  it('asks Square for payments and refunds read scopes, with a state of its own', async () => {
    const url = new URL(await start(owner.token));
    expect(`${url.origin}${url.pathname}`).toBe(`${square.baseUrl}/oauth2/authorize`);
    expect(url.search).toMatch(new RegExp(`^\\?client_id=${APP_ID}&scope=PAYMENTS_READ\\+REFUNDS_READ\\+MERCHANT_PROFILE_READ&session=false&state=[A-Za-z0-9._-]+$`));
  });

  it('connects a Square merchant: callback → sealed tokens → listed without any token → its webhook buys bitcoin', async () => {
    const landing = await callback(await square.approve(await start(owner.token, 'Square café'), MERCHANT));
    expect(landing.searchParams.get('paymentOAuth')).toBe('connected');
    const integrationId = landing.searchParams.get('integrationId');

    const listed = await list(owner.token);
    expect(listed).toEqual([
      { id: integrationId, provider: 'SQUARE', name: 'Square café', status: 'ACTIVE', connection: 'OAUTH', accountId: MERCHANT, webhookUrl: `${gatewayBase}/webhooks/connect/square` },
    ]);
    const tokens = square.issuedTokens();
    expect(tokens).toHaveLength(2);
    const [row] = await sql<{ credentials_sealed: string; token_expires_at: Date }>(`select credentials_sealed, token_expires_at from pool.payment_integration where id = ?`, [integrationId]);
    expect(row?.credentials_sealed).toMatch(/^v1\./);
    for (const secret of [...tokens, APP_SECRET]) {
      expect(JSON.stringify(listed)).not.toContain(secret);
      expect(row?.credentials_sealed).not.toContain(secret);
    }
    expect(await sql(`select tenant_id, integration_id from public.payment_account_route where provider = 'square' and account_id = ?`, [MERCHANT])).toEqual([
      { tenant_id: owner.tenantId, integration_id: integrationId },
    ]);

    // The merchant takes $60.00: Square's app webhook names the merchant; 10% = 600 cents is bought.
    const r = await deliver(square.notify(payment(MERCHANT, 'sq-oauth-evt-1', 'SQP-OAUTH-1', 6000)));
    expect(r).toEqual({ status: 200, body: { received: true, duplicate: false } });
    const event = await until('the payment event to be processed', async () => {
      const [e] = await sql<{ status: string; integration_id: string; amount_cents: string }>(`select status, integration_id, amount_cents from pool.payment_event where provider_event_id = 'sq-oauth-evt-1'`);
      return e && e.status !== 'RECEIVED' ? e : undefined;
    });
    expect(event).toEqual({ status: 'PROCESSED', integration_id: integrationId, amount_cents: '6000' });
    const purchases = await until('the purchase to fill', async () => {
      const p = await client(t.gateway, owner.token).request<{ purchases: { amountAudCents: string; status: string; source: string }[] }>(gql`{ purchases { amountAudCents status source } }`);
      return p.purchases.length > 0 && p.purchases.every((x) => x.status === 'FILLED') ? p.purchases : undefined;
    });
    expect(purchases).toEqual([{ amountAudCents: '600', status: 'FILLED', source: 'RULE' }]);
    // The same notification again is a duplicate, not a second purchase.
    expect(await deliver(square.notify(payment(MERCHANT, 'sq-oauth-evt-1', 'SQP-OAUTH-1', 6000)))).toEqual({ status: 200, body: { received: true, duplicate: true } });
    expect(lines.join('\n')).not.toMatch(new RegExp(tokens.map((x) => x.replace(/[-_]/g, '.')).join('|')));
    expect(lines.join('\n')).not.toContain(APP_SECRET);
  });

  it('refuses a replayed, tampered, expired or denied callback, writing nothing', async () => {
    const location = await square.approve(await start(owner.token), 'MLR2AU0000002');
    const before = await written();
    // A state whose nonce row has passed its expiry (the signed expiry is covered by oauth-state.spec.ts).
    await sql(`update pool.payment_oauth_state set expires_at = now() - interval '1 second'`);
    expect((await callback(location)).searchParams.get('reason')).toBe('OAUTH_STATE_EXPIRED');
    // Replayed: the nonce was consumed by the first try.
    expect((await callback(location)).searchParams.get('reason')).toBe('OAUTH_STATE_USED');
    const tampered = new URL(location);
    tampered.searchParams.set('state', `${tampered.searchParams.get('state')}x`);
    expect((await callback(tampered.toString())).searchParams.get('reason')).toBe('OAUTH_STATE_INVALID');
    const none = new URL(location);
    none.searchParams.delete('state');
    expect((await callback(none.toString())).searchParams.get('reason')).toBe('OAUTH_STATE_INVALID');
    expect((await callback(await square.approve(await start(owner.token), 'MLR2AU0000002', 'deny'))).searchParams.get('reason')).toBe('OAUTH_ACCESS_DENIED');
    expect(await written()).toEqual(before);
  });

  it('refuses a merchant another tenant connected (typed reason, nothing written) and webhooks for unknown merchants or bad signatures', async () => {
    const before = await written();
    const landing = await callback(await square.approve(await start(other.token), MERCHANT));
    expect(landing.searchParams.get('reason')).toBe('ACCOUNT_CONNECTED_ELSEWHERE');
    expect(await list(other.token)).toEqual([]);
    expect(await deliver(square.notify(payment('MUNKNOWN00001', 'sq-oauth-unknown', 'SQP-U', 6000)))).toEqual({ status: 404, body: { error: 'UNKNOWN_ACCOUNT' } });
    const forged = square.notify(payment(MERCHANT, 'sq-oauth-forged', 'SQP-F', 6000));
    expect(await deliver({ ...forged, headers: { ...forged.headers, 'x-square-hmacsha256-signature': 'AAAA' } })).toEqual({ status: 400, body: { error: 'INVALID_SIGNATURE' } });
    expect(await written()).toEqual(before);
  });

  it('only managers start a connection', async () => {
    expect(await errorCodes(client(t.gateway).request(START, { provider: 'SQUARE' }))).toEqual(['UNAUTHENTICATED']);
    expect(await errorCodes(client(t.gateway, owner.token).request(START, { provider: 'PAYPAL' }))).toEqual(['BAD_USER_INPUT']);
  });

  it('refreshes the access token before it expires (same refresh token, per Square code flow)', async () => {
    const [before] = await sql<{ credentials_sealed: string }>(`select credentials_sealed from pool.payment_integration where account_id = ?`, [MERCHANT]);
    // Square's tokens last 30 days; make this one due (expiring within the 7-day window).
    await sql(`update pool.payment_integration set token_expires_at = now() + interval '1 day' where account_id = ?`, [MERCHANT]);
    await until('a refresh', () => Promise.resolve(square.calls.some((c) => c.grantType === 'refresh_token') ? true : undefined));
    const [after] = await until('the new token to be stored', async () => {
      const rows = await sql<{ credentials_sealed: string; token_expires_at: Date }>(`select credentials_sealed, token_expires_at from pool.payment_integration where account_id = ?`, [MERCHANT]);
      return rows[0] && rows[0].credentials_sealed !== before?.credentials_sealed ? rows : undefined;
    });
    expect(new Date(after!.token_expires_at).getTime()).toBeGreaterThan(Date.now() + 29 * 86_400_000);
  });

  it('disconnects: revoked at Square, tokens dropped, account free for another tenant', async () => {
    const [integration] = await list(owner.token);
    const tokens = square.issuedTokens();
    const d = await client(t.gateway, owner.token).request<{ disconnectPaymentIntegration: { status: string } }>(
      gql`mutation ($id: ID!) { disconnectPaymentIntegration(id: $id) { status } }`,
      { id: integration!.id },
    );
    expect(d.disconnectPaymentIntegration.status).toBe('DISCONNECTED');
    expect(square.calls.filter((c) => c.path === '/oauth2/revoke')).toHaveLength(1);
    for (const token of tokens.filter((x) => x.startsWith('EAAA'))) expect(await square.tokenWorks(token)).toBe(false);
    expect(await count(`select count(*) as n from public.payment_account_route where account_id = ?`, [MERCHANT])).toBe(0);
    expect(await deliver(square.notify(payment(MERCHANT, 'sq-oauth-after', 'SQP-A', 6000)))).toEqual({ status: 404, body: { error: 'UNKNOWN_ACCOUNT' } });
    const landing = await callback(await square.approve(await start(other.token), MERCHANT));
    expect(landing.searchParams.get('paymentOAuth')).toBe('connected');
    expect((await list(other.token)).map((i) => [i.accountId, i.status])).toEqual([[MERCHANT, 'ACTIVE']]);
  });

  it('connects a Stripe account by Connect OAuth (read_only) and routes its Connect events by `account` into a purchase', async () => {
    const url = new URL(await start(owner.token, undefined, 'STRIPE'));
    expect(`${url.origin}${url.pathname}`).toBe(`${stripe.baseUrl}/oauth/authorize`);
    expect([...url.searchParams.keys()]).toEqual(['response_type', 'client_id', 'scope', 'state']);
    expect(Object.fromEntries([...url.searchParams].filter(([k]) => k !== 'state'))).toEqual({ response_type: 'code', client_id: STRIPE_CLIENT_ID, scope: 'read_only' });
    const location = await stripe.approve(url.toString(), ACCOUNT);
    const landing = await callback(location);
    expect(landing.searchParams.get('paymentOAuth')).toBe('connected');
    const id = landing.searchParams.get('integrationId');
    const listed = (await list(owner.token)).find((i) => i.id === id);
    expect(listed).toEqual({ id, provider: 'STRIPE', name: `Stripe ${ACCOUNT}`, status: 'ACTIVE', connection: 'OAUTH', accountId: ACCOUNT, webhookUrl: `${gatewayBase}/webhooks/connect/stripe` });
    const everything = JSON.stringify(await list(owner.token)) + lines.join('\n');
    for (const secret of [...stripe.issuedTokens(), STRIPE_KEY, CONNECT_SECRET]) expect(everything).not.toContain(secret);
    // The same redirect again: the state was used.
    expect((await callback(location)).searchParams.get('reason')).toBe('OAUTH_STATE_USED');

    const before = await written();
    // Another tenant cannot take the account; a denied consent writes nothing either.
    expect((await callback(await stripe.approve(await start(other.token, undefined, 'STRIPE'), ACCOUNT))).searchParams.get('reason')).toBe('ACCOUNT_CONNECTED_ELSEWHERE');
    expect((await callback(await stripe.approve(await start(other.token, undefined, 'STRIPE'), 'acct_1Other', 'deny'))).searchParams.get('reason')).toBe('OAUTH_ACCESS_DENIED');
    const event = (account: string | undefined, eventId: string, cents: number): Record<string, unknown> => ({
      id: eventId,
      object: 'event',
      ...(account ? { account } : {}),
      type: 'payment_intent.succeeded',
      created: Math.floor(Date.now() / 1000),
      data: { object: { id: `pi_${eventId}`, object: 'payment_intent', amount: cents, amount_received: cents, currency: 'aud', status: 'succeeded' } },
    });
    expect(await deliver(stripe.notify(event('acct_1Unknown', 'evt_connect_unknown', 8000)), 'stripe')).toEqual({ status: 404, body: { error: 'UNKNOWN_ACCOUNT' } });
    // The platform's own event (no `account`) is not a connected account's.
    expect(await deliver(stripe.notify(event(undefined, 'evt_connect_platform', 8000)), 'stripe')).toEqual({ status: 400, body: { error: 'MALFORMED_PAYLOAD' } });
    const forged = stripe.notify(event(ACCOUNT, 'evt_connect_forged', 8000));
    expect(await deliver({ ...forged, headers: { ...forged.headers, 'stripe-signature': `t=${Math.floor(Date.now() / 1000)},v1=${'0'.repeat(64)}` } }, 'stripe')).toEqual({ status: 400, body: { error: 'INVALID_SIGNATURE' } });
    expect(await written()).toEqual(before);

    // $80.00 on the connected account: 10% = 800 cents bought.
    expect(await deliver(stripe.notify(event(ACCOUNT, 'evt_connect_1', 8000)), 'stripe')).toEqual({ status: 200, body: { received: true, duplicate: false } });
    const stored = await until('the Connect event to be processed', async () => {
      const [e] = await sql<{ status: string; integration_id: string; provider: string }>(`select status, integration_id, provider from pool.payment_event where provider_event_id = 'evt_connect_1'`);
      return e && e.status !== 'RECEIVED' ? e : undefined;
    });
    expect(stored).toEqual({ status: 'PROCESSED', integration_id: id, provider: 'stripe' });
    await until('the purchase of 800 to fill', async () => {
      const p = await client(t.gateway, owner.token).request<{ purchases: { amountAudCents: string; status: string }[] }>(gql`{ purchases { amountAudCents status } }`);
      return p.purchases.some((x) => x.amountAudCents === '800' && x.status === 'FILLED') ? true : undefined;
    });

    // Disconnect: deauthorized at Stripe, the account's token stops working, its events find no tenant.
    const [accessToken] = stripe.issuedTokens();
    expect(await stripe.tokenWorks(accessToken!)).toBe(true);
    await client(t.gateway, owner.token).request(gql`mutation ($id: ID!) { disconnectPaymentIntegration(id: $id) { status } }`, { id });
    expect(stripe.calls.filter((c) => c.path === '/oauth/deauthorize')).toHaveLength(1);
    expect(await stripe.tokenWorks(accessToken!)).toBe(false);
    expect(await deliver(stripe.notify(event(ACCOUNT, 'evt_connect_2', 8000)), 'stripe')).toEqual({ status: 404, body: { error: 'UNKNOWN_ACCOUNT' } });
  });

  it('keeps pasted secrets working beside OAuth: a pasted Square key still gets its own per-integration URL', async () => {
    const r = await client(t.gateway, owner.token).request<{ connectPaymentIntegration: { webhookUrl: string; connection: string } }>(
      gql`mutation { connectPaymentIntegration(input: { provider: SQUARE, name: "Pasted", squareSignatureKey: "sq-pasted-key-0123456789" }) { webhookUrl connection } }`,
    );
    expect(r.connectPaymentIntegration.connection).toBe('SECRET');
    expect(r.connectPaymentIntegration.webhookUrl).toMatch(new RegExp(`^${gatewayBase}/webhooks/square/[0-9a-f-]{36}$`));
  });

  it("follows the seller revoking the platform at Square (oauth.authorization.revoked): integration disconnected, merchant unrouted", async () => {
    // The other tenant holds MERCHANT since the disconnect test.
    const revoked = square.notify({
      merchant_id: MERCHANT,
      type: 'oauth.authorization.revoked',
      event_id: 'sq-oauth-revoked-1',
      created_at: new Date().toISOString(),
      data: { type: 'revocation', id: 'rev-1', object: { revocation: { revoked_at: new Date().toISOString(), revoker_type: 'MERCHANT' } } },
    });
    expect(await deliver(revoked)).toEqual({ status: 200, body: { received: true, duplicate: false, ignored: 'event type is not used for revenue' } });
    expect((await list(other.token)).map((i) => [i.accountId, i.status])).toEqual([[MERCHANT, 'DISCONNECTED']]);
    expect(await count(`select count(*) as n from public.payment_account_route where account_id = ?`, [MERCHANT])).toBe(0);
    expect(await deliver(square.notify(payment(MERCHANT, 'sq-oauth-after-revoke', 'SQP-R', 6000)))).toEqual({ status: 404, body: { error: 'UNKNOWN_ACCOUNT' } });
  });
});
