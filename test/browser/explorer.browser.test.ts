import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page, type Response } from 'playwright-core';
import { gql } from 'graphql-request';
import { client, startTestPlatform, type TestPlatform } from '../helpers/platform';

/**
 * The GraphiQL explorer in a real Chromium (Debian's, not a downloaded one), against the whole
 * platform: it must load and work with nothing but the gateway, so every request the page makes is
 * recorded and any to another host fails the test. Without Chromium the suite fails (it does not skip).
 * CHROMIUM_PATH overrides /usr/bin/chromium; EXPLORER_DEBUG=<file.png> logs the page's console and
 * failed requests, and saves a screenshot if the subscription does not show ticks.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

type Tick = { data?: { btcPrice?: { price: string; source: string; at: string } } };

describe('GraphQL explorer in Chromium', () => {
  let t: TestPlatform;
  let context: BrowserContext;
  let page: Page;
  let profile: string;
  const requested: string[] = [];
  const consoleErrors: string[] = [];
  const wsFrames: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`Chromium not found at ${CHROMIUM}: the explorer browser test needs it (apt-get install -y chromium, or set CHROMIUM_PATH)`);
    }
    t = await startTestPlatform();
    profile = mkdtempSync(join(tmpdir(), 'abt-explorer-chromium-'));
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS });
    context.on('request', (r) => void requested.push(r.url()));
    page = context.pages()[0] ?? (await context.newPage());
    page.on('websocket', (ws) => {
      requested.push(ws.url());
      ws.on('framereceived', (f) => void wsFrames.push(String(f.payload).slice(0, 200)));
      ws.on('close', () => void wsFrames.push('(closed)'));
    });
    page.on('response', (r) => void (r.status() >= 400 && consoleErrors.push(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`)));
    if (process.env.EXPLORER_DEBUG) {
      page.on('console', (m) => void console.log('page console', m.type(), m.text()));
      page.on('pageerror', (e) => void console.log('page error', e.message));
      page.on('requestfailed', (r) => void console.log('request failed', r.url(), r.failure()?.errorText));
    }
    page.on('console', (m) => void (m.type() === 'error' && consoleErrors.push(m.text())));
  });
  afterAll(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await t?.stop();
  });

  /** The text of a GraphiQL editor (CodeMirror 5 keeps it on its wrapper element). */
  const editorText = (selector: string): Promise<string> =>
    page.evaluate((sel) => {
      // Runs in the page; the test's tsconfig has no DOM types.
      const doc = (globalThis as unknown as { document: { querySelector(s: string): { CodeMirror?: { getValue(): string } } | null } }).document;
      return doc.querySelector(sel)?.CodeMirror?.getValue() ?? '';
    }, selector);

  /** Opens the explorer and waits until it has the schema (GraphiQL introspects over the same fetcher). */
  const open = async (): Promise<Response | null> => {
    const introspected = page.waitForResponse((r) => r.request().method() === 'POST' && (r.request().postData() ?? '').includes('IntrospectionQuery'), { timeout: 30_000 });
    const res = await page.goto(t.gateway, { waitUntil: 'load' });
    expect((await introspected).status()).toBe(200);
    await page.waitForSelector('.graphiql-query-editor .CodeMirror', { timeout: 20_000 });
    return res;
  };

  const typeInto = async (selector: string, text: string): Promise<void> => {
    await page.click(selector);
    await page.keyboard.press('Control+A');
    await page.keyboard.press('Delete');
    await page.keyboard.type(text);
    // Typing opens autocomplete hints; one left open can swallow the next click.
    await page.keyboard.press('Escape');
    await page.waitForSelector('.CodeMirror-hints', { state: 'detached', timeout: 5_000 });
  };

  /** Runs the operation in the editor (Ctrl-Enter, as a user would) and waits until GraphiQL has started it. */
  const run = async (subscription: boolean): Promise<void> => {
    await page.click('.graphiql-query-editor .CodeMirror');
    await page.keyboard.press('Control+Enter');
    if (subscription) await page.waitForSelector('.graphiql-execute-button[aria-label^="Stop"]', { timeout: 10_000 });
  };

  const until = async <T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs = 20_000): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await read();
      if (ok(v)) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(v).slice(0, 500)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  it('loads from the gateway alone and streams a btcPrice subscription into the result pane', async () => {
    const res = await open();
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-type']).toMatch(/^text\/html/);

    const subscription = 'subscription { btcPrice(currency: AUD) { price source at } }';
    await typeInto('.graphiql-query-editor .CodeMirror', subscription);
    expect((await editorText('.graphiql-query-editor .CodeMirror')).replace(/\s+/g, ' ').trim()).toBe(subscription);
    await run(true);

    // Each tick replaces the result; collect distinct ones as they appear.
    const seen = new Map<string, Tick>();
    let text = '';
    await until(
      async () => {
        text = await editorText('.graphiql-response .CodeMirror');
        try {
          const tick = JSON.parse(text) as Tick;
          if (tick.data?.btcPrice?.at) seen.set(tick.data.btcPrice.at, tick);
        } catch {
          // not a complete result yet
        }
        return seen.size;
      },
      (n) => n >= 2,
      'two ticks in the result pane',
    ).catch(async (err: Error) => {
      if (process.env.EXPLORER_DEBUG) await page.screenshot({ path: process.env.EXPLORER_DEBUG });
      throw new Error(`${err.message}; result pane: ${text.slice(0, 300)}; console errors: ${consoleErrors.join(' | ')}; requests: ${requested.join(' ')}; WebSocket frames: ${wsFrames.slice(0, 5).join(' | ')}`);
    });
    for (const tick of seen.values()) {
      expect(tick).toEqual({ data: { btcPrice: { price: expect.stringMatching(/^\d+\.\d{2}$/), source: 'SIMULATED', at: expect.any(String) } } });
    }
    // The subscription went over graphql-ws to the gateway's own /graphql.
    expect(requested).toContain(`${t.gateway.replace(/^http/, 'ws')}`);
  });

  it('sends the Authorization header from the headers editor with queries', async () => {
    const email = `explorer-${Date.now()}@explorer.example`;
    const { signUp } = await client(t.gateway).request<{ signUp: { accessToken: string } }>(
      gql`
        mutation SignUp($input: SignUpInput!) {
          signUp(input: $input) {
            accessToken
          }
        }
      `,
      { input: { tenantName: 'Explorer Pty Ltd', email, password: 'Correct-Horse-42-Battery' } },
    );
    await open();
    await typeInto('.graphiql-query-editor .CodeMirror', '{ tenant { name } }');
    // The headers tab is open by default (defaultEditorToolsVisibility: 'headers'); paste the header into it.
    const headersEditor = page.locator('.graphiql-editor-tool .CodeMirror:visible');
    await headersEditor.click();
    await page.keyboard.press('Control+A');
    await page.keyboard.insertText(JSON.stringify({ Authorization: `Bearer ${signUp.accessToken}` }));
    await run(false);
    const text = await until(() => editorText('.graphiql-response .CodeMirror'), (v) => v.includes('Explorer Pty Ltd') || v.includes('errors'), 'the query result');
    expect(JSON.parse(text)).toEqual({ data: { tenant: { name: 'Explorer Pty Ltd' } } });
  });

  it('made no request to any host but the gateway', () => {
    expect(requested.length).toBeGreaterThan(5);
    const foreign = requested.filter((u) => {
      const url = new URL(u);
      if (url.protocol === 'data:' || url.protocol === 'blob:' || url.protocol === 'about:') return false;
      return !LOCAL_HOSTS.has(url.hostname);
    });
    expect(foreign).toEqual([]);
  });
});
