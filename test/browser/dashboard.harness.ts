import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gql } from 'graphql-request';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import Stripe from 'stripe';
import { client, startTestPlatform, type TestPlatform } from '../helpers/platform';

/**
 * The dashboard in Debian's Chromium (playwright-core, as the explorer test drives it) against the
 * whole platform in this process. Records what the page asks for, so tests can check it only
 * talks to the gateway, sends persisted ids only, and breaks no CSP rule.
 */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const REPO = join(__dirname, '..', '..');

export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1280, height: 860 };
export const PASSWORD = 'Correct-Horse-42-Battery';
export const STRIPE_SECRET = 'whsec_test_dashboard_0123456789';

/** Builds web/dist when it is missing or stale (a child process: jest cannot load Vite's ESM). */
export function ensureDashboardBuilt(): void {
  execFileSync(process.execPath, ['-r', '@swc-node/register', 'web/scripts/build.ts', '--if-stale'], { cwd: REPO, stdio: 'pipe', timeout: 180_000 });
}

export type Browser = {
  t: TestPlatform;
  /** The gateway's origin, where the dashboard is served (t.gateway is its /graphql). */
  base: string;
  context: BrowserContext;
  page: Page;
  /** URLs the page requested (HTTP and WebSocket). */
  requested: string[];
  /** Bodies of the page's POSTs to /graphql. */
  graphqlPosts: string[];
  /** Console errors, failed responses and CSP violations. */
  problems: string[];
  stop(): Promise<void>;
};

