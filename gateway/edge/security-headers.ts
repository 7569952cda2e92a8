import cors from 'cors';
import type { Request, RequestHandler } from 'express';
import helmet from 'helmet';

export type CspDirectives = Record<string, string[]>;

/** API responses are JSON: nothing may be loaded, framed or submitted on their behalf. */
export const API_CSP: CspDirectives = {
  'default-src': ["'none'"],
  'base-uri': ["'none'"],
  'form-action': ["'none'"],
  'frame-ancestors': ["'none'"],
};

/**
 * The explorer page (GET /graphql for browsers, gateway/explorer): its own origin's scripts,
 * styles (GraphiQL injects inline styles), fonts, images and workers, and fetches/WebSockets to
 * this same origin. The explorer may replace it by setting its own Content-Security-Policy header.
 */
export const EXPLORER_CSP: CspDirectives = {
  'default-src': ["'self'"],
  'script-src': ["'self'"],
  'style-src': ["'self'", "'unsafe-inline'"],
  'img-src': ["'self'", 'data:'],
  'font-src': ["'self'", 'data:'],
  'connect-src': ["'self'"],
  'worker-src': ["'self'", 'blob:'],
  'object-src': ["'none'"],
  'base-uri': ["'self'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
};

export type SecurityHeaderOptions = {
  /** CSP of the explorer page; `false` sends none for it (the explorer sets its own). Default EXPLORER_CSP. */
  explorerCsp?: CspDirectives | false;
};

/** A browser asking GET /graphql for a page (what Apollo and the explorer treat as "prefers HTML"). */
export const wantsHtml = (req: Request): boolean =>
  req.method === 'GET' && req.accepts(['application/json', 'application/graphql-response+json', 'text/html']) === 'text/html';

const withCsp = (directives: CspDirectives | false): RequestHandler =>
  helmet({
    contentSecurityPolicy: directives === false ? false : { useDefaults: false, directives },
    // No cookies and no cross-origin embedding of API responses.
    crossOriginResourcePolicy: { policy: 'same-origin' },
    referrerPolicy: { policy: 'no-referrer' },
    strictTransportSecurity: { maxAge: 31_536_000, includeSubDomains: true },
  }) as RequestHandler;

/** helmet's headers on every response; the explorer page gets a CSP that lets it work. */
export function securityHeaders(opts: SecurityHeaderOptions = {}): RequestHandler {
  const api = withCsp(API_CSP);
  const page = withCsp(opts.explorerCsp ?? EXPLORER_CSP);
  return (req, res, next) => (wantsHtml(req) ? page(req, res, next) : api(req, res, next));
}

/** Normalises an origin as browsers send it (`https://app.example.com`, no path, no trailing slash). */
const normaliseOrigin = (o: string): string => o.trim().replace(/\/+$/, '').toLowerCase();

/**
 * CORS for an allowlist of exact origins (default: none, so browsers only call from the same
 * origin). No credentials mode: the API uses bearer tokens, never cookies.
 */
export function corsAllowlist(origins: readonly string[] = []): RequestHandler {
  const allowed = new Set(origins.map(normaliseOrigin));
  return cors({
    origin: (origin, cb) => cb(null, origin !== undefined && allowed.has(normaliseOrigin(origin))),
    methods: ['GET', 'POST', 'OPTIONS'],
    allowedHeaders: ['authorization', 'content-type', 'apollo-require-preflight', 'x-apollo-operation-name', 'x-correlation-id'],
    exposedHeaders: ['RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', 'RateLimit-Policy', 'Retry-After', 'x-correlation-id'],
    credentials: false,
    maxAge: 600,
  }) as RequestHandler;
}
