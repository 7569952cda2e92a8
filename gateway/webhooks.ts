import express, { type Request, type RequestHandler, type Response, type Router } from 'express';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { attachFastRoute, readBoundedBody, replyJson, type JsonAnswer } from '../lib/http';
import { log } from '../lib/logger';
import { injectTraceHeaders } from '../lib/tracing';

/** As the tenant subgraph's own limit: Stripe's, Square's and PayPal's events are a few KB. */
export const WEBHOOK_PROXY_BODY_LIMIT = 512 * 1024;
const DEFAULT_TIMEOUT_MS = 30_000;
/** The tenant answers with a small JSON object; anything bigger is not its answer. */
const RESPONSE_LIMIT = 64 * 1024;

/** Per-connection headers (RFC 9110 §7.6.1) and the ones the proxy sets itself. */
const NOT_FORWARDED = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
  'host',
  'content-length',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  // Providers send no credentials; a caller's own must not reach the subgraph around the gateway's checks.
  'authorization',
  'cookie',
]);

/** `/webhooks/:provider/:integrationId`, optional trailing slash and query, as the tenant's own route matches it. */
const WEBHOOK_PATH = /^\/webhooks\/([^/?#]+)\/([^/?#]+)\/?(\?.*)?$/;
/** What a provider or integration id can look like; anything else (`..`, encoded slashes) is never forwarded. */
const SEGMENT = /^[A-Za-z0-9_-]{1,64}$/;

export type WebhookProxyOptions = {
  /** The tenant subgraph's URL, its `/graphql` endpoint or its base (it serves `/webhooks/...` beside it). */
  tenantUrl: string;
  timeoutMs?: number;
  /**
   * The gateway's security headers (helmet), for answers on the fast path, which runs before the
   * app's middleware. It must only set headers (it is given the bare Node request and response).
   */
  headers?: RequestHandler;
};

type Answer = JsonAnswer;
const UNAVAILABLE: Answer = { status: 502, body: { error: 'WEBHOOK_UPSTREAM_UNAVAILABLE' } };
/** As the tenant answers an unknown integration. */
const UNKNOWN: Answer = { status: 404, body: { error: 'UNKNOWN_INTEGRATION' } };

const reply = replyJson;

/**
 * The headers to forward: a repeated one as its separate lines (the tenant refuses a repeated
 * signature header; joining them here would hide the repeat), plus who sent it.
 */
function forwardedHeaders(req: IncomingMessage, length: number): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, values] of Object.entries(req.headersDistinct)) {
    if (values && !NOT_FORWARDED.has(name)) out[name] = values.length === 1 ? values[0] : values;
  }
  out['content-length'] = String(length);
  if (req.socket.remoteAddress) out['x-forwarded-for'] = req.socket.remoteAddress;
  if (req.headers.host) out['x-forwarded-host'] = req.headers.host;
  // The tenant's span is a child of the gateway's (a caller's own traceparent is its parent here).
  injectTraceHeaders(out);
  return out;
}

/**
 * `POST /webhooks/{stripe,square,paypal}/:integrationId` on the gateway's public address, relayed
 * to the tenant subgraph: the raw body byte for byte (signatures cover it; never parsed here), the
 * headers, and the tenant's status and body back unchanged. No auth and no rate limit: providers
 * can pass neither, and the tenant verifies every delivery's signature itself. Served on lib/http's
 * fast path (before express) when mounted on the app given to listen(); by the express route otherwise.
 */
export function webhookProxy(opts: WebhookProxyOptions): Router {
  const base = new URL(opts.tenantUrl.replace(/\/graphql\/?$/, ''));
  const https = base.protocol === 'https:';
  const send = https ? httpsRequest : httpRequest;
  const agent = https ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const basePath = base.pathname.replace(/\/+$/, '');

  const relay = (req: IncomingMessage, res: ServerResponse, path: string, body: Buffer): void => {
    const upstream = send(new URL(`${basePath}${path}`, base), { method: 'POST', agent, headers: forwardedHeaders(req, body.length), timeout: timeoutMs }, (answer) => {
      const chunks: Buffer[] = [];
      let size = 0;
      answer.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= RESPONSE_LIMIT) chunks.push(chunk);
      });
      answer.on('end', () => {
        if (size > RESPONSE_LIMIT) return reply(res, UNAVAILABLE);
        if (res.headersSent || res.destroyed) return;
        const text = Buffer.concat(chunks, size);
        res.writeHead(answer.statusCode ?? 502, {
          'content-type': answer.headers['content-type'] ?? 'application/json; charset=utf-8',
          'content-length': text.length,
        });
        res.end(text);
      });
      answer.on('error', () => reply(res, UNAVAILABLE));
    });
    upstream.on('timeout', () => upstream.destroy(new Error('timeout')));
    upstream.on('error', (err) => {
      // 5xx: nothing was stored, so the provider's retry is what should happen.
      log().warn({ err: err.message }, 'webhook relay to the tenant subgraph failed');
      reply(res, UNAVAILABLE);
    });
    upstream.end(body);
  };

  /** Reads the body (413 past the limit) and relays it; false when the URL is not a webhook's. */
  const handle = (req: IncomingMessage, res: ServerResponse, url: string): boolean => {
    const m = WEBHOOK_PATH.exec(url);
    if (!m) return false;
    // Rebuilt from checked segments, never the raw path: `/webhooks/../graphql` would resolve to the tenant's /graphql.
    const [, provider, account, query = ''] = m;
    if (provider === undefined || account === undefined || !SEGMENT.test(provider) || !SEGMENT.test(account)) {
      req.resume();
      reply(res, UNKNOWN);
      return true;
    }
    const path = `/webhooks/${provider}/${account}${query}`;
    readBoundedBody(req, res, WEBHOOK_PROXY_BODY_LIMIT, (body) => relay(req, res, path, body));
    return true;
  };

  const router = express.Router();
  // Behind the app's own middleware (security headers included) when not served on the fast path.
  router.post('/webhooks/:provider/:integrationId', (req, res, next) => {
    if (!handle(req, res, req.originalUrl)) next();
  });
  const withHeaders = opts.headers;
  return attachFastRoute(router, (req, res) => {
    const url = req.url;
    if (req.method !== 'POST' || url === undefined || !WEBHOOK_PATH.test(url)) return false;
    if (!withHeaders) return handle(req, res, url);
    let handled = false;
    const go = (): void => {
      if (!handled) handled = handle(req, res, url);
    };
    try {
      withHeaders(req as Request, res as Response, go);
    } catch (err) {
      // A header middleware that needs express's extras must not take the webhook down with it.
      log().warn({ err: (err as Error).message }, 'security headers skipped on a relayed webhook');
      go();
    }
    return true;
  });
}
