import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, join, normalize, sep } from 'node:path';
import express, { type Request, type RequestHandler, type Response, type Router } from 'express';
import type { CspDirectives } from './edge/security-headers';

/** Where `npm run build` puts the dashboard (web/dist). */
export const DASHBOARD_DIST = join(__dirname, '..', 'web', 'dist');
/** The dashboard's first-party persisted-query manifest, written by the build (see docs/edge.md). */
export const DASHBOARD_MANIFEST_PATH = join(DASHBOARD_DIST, 'persisted-operations.json');

/**
 * The dashboard's CSP: its own origin only, no inline scripts or styles (the build emits none; the
 * chart and QR code set styles through the DOM, which CSP allows), fetches and graphql-ws to this
 * same origin, its service worker and manifest from here.
 */
export const DASHBOARD_CSP = {
  'default-src': ["'self'"],
  'script-src': ["'self'"],
  'style-src': ["'self'"],
  'img-src': ["'self'", 'data:'],
  'font-src': ["'self'"],
  'connect-src': ["'self'"],
  'manifest-src': ["'self'"],
  'worker-src': ["'self'"],
  'object-src': ["'none'"],
  'base-uri': ["'self'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
} satisfies CspDirectives;

/** Browsers differ on whether 'self' covers ws:/wss: to the same host, so the WebSocket origin is named too. */
export function dashboardCsp(host: string | undefined): string {
  const ws = host && /^[A-Za-z0-9.-]+(:\d+)?$|^\[[0-9A-Fa-f:.]+\](:\d+)?$/.test(host) ? [`ws://${host}`, `wss://${host}`] : [];
  return Object.entries({ ...DASHBOARD_CSP, 'connect-src': [...DASHBOARD_CSP['connect-src'], ...ws] })
    .map(([k, v]) => `${k} ${v.join(' ')}`)
    .join('; ');
}

/** Paths that belong to the API and operations, never to the single-page app. */
const NOT_THE_APP = /^\/(graphql|api|metrics|webhooks|oauth)(\/|$)/;

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/**
 * Hashed assets, pre-compressed by the build (`.br`, `.gz` beside each file): served compressed
 * when the browser accepts it, cached for a year as immutable (a new build has new names).
 */
function assets(dir: string): RequestHandler {
  return (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    const file = normalize(join(dir, req.path));
    if (!file.startsWith(dir + sep) || !existsSync(file) || !statSync(file).isFile()) {
      res.status(404).type('text/plain').send('not found');
      return;
    }
    res.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
    res.setHeader('Vary', 'Accept-Encoding');
    const type = TYPES[extname(file)];
    const accepts = req.acceptsEncodings(['br', 'gzip', 'identity']);
    for (const [enc, ext] of [
      ['br', '.br'],
      ['gzip', '.gz'],
    ] as const) {
      if (type && accepts === enc && existsSync(file + ext)) {
        res.setHeader('Content-Type', type);
        res.setHeader('Content-Encoding', enc);
        res.sendFile(file + ext);
        return;
      }
    }
    res.sendFile(file);
  };
}

function notBuilt(res: Response): void {
  res
    .status(503)
    .type('text/html; charset=utf-8')
    .send('<!doctype html><title>Liquid ABT</title><p>The dashboard is not built yet: run <code>npm run build</code> (or <code>npm start</code>, which builds it).</p>');
}

/**
 * The dashboard (web/dist) at `/`: the app's files, its hashed assets, and index.html for every
 * other page path (the app routes in the browser). API paths are left to the gateway.
 */
export function dashboard(opts: { distDir?: string } = {}): Router {
  const dir = opts.distDir ?? DASHBOARD_DIST;
  const router = express.Router();
  let index: Buffer | undefined;
  const indexHtml = (): Buffer | undefined => {
    if (!index && existsSync(join(dir, 'index.html'))) index = readFileSync(join(dir, 'index.html'));
    return index;
  };
  router.use((req, res, next) => {
    if (NOT_THE_APP.test(req.path)) return next('router');
    // Replaces the API's CSP helmet set: these responses are the app (the service worker's CSP is its own).
    res.setHeader('Content-Security-Policy', dashboardCsp(req.get('host')));
    next();
  });
  router.use('/assets', assets(join(dir, 'assets')));
  router.use(
    express.static(dir, {
      index: false,
      dotfiles: 'ignore',
      setHeaders: (res) => void res.setHeader('Cache-Control', 'no-cache'),
    }),
  );
  router.use((req: Request, res: Response, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    if (!req.accepts('html')) return next();
    const html = indexHtml();
    if (!html) return notBuilt(res);
    res.setHeader('Cache-Control', 'no-cache');
    res.type('text/html; charset=utf-8').send(html);
  });
  return router;
}
