import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { ASSET_PARAM, EXPLORER_ASSETS, explorer } from '.';

/** The explorer mounted as gateway.ts mounts it, in front of a stand-in for Apollo. */
async function serve(enabled: boolean): Promise<{ url: string; server: Server }> {
  const app = express();
  app.get('/graphql', explorer({ enabled }));
  app.use('/graphql', (_req, res) => void res.status(299).json({ apollo: true }));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`, server };
}

const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

describe('explorer', () => {
  let on: { url: string; server: Server };
  let off: { url: string; server: Server };
  beforeAll(async () => {
    on = await serve(true);
    off = await serve(false);
  });
  afterAll(() => {
    on.server.close();
    off.server.close();
  });

  it('serves GraphiQL to browsers, loading only its own bundled assets, under a same-origin CSP', async () => {
    const res = await fetch(on.url, { headers: { accept: BROWSER_ACCEPT } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await res.text();
    const sources = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].flatMap(([, u]) => (u === undefined || u.startsWith('data:') ? [] : [u]));
    expect(sources.length).toBe(EXPLORER_ASSETS.length);
    for (const src of sources) {
      expect(src.startsWith(`?${ASSET_PARAM}=`)).toBe(true);
      const asset = await fetch(new URL(src, on.url), { headers: { 'accept-encoding': 'gzip' } });
      expect([asset.status, asset.headers.get('cache-control')]).toEqual([200, 'public, max-age=31536000, immutable']);
      expect(asset.headers.get('content-type')).toMatch(src.includes('.css') ? /^text\/css/ : /^text\/javascript/);
      const body = await asset.text(); // fetch decodes gzip
      expect(body.length).toBeGreaterThan(1000);
      expect(body).not.toContain('sourceMappingURL');
    }
  });

  it('puts a ?query= into the editor, safely escaped', async () => {
    const html = await (await fetch(`${on.url}?query=${encodeURIComponent('{ btcPrice { price } } </script><script>alert(1)</script>')}`, { headers: { accept: BROWSER_ACCEPT } })).text();
    expect(html).toContain('{ btcPrice { price } } \\u003c/script\\u003e\\u003cscript\\u003ealert(1)\\u003c/script\\u003e');
    expect(html.match(/<script/g)?.length).toBe(EXPLORER_ASSETS.length - 1 + 1); // 5 script assets + the JSON config
  });

  it('leaves API clients, unknown assets and a disabled explorer alone', async () => {
    expect((await fetch(on.url, { headers: { accept: 'application/json' } })).status).toBe(299);
    expect((await fetch(`${on.url}?query=%7B__typename%7D`, { headers: { accept: '*/*' } })).status).toBe(299);
    expect((await fetch(`${on.url}?${ASSET_PARAM}=../../package.json`)).status).toBe(404);
    expect((await fetch(`${on.url}?${ASSET_PARAM}=constructor`)).status).toBe(404);
    expect((await fetch(off.url, { headers: { accept: BROWSER_ACCEPT } })).status).toBe(299);
    expect((await fetch(`${off.url}?${ASSET_PARAM}=graphiql.js`)).status).toBe(299);
  });
});
