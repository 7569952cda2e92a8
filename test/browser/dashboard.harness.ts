import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gql } from 'graphql-request';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import Stripe from 'stripe';
import { client, startTestPlatform, type TestPlatform } from '../helpers/platform';
import { at } from '../helpers/present';

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

/** The page's latest GraphQL exchanges (operation, status, start of the body), for a failure's message. */
const recentGraphql = new WeakMap<Page, string[]>();

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
  // No Apollo usage telemetry from the test gateway (its cloud detectors probe metadata addresses).
  process.env.APOLLO_TELEMETRY_DISABLED = 'true';
  // Production mode for the page (ids only) comes from the build; the platform itself runs as in tests.
  const t = await startTestPlatform({ env: { PAPER_LATENCY_MS: '150', ...opts.platformEnv } });
  const profile = mkdtempSync(join(tmpdir(), 'abt-dashboard-chromium-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS, viewport: opts.viewport ?? DESKTOP });
  const page = context.pages()[0] ?? (await context.newPage());
  // The whole suite shares two cores with the platform under test: waits are generous, never timed assertions.
  page.setDefaultTimeout(60_000);
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
  const recent: string[] = [];
  recentGraphql.set(page, recent);
  page.on('requestfinished', (r) => {
    if (r.method() !== 'POST' || new URL(r.url()).pathname !== '/graphql') return;
    const took = Math.round(r.timing().responseEnd);
    void r
      .response()
      .then(async (res) => `${r.postData()?.slice(0, 120) ?? ''} -> ${res?.status() ?? 'no response'} ${(await res?.text().catch(() => ''))?.slice(0, 300) ?? ''} (${took} ms)`)
      .then((line) => {
        recent.push(line);
        if (recent.length > 8) recent.shift();
      })
      // The page closed before the answer was read (the suite is stopping): nothing to record.
      .catch(() => undefined);
  });
  page.on('requestfailed', (r) => {
    if (new URL(r.url()).pathname !== '/graphql') return;
    recent.push(`${r.postData()?.slice(0, 120) ?? ''} -> failed: ${r.failure()?.errorText ?? 'unknown'}`);
    if (recent.length > 8) recent.shift();
  });
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
  }, source);
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
export async function seedTenant(gateway: string, name = 'Screens Coffee Pty Ltd'): Promise<{ email: string; token: string; integrationId: string; webhookUrl: string }> {
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
  await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
}

/** Every screen of the dashboard: its path and the heading that says it has rendered. */
export type Screen = { name: string; path: string; heading: RegExp | string; signedOut?: boolean };

export const screensOf = (purchaseId: string, ruleId: string): Screen[] => [
  { name: 'login', path: '/login', heading: 'Log in', signedOut: true },
  { name: 'signup', path: '/signup', heading: 'Create your account', signedOut: true },
  { name: 'invite', path: '/invite?token=example', heading: 'Join your team', signedOut: true },
  { name: 'overview', path: '/', heading: 'Overview' },
  { name: 'purchases', path: '/purchases', heading: 'Purchases' },
  { name: 'purchase', path: `/purchases/${purchaseId}`, heading: /^Purchase of \$/ },
  { name: 'rules', path: '/rules', heading: 'Rules' },
  { name: 'rule-new', path: '/rules/new', heading: 'New rule' },
  { name: 'rule-edit', path: `/rules/${ruleId}`, heading: /^Edit / },
  { name: 'integrations', path: '/integrations', heading: 'Integrations' },
  { name: 'team', path: '/team', heading: 'Team & access' },
  { name: 'compliance', path: '/compliance', heading: 'Compliance & reports' },
  { name: 'account', path: '/account', heading: 'Account' },
];

/**
 * Opens a screen and waits until it has its heading and nothing is still loading. `inApp` moves
 * through the app's own router (as a click on a link does) instead of loading the page again.
 */
export async function openScreen(page: Page, base: string, s: Screen, inApp = false): Promise<void> {
  if (inApp) {
    await page.evaluate((path) => {
      const w = globalThis as unknown as { history: { pushState(a: null, b: string, c: string): void }; dispatchEvent(e: unknown): void; PopStateEvent: new (t: string) => unknown };
      w.history.pushState(null, '', path);
      w.dispatchEvent(new w.PopStateEvent('popstate'));
    }, s.path);
  } else await page.goto(`${base}${s.path}`);
  await page
    .getByRole('heading', { level: 1, name: s.heading })
    .waitFor()
    .catch(async (err: Error) => {
      // Say what the screen showed instead, and what the API answered last: a timeout alone tells nothing.
      const shown = await page
        .evaluate(() => (globalThis as unknown as { document: { body: { innerText: string } } }).document.body.innerText)
        .catch((e: Error) => `(page unreadable: ${e.message})`);
      const exchanges = (recentGraphql.get(page) ?? []).join('\n  ');
      throw new Error(`${s.name} (${s.path}) never showed its heading: ${err.message.split('\n')[0]}\nthe page showed: ${shown.replace(/\s+/g, ' ').slice(0, 600)}\nlatest GraphQL exchanges:\n  ${exchanges || '(none)'}`);
    });
  await page.waitForFunction(() => !(globalThis as unknown as { document: { querySelector(s: string): unknown } }).document.querySelector('.loading'));
}

type PurchaseSummary = { id: string; status: string };

/** A tenant with rules, Stripe and a filled purchase, made through the API and a signed webhook. */
export async function seedTenantWithPurchase(gateway: string): Promise<{ email: string; token: string; purchaseId: string; ruleId: string }> {
  const seeded = await seedTenant(gateway);
  const api = client(gateway, seeded.token);
  const stamp = Date.now();
  for (const [i, cents] of [12345, 24567].entries()) {
    const r = await postStripePayment(seeded.webhookUrl, cents, `seed_${stamp}_${i}`);
    if (r.status !== 200) throw new Error(`seed webhook refused: ${r.status} ${r.body}`);
  }
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { purchases } = await api.request<{ purchases: PurchaseSummary[] }>(gql`
      {
        purchases {
          id
          status
        }
      }
    `);
    const filled = purchases.filter((p) => p.status === 'FILLED');
    if (filled.length >= 2) {
      const { treasuryRules } = await api.request<{ treasuryRules: { id: string; type: string }[] }>(gql`
        {
          treasuryRules {
            id
            type
          }
        }
      `);
      return { email: seeded.email, token: seeded.token, purchaseId: at(filled, 0, 'filled purchases').id, ruleId: treasuryRules.find((r) => r.type === 'FIXED_DCA')!.id };
    }
    if (Date.now() > deadline) throw new Error(`seed purchases not filled: ${JSON.stringify(purchases)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
