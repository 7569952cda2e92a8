import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import express from 'express';
import { dashboard, dashboardCsp } from './web';

describe('gateway/web: the dashboard at /', () => {
  let dir: string;
  let server: Server;
  let base: string;
  const start = async (distDir: string): Promise<void> => {
    const app = express();
    app.get('/graphql', (_req, res) => void res.json({ api: true }));
    app.use(dashboard({ distDir }));
    app.use((_req, res) => void res.status(404).json({ notFound: true }));
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'abt-web-'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><div id="root"></div>');
    writeFileSync(join(dir, 'sw.js'), 'self.x = 1;');
    writeFileSync(join(dir, 'assets', 'index-abc123.js'), 'console.log("app")');
    writeFileSync(join(dir, 'assets', 'index-abc123.js.gz'), gzipSync('console.log("app")'));
    await start(dir);
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers every page path with index.html under the strict CSP, never cached', async () => {
    for (const path of ['/', '/purchases/123', '/rules/new']) {
      const res = await fetch(base + path, { headers: { accept: 'text/html' } });
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('<div id="root">');
      expect(res.headers.get('cache-control')).toBe('no-cache');
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("script-src 'self';");
      expect(csp).toContain("style-src 'self';");
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).toContain(`connect-src 'self' ws://${new URL(base).host} wss://${new URL(base).host}`);
    }
  });

  it('serves hashed assets immutable, pre-compressed when the browser accepts it', async () => {
    const gz = await fetch(`${base}/assets/index-abc123.js`, { headers: { 'accept-encoding': 'gzip' } });
    expect(gz.status).toBe(200);
    expect(gz.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(gz.headers.get('content-encoding')).toBe('gzip');
    expect(gz.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(await gz.text()).toBe('console.log("app")'); // fetch decompresses
    const plain = await fetch(`${base}/assets/index-abc123.js`, { headers: { 'accept-encoding': 'identity' } });
    expect(plain.headers.get('content-encoding')).toBeNull();
    expect(await plain.text()).toBe('console.log("app")');
    // A missing asset is a 404, not the app's HTML (a stale page must not run HTML as a script).
    expect((await fetch(`${base}/assets/gone-000.js`)).status).toBe(404);
    expect((await fetch(`${base}/assets/..%2findex.html`)).status).toBe(404);
  });

  it('leaves the API and operations paths to the gateway', async () => {
    expect(await (await fetch(`${base}/graphql`, { headers: { accept: 'text/html' } })).json()).toEqual({ api: true });
    for (const path of ['/api/health', '/metrics', '/webhooks/stripe/x', '/graphql/extra']) {
      const res = await fetch(base + path, { headers: { accept: 'text/html' } });
      expect([path, res.status]).toEqual([path, 404]);
      expect(res.headers.get('content-security-policy')).toBeNull();
    }
  });

  it('serves the service worker with the dashboard CSP, and never a JSON request with HTML', async () => {
    const sw = await fetch(`${base}/sw.js`);
    expect(sw.status).toBe(200);
    expect(sw.headers.get('cache-control')).toBe('no-cache');
    expect(sw.headers.get('content-security-policy')).toContain("connect-src 'self'");
    const json = await fetch(`${base}/some/page`, { headers: { accept: 'application/json' } });
    expect(json.status).toBe(404);
  });

  it('says how to build it when web/dist is missing', async () => {
    await new Promise((r) => server.close(r));
    await start(join(dir, 'does-not-exist'));
    const res = await fetch(`${base}/`, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(503);
    expect(await res.text()).toContain('npm run build');
  });

  it('names the WebSocket origin only for a well-formed Host', () => {
    expect(dashboardCsp('127.0.0.1:4000')).toContain('ws://127.0.0.1:4000 wss://127.0.0.1:4000');
    expect(dashboardCsp('[::1]:4000')).toContain('ws://[::1]:4000');
    expect(dashboardCsp('evil.example; script-src *')).not.toContain('evil');
    expect(dashboardCsp(undefined)).toContain("connect-src 'self';");
  });
});