export async function startDashboard(opts: { viewport?: { width: number; height: number }; platformEnv?: NodeJS.ProcessEnv } = {}): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: the dashboard browser tests need it (apt-get install -y chromium, or set CHROMIUM_PATH)`);
  ensureDashboardBuilt();
  // Production mode for the page (ids only) comes from the build; the platform itself runs as in tests.
  const t = await startTestPlatform({ env: { PAPER_LATENCY_MS: '150', ...opts.platformEnv } });
  const profile = mkdtempSync(join(tmpdir(), 'abt-dashboard-chromium-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS, viewport: opts.viewport ?? DESKTOP });
  const page = context.pages()[0] ?? (await context.newPage());
  const requested: string[] = [];
  const graphqlPosts: string[] = [];
  const problems: string[] = [];
  context.on('request', (r) => {
    requested.push(r.url());
    if (r.method() === 'POST' && new URL(r.url()).pathname === '/graphql') graphqlPosts.push(r.postData() ?? '');
  });
  page.on('websocket', (ws) => void requested.push(ws.url()));
  page.on('console', (m) => {
    if (m.type() === 'error' || /Content Security Policy/i.test(m.text())) problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => void problems.push(`page error: ${e.message}`));
  if (process.env.DASHBOARD_DEBUG) page.on('console', (m) => void console.log('page', m.type(), m.text()));
  return {
    t,
    base: new URL(t.gateway).origin,
    context,
    page,
    requested,
    graphqlPosts,
    problems,
    async stop() {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
      await t.stop();
    },
  };
}

/** axe-core in the page (evaluated over DevTools, so the page's CSP still holds for the page itself). */
export async function axeViolations(page: Page): Promise<{ id: string; impact: string | null; help: string; nodes: string[] }[]> {
  const source = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  return page.evaluate(async (src) => {
    const g = globalThis as unknown as { axe?: { run(ctx: unknown, o: unknown): Promise<{ violations: { id: string; impact: string | null; help: string; nodes: { target: unknown[] }[] }[] }> } };
    if (!g.axe) (0, eval)(src);
    // `document` exists in the page; the test's tsconfig has no DOM types.
    const doc = (globalThis as unknown as { document: unknown }).document;
    const r = await g.axe!.run(doc, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => JSON.stringify(n.target)) }));
  }, source) as Promise<{ id: string; impact: string | null; help: string; nodes: string[] }[]>;
}

/** Page wider than the viewport (horizontal scroll)? Returns the widths, and the widest offender. */
export async function horizontalOverflow(page: Page): Promise<{ scrollWidth: number; clientWidth: number; widest: string }> {
  return page.evaluate(() => {
    const d = (globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number }; querySelectorAll(s: string): ArrayLike<{ getBoundingClientRect(): { right: number }; tagName: string; className: string }> } }).document;
    const cw = d.documentElement.clientWidth;
    let widest = '';
    let max = cw;
    for (const el of Array.from(d.querySelectorAll('body *'))) {
      const r = el.getBoundingClientRect().right;
      if (r > max + 0.5) {
        max = r;
        widest = `${el.tagName.toLowerCase()}.${String(el.className)} (${Math.round(r)}px)`;
      }
    }
    return { scrollWidth: d.documentElement.scrollWidth, clientWidth: cw, widest };
  });
}

type Auth = { accessToken: string; user: { id: string }; tenant: { id: string } };

/** A tenant made through the API (not the UI), for tests that need data on screens. */
export async function seedTenant(gateway: string, tenantUrl: string, name = 'Screens Coffee Pty Ltd'): Promise<{ email: string; token: string; integrationId: string; webhookUrl: string }> {
  const email = `owner-${Date.now()}-${Math.floor(Math.random() * 1e6)}@dashboard.example`;
  const { signUp } = await client(gateway).request<{ signUp: Auth }>(
    gql`
      mutation ($input: SignUpInput!) {
        signUp(input: $input) {
          accessToken
          user {
            id
          }
          tenant {
            id
          }
        }
      }
    `,
    { input: { tenantName: name, email, password: PASSWORD } },
  );
  const api = client(gateway, signUp.accessToken);
  await api.request(gql`
    mutation {
      createTreasuryRule(input: { name: "10% of revenue", type: PERCENTAGE_OF_REVENUE, percentageBps: 1000 }) {
        id
      }
    }
  `);
  await api.request(gql`
    mutation {
      createTreasuryRule(input: { name: "Weekly $50", type: FIXED_DCA, amountAudCents: "5000", schedule: "WEEKLY", dailyCapAudCents: "10000" }) {
        id
      }
    }
  `);
  const { connectPaymentIntegration: i } = await api.request<{ connectPaymentIntegration: { id: string; webhookUrl: string } }>(
    gql`
      mutation ($secret: String!) {
        connectPaymentIntegration(input: { provider: STRIPE, name: "Stripe AU", stripeWebhookSecret: $secret }) {
          id
          webhookUrl
        }
      }
    `,
    { secret: STRIPE_SECRET },
  );
  void tenantUrl;
  return { email, token: signUp.accessToken, integrationId: i.id, webhookUrl: i.webhookUrl };
}

/** Posts a payment_intent.succeeded event signed exactly as Stripe signs it (the stripe SDK). */
export async function postStripePayment(webhookUrl: string, amountCents: number, id: string): Promise<{ status: number; body: string }> {
  const body = JSON.stringify({
    id: `evt_${id}`,
    object: 'event',
    type: 'payment_intent.succeeded',
    created: Math.floor(Date.now() / 1000),
    data: { object: { id: `pi_${id}`, object: 'payment_intent', amount: amountCents, amount_received: amountCents, currency: 'aud', status: 'succeeded' } },
  });
  const signature = Stripe.webhooks.generateTestHeaderString({ payload: body, secret: STRIPE_SECRET });
  const res = await fetch(webhookUrl, { method: 'POST', body, headers: { 'content-type': 'application/json', 'stripe-signature': signature } });
  return { status: res.status, body: await res.text() };
}

/** Logs in through the dashboard's own form. */
export async function logInThroughUi(page: Page, base: string, email: string, password = PASSWORD): Promise<void> {
  await page.goto(`${base}/login`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor({ timeout: 20_000 });
}
