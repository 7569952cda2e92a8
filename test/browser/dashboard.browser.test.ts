import { readFileSync } from 'node:fs';
import { gql } from 'graphql-request';
import { DASHBOARD_MANIFEST_PATH } from '../../gateway/web';
import { generate } from 'otplib';
import { client, errorCodes } from '../helpers/platform';
import { PASSWORD, logInThroughUi, postStripePayment, seedTenant, startDashboard, type Browser } from './dashboard.harness';
import { at } from '../helpers/present';

/**
 * The dashboard end to end, in Chromium against the whole platform: a new owner signs up, adds a
 * rule, connects Stripe, a Stripe-signed webhook arrives and the purchase appears on the overview
 * and turns FILLED without a reload; MFA enrolment and a login through the challenge; a VIEWER
 * sees no edit controls (and the API still refuses). The page talks only to the gateway, sends
 * persisted ids only, and breaks no CSP rule.
 */
describe('dashboard in Chromium', () => {
  let b: Browser;
  beforeAll(async () => {
    b = await startDashboard();
  }, 240_000);
  afterAll(async () => {
    await b?.stop();
  });

  const email = `owner-${Date.now()}@dashboard.example`;

  it('signs up, adds a rule, connects Stripe, and shows a webhook-funded purchase go live to FILLED', async () => {
    const { page } = b;
    const res = await page.goto(`${b.base}/`);
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-security-policy']).toMatch(/script-src 'self'(;|$)/);
    await page.waitForURL(/\/login$/);
    await page.getByRole('link', { name: 'Create an account' }).click();
    await page.getByLabel('Business name').fill('Harbour Bakery Pty Ltd');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill('short');
    await page.getByRole('button', { name: 'Create account' }).click();
    // The password rule is checked on the field before anything is sent.
    await page.getByText('Use at least 12 characters').waitFor();
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor({ timeout: 60_000 });
    await page.getByText('No purchases yet').waitFor();
    // The price ticks over graphql-ws.
    const first = await page.getByTestId('live-price').textContent();
    await page.waitForFunction(
      (before) => {
        const el = (globalThis as unknown as { document: { querySelector(s: string): { textContent: string | null } | null } }).document.querySelector('[data-testid="live-price"]');
        return !!el?.textContent && el.textContent !== '…' && el.textContent !== before;
      },
      first,
      { timeout: 60_000 },
    );

    // A rule, with the form's own validation first.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Rules' }).click();
    await page.getByText('No rules yet').waitFor();
    await page.getByTestId('new-rule').click();
    await page.getByLabel('Name').fill('Ten percent of sales');
    await page.getByLabel('Share of each payment (%)').fill('10.555');
    await page.getByRole('button', { name: 'Create rule' }).click();
    await page.getByText('Enter a percentage with at most two decimals').waitFor();
    await page.getByLabel('Share of each payment (%)').fill('10');
    await page.getByRole('button', { name: 'Create rule' }).click();
    await page.getByRole('heading', { name: /Ten percent of sales/ }).waitFor();
    await page.getByText('10% of revenue').waitFor();

    // Stripe.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Integrations' }).click();
    await page.getByLabel('Name').fill('Stripe AU');
    await page.getByLabel('Webhook signing secret').fill('whsec_test_dashboard_0123456789');
    await page.getByRole('button', { name: 'Connect' }).click();
    const webhookUrl = (await page.getByTestId('webhook-url').first().textContent())?.trim() ?? '';
    expect(webhookUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/webhooks\/stripe\/[0-9a-f-]{36}$/);
    await page.getByText('No deliveries yet').waitFor();

    // Back to the overview (in-app navigation), then the payment arrives: no reload from here on.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Overview' }).click();
    await page.getByText('No purchases yet').waitFor();
    await page.evaluate(() => void ((globalThis as unknown as { __noReload: boolean }).__noReload = true));
    expect(await postStripePayment(webhookUrl, 12345, `dash_${Date.now()}`)).toEqual({ status: 200, body: JSON.stringify({ received: true, duplicate: false }) });
    const row = page.locator('[data-testid="purchase-table"] tr[data-purchase-id]');
    await row.first().waitFor({ timeout: 60_000 });
    await page.locator('[data-testid="purchase-table"] tr[data-status="FILLED"]').first().waitFor({ timeout: 60_000 });
    // $123.45 × 10% = $12.345 → a $12.34 purchase (the half cent carries over), now with bitcoin and a holding.
    await page.locator('[data-testid="purchase-table"] tr[data-status="FILLED"]').getByText('$12.34', { exact: true }).waitFor();
    await page.waitForFunction(
      () => {
        const el = (globalThis as unknown as { document: { querySelector(s: string): { textContent: string | null } | null } }).document.querySelector('[data-testid="holdings-sats"]');
        return !!el?.textContent && el.textContent !== '0 sats';
      },
      undefined,
      { timeout: 60_000 },
    );
    expect(await page.evaluate(() => (globalThis as unknown as { __noReload?: boolean }).__noReload)).toBe(true);

    // Its story: funded by the payment, each transition, the exchange attempt.
    await page.locator('[data-testid="purchase-table"] tr[data-status="FILLED"] a').first().click();
    await page.getByRole('heading', { level: 1, name: 'Purchase of $12.34' }).waitFor();
    await page.getByText('Revenue payment').first().waitFor();
    await page.getByTestId('transitions').getByText('filled').waitFor();
    await page.getByRole('heading', { name: 'Exchange attempts' }).waitFor();

    // The delivery on the Integrations screen: processed, its amount as sent, the purchase it funded.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Integrations' }).click();
    const delivery = page.locator('[data-testid="deliveries"] tr[data-status="PROCESSED"]');
    await delivery.first().waitFor({ timeout: 30_000 });
    await delivery.getByText('payment_intent.succeeded').waitFor();
    await delivery.getByText('$123.45', { exact: true }).waitFor();
    await delivery.getByRole('link').getByText('$12.34', { exact: true }).waitFor();
  }, 240_000);

  it('sent only persisted ids over HTTP, talked only to the gateway, and broke no CSP rule', () => {
    expect(b.graphqlPosts.length).toBeGreaterThan(5);
    for (const body of b.graphqlPosts) {
      const ops = [JSON.parse(body)].flat() as { query?: string; extensions?: { persistedQuery?: { sha256Hash?: string } } }[];
      for (const op of ops) {
        expect(op.query).toBeUndefined();
        expect(op.extensions?.persistedQuery?.sha256Hash).toMatch(/^[0-9a-f]{64}$/);
      }
    }
    const gateway = new URL(b.base);
    const foreign = b.requested.filter((u) => {
      const url = new URL(u);
      return !['data:', 'blob:', 'about:'].includes(url.protocol) && url.host !== gateway.host;
    });
    expect(foreign).toEqual([]);
    expect(b.problems.filter((p) => /Content Security Policy|page error/i.test(p))).toEqual([]);
  });

  it('resolves the dashboard manifest ids for a signed-in user, but not for a partner API key', async () => {
    const manifest = JSON.parse(readFileSync(DASHBOARD_MANIFEST_PATH, 'utf8')) as { operations: { id: string; name: string }[] };
    const price = manifest.operations.find((o) => o.name === 'DashboardOverview')!;
    const owner = await seedTenant(b.t.gateway, 'Manifest Check Pty Ltd');
    const { createApiKey } = await client(b.t.gateway, owner.token).request<{ createApiKey: { key: string } }>(gql`
      mutation {
        createApiKey(input: { name: "partner", scopes: ["read:treasury", "read:market"] }) {
          key
        }
      }
    `);
    const byId = (authorization: string): Promise<{ status: number; body: { data?: unknown; errors?: { extensions?: { code?: string } }[] } }> =>
      fetch(b.t.gateway, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization },
        body: JSON.stringify({ operationName: price.name, variables: {}, extensions: { persistedQuery: { version: 1, sha256Hash: price.id } } }),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as { data?: unknown } }));
    const asUser = await byId(`Bearer ${owner.token}`);
    expect(asUser.status).toBe(200);
    expect(asUser.body.errors).toBeUndefined();
    expect(asUser.body.data).toMatchObject({ holdings: [], purchases: [] });
    const asPartner = await byId(`Bearer ${createApiKey.key}`);
    expect(asPartner.status).toBe(400);
    expect(asPartner.body.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_NOT_IN_LIST');
  });

  it('enrols TOTP MFA, shows recovery codes once, and logs in through the challenge with one', async () => {
    const { page } = b;
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Account' }).click();
    await page.getByRole('button', { name: 'Set up two-step verification' }).click();
    await page.getByRole('img', { name: 'QR code for your authenticator app' }).waitFor();
    const secret = (await page.getByTestId('mfa-secret').textContent())!.trim();
    await page.getByLabel('6-digit code').fill('12');
    await page.getByRole('button', { name: 'Turn on' }).click();
    await page.getByText('Enter the 6-digit code your app shows').waitFor();
    await page.getByLabel('6-digit code').fill(await generate({ secret }));
    await page.getByRole('button', { name: 'Turn on' }).click();
    await page.getByTestId('recovery-codes').waitFor();
    const codes = (await page.getByTestId('recovery-codes').locator('code').allTextContents()).map((c) => c.trim());
    expect(codes).toHaveLength(10);
    await page.getByRole('button', { name: 'I have saved them' }).click();
    await page.getByText('Logging in needs a code from your authenticator app.').waitFor();

    await page.getByTestId('logout').click();
    await page.waitForURL(/\/login/);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Two-step verification' }).waitFor();
    await page.getByLabel('Authentication code').fill('000000');
    await page.getByRole('button', { name: 'Verify' }).click();
    // A wrong code is a readable message (by extensions.code), never raw JSON.
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).not.toMatch(/[{}]|extensions/);
    await page.getByLabel('Authentication code').fill(at(codes, 0, 'recovery codes'));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor({ timeout: 60_000 });
  }, 180_000);

  it('hides edit controls from a VIEWER, and the API still refuses them', async () => {
    const { page, t } = b;
    const owner = await seedTenant(t.gateway, 'Viewer Check Pty Ltd');
    const viewerEmail = `viewer-${Date.now()}@dashboard.example`;
    const { inviteUser } = await client(t.gateway, owner.token).request<{ inviteUser: { token: string } }>(
      gql`
        mutation ($email: String!) {
          inviteUser(email: $email, role: VIEWER) {
            token
          }
        }
      `,
      { email: viewerEmail },
    );
    const { acceptInvite } = await client(t.gateway).request<{ acceptInvite: { accessToken: string } }>(
      gql`
        mutation ($token: String!, $password: String) {
          acceptInvite(token: $token, password: $password) {
            accessToken
          }
        }
      `,
      { token: inviteUser.token, password: PASSWORD },
    );
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Account' }).click();
    await page.getByTestId('logout').click();
    await page.waitForURL(/\/login/);
    await logInThroughUi(page, b.base, viewerEmail);
    await page.getByText('viewer', { exact: true }).waitFor();

    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Rules' }).click();
    await page.getByRole('heading', { name: /10% of revenue/ }).first().waitFor();
    expect(await page.getByRole('button', { name: /New rule|Pause|Resume/ }).count()).toBe(0);
    expect(await page.getByRole('link', { name: 'Edit' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Save cut-off' }).count()).toBe(0);
    await page.getByRole('link', { name: 'Details' }).first().click();
    await page.getByRole('heading', { name: 'Preview on stored price history' }).waitFor();
    expect(await page.getByRole('button', { name: /Save rule|Delete rule/ }).count()).toBe(0);
    expect(await page.getByLabel('Name').count()).toBe(0);

    await nav.getByRole('link', { name: 'Integrations' }).click();
    await page.getByText('Stripe AU').waitFor();
    expect(await page.getByRole('button', { name: /^Connect$|Disconnect/ }).count()).toBe(0);
    await nav.getByRole('link', { name: 'Purchases' }).click();
    await page.getByRole('heading', { level: 1, name: 'Purchases' }).waitFor();
    expect(await page.getByRole('button', { name: 'Buy bitcoin' }).count()).toBe(0);
    await nav.getByRole('link', { name: 'Team & access' }).click();
    await page.getByRole('heading', { name: 'Members' }).waitFor();
    expect(await page.getByRole('button', { name: /Invite|Remove|Create key|Require it/ }).count()).toBe(0);
    expect(await page.getByRole('heading', { name: 'API keys' }).count()).toBe(0);

    // Hidden is not the only guard: the API refuses the viewer.
    expect(
      await errorCodes(
        client(t.gateway, acceptInvite.accessToken).request(gql`
          mutation {
            createTreasuryRule(input: { name: "sneaky", type: PERCENTAGE_OF_REVENUE, percentageBps: 100 }) {
              id
            }
          }
        `),
      ),
    ).toEqual(['FORBIDDEN']);
  }, 180_000);
});
