import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Request, RequestHandler, Response } from 'express';

export type ExplorerOptions = { enabled: boolean };

/** Query parameter naming a bundled asset: GET /graphql?explorer-asset=graphiql.js (the explorer owns only GET /graphql). */
export const ASSET_PARAM = 'explorer-asset';

/** Finds an installed package's folder without require.resolve (packages with `exports` hide their files from it). */
function packageDir(name: string): string {
  for (const dir of require.resolve.paths(name) ?? []) {
    if (existsSync(join(dir, name, 'package.json'))) return join(dir, name);
  }
  throw new Error(`explorer: package ${name} is not installed`);
}

function packageVersion(name: string): string {
  return (JSON.parse(readFileSync(join(packageDir(name), 'package.json'), 'utf8')) as { version: string }).version;
}

type AssetSpec = { file: () => string; type: string };

/** Everything the page loads, from node_modules and this folder: no CDN, works offline. */
const ASSETS: Record<string, AssetSpec> = {
  'react.js': { file: () => join(packageDir('react'), 'umd/react.production.min.js'), type: 'text/javascript; charset=utf-8' },
  'react-dom.js': { file: () => join(packageDir('react-dom'), 'umd/react-dom.production.min.js'), type: 'text/javascript; charset=utf-8' },
  'graphiql.js': { file: () => join(packageDir('graphiql'), 'graphiql.min.js'), type: 'text/javascript; charset=utf-8' },
  'graphiql.css': { file: () => join(packageDir('graphiql'), 'graphiql.min.css'), type: 'text/css; charset=utf-8' },
  'graphql-ws.js': { file: () => join(packageDir('graphql-ws'), 'umd/graphql-ws.js'), type: 'text/javascript; charset=utf-8' },
  'explorer.js': { file: () => join(__dirname, 'explorer.client.js'), type: 'text/javascript; charset=utf-8' },
};

type Loaded = { body: Buffer; gzipped: Buffer; type: string };
const loaded = new Map<string, Loaded>();

function load(name: string): Loaded | undefined {
  const spec = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
  if (!spec) return undefined;
  let hit = loaded.get(name);
  if (!hit) {
    // Bundles drop their source-map comments (JS `//# …`, CSS `/*# … */`): the maps are not served.
    const text = readFileSync(spec.file(), 'utf8').replace(/\n?(?:\/\/# sourceMappingURL=\S+|\/\*# sourceMappingURL=\S+?\s*\*\/)\s*$/, '\n');
    const body = Buffer.from(text, 'utf8');
    hit = { body, gzipped: gzipSync(body), type: spec.type };
    loaded.set(name, hit);
  }
  return hit;
}

let version: string | undefined;
/** Cache-busting token for asset URLs: changes whenever a bundled package does. */
function assetVersion(): string {
  version ??= ['graphiql', 'react', 'react-dom', 'graphql-ws'].map((p) => packageVersion(p)).join('-');
  return version;
}

const assetUrl = (name: string): string => `?${ASSET_PARAM}=${encodeURIComponent(name)}&v=${assetVersion()}`;

/** JSON safe inside a <script> element (no `</script>`, no HTML comment openers). */
const scriptJson = (value: unknown): string => JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');

const DEFAULT_QUERY = `# Liquid ABT GraphQL explorer
#
# Queries and mutations run over HTTP POST; subscriptions over graphql-ws on this same URL.
# Signed-in operations: put {"Authorization": "Bearer <accessToken>"} in the Headers tab
# (get a token with the login mutation).

query Price {
  btcPrice(currency: AUD) {
    price
    source
    sources
    at
  }
}

subscription LivePrice {
  btcPrice(currency: AUD) {
    price
    source
    at
  }
}
`;

function page(query: string | undefined): string {
  const config = { defaultQuery: DEFAULT_QUERY, query };
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Liquid ABT · GraphQL explorer</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${assetUrl('graphiql.css')}">
<style>html, body, #explorer { height: 100%; margin: 0; } #explorer noscript, #explorer .loading { display: block; padding: 2em; font-family: system-ui, sans-serif; }</style>
</head>
<body>
<div id="explorer"><span class="loading">Loading the explorer…</span><noscript>The explorer needs JavaScript.</noscript></div>
<script id="explorer-config" type="application/json">${scriptJson(config)}</script>
<script src="${assetUrl('react.js')}"></script>
<script src="${assetUrl('react-dom.js')}"></script>
<script src="${assetUrl('graphql-ws.js')}"></script>
<script src="${assetUrl('graphiql.js')}"></script>
<script src="${assetUrl('explorer.js')}"></script>
</body>
</html>
`;
}

/** Only this origin: scripts and styles from the gateway, fetch/WebSocket to the gateway. */
function securityHeaders(req: Request, res: Response): void {
  const host = req.get('host') ?? '';
  res.set({
    'Content-Security-Policy': [
      "default-src 'self'",
      "script-src 'self'",
      // GraphiQL and CodeMirror set inline styles.
      "style-src 'self' 'unsafe-inline'",
      "img-src 'self' data:",
      "font-src 'self' data:",
      `connect-src 'self' ws://${host} wss://${host}`,
      "object-src 'none'",
      "base-uri 'none'",
      "frame-ancestors 'none'",
      "form-action 'none'",
    ].join('; '),
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'X-Frame-Options': 'DENY',
  });
}

function wantsHtml(req: Request): boolean {
  return req.accepts(['application/json', 'application/graphql-response+json', 'text/html']) === 'text/html';
}

function sendAsset(req: Request, res: Response, asset: Loaded): void {
  securityHeaders(req, res);
  res.set({ 'Content-Type': asset.type, 'Cache-Control': 'public, max-age=31536000, immutable', Vary: 'Accept-Encoding' });
  if (req.acceptsEncodings('gzip') === 'gzip') {
    res.set('Content-Encoding', 'gzip');
    res.end(asset.gzipped);
  } else {
    res.end(asset.body);
  }
}

/**
 * The developer explorer: GraphiQL, bundled from node_modules (no CDN, works offline), on GET
 * /graphql for browsers (Accept: text/html). Its assets are served on the same route
 * (`/graphql?explorer-asset=…`); everything else (GET queries, JSON clients) passes through to Apollo.
 * Disabled: passes everything through.
 */
export function explorer(opts: ExplorerOptions): RequestHandler {
  if (!opts.enabled) return (_req, _res, next) => next();
  return (req, res, next) => {
    const asked = req.query[ASSET_PARAM];
    if (asked !== undefined) {
      const asset = typeof asked === 'string' ? load(asked) : undefined;
      if (!asset) {
        res.status(404).type('text/plain').send('no such explorer asset');
        return;
      }
      sendAsset(req, res, asset);
      return;
    }
    if (!wantsHtml(req)) {
      next();
      return;
    }
    const query = typeof req.query.query === 'string' ? req.query.query : undefined;
    securityHeaders(req, res);
    res.set({ 'Cache-Control': 'no-store', Vary: 'Accept' });
    res.type('html').send(page(query));
  };
}

/** For tests and tooling: the asset names the page loads. */
export const EXPLORER_ASSETS = Object.keys(ASSETS);
