import express, { type Request, type Response, type Router } from 'express';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { currentCorrelationId, log } from '../lib/logger';

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

/** What a provider or integration id can look like; anything else (`..`, encoded slashes) is never forwarded. */
const SEGMENT = /^[A-Za-z0-9_-]{1,64}$/;

export type WebhookProxyOptions = {
  /** The tenant subgraph's URL, its `/graphql` endpoint or its base (it serves `/webhooks/...` beside it). */
  tenantUrl: string;
  timeoutMs?: number;
};

type Answer = { status: number; body: Record<string, unknown> };
const TOO_LARGE: Answer = { status: 413, body: { error: 'PAYLOAD_TOO_LARGE' } };
const UNAVAILABLE: Answer = { status: 502, body: { error: 'WEBHOOK_UPSTREAM_UNAVAILABLE' } };
/** As the tenant answers an unknown integration. */
const UNKNOWN: Answer = { status: 404, body: { error: 'UNKNOWN_INTEGRATION' } };

function reply(res: Response, { status, body }: Answer, close = false): void {
  if (res.headersSent) return;
  if (close) res.set('connection', 'close');
  res.status(status).json(body);
}

/** The request body, or undefined (answered 413) once it passes the limit. */
function readBody(req: Request, res: Response): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    if (Number(req.headers['content-length']) > WEBHOOK_PROXY_BODY_LIMIT) {
      reply(res, TOO_LARGE, true);
      req.resume();
      return resolve(undefined);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on('data', (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size > WEBHOOK_PROXY_BODY_LIMIT) {
        refused = true;
        chunks.length = 0;
        reply(res, TOO_LARGE, true);
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!refused) resolve(Buffer.concat(chunks, size));
    });
    req.on('error', reject);
  });
}

/**
 * The signature headers and the rest, a repeated header as its separate lines (the tenant refuses
 * a repeated signature header; joining them here would hide the repeat), plus who sent it.
 */
function forwardedHeaders(req: Request, length: number): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, values] of Object.entries(req.headersDistinct)) {
    if (values && !NOT_FORWARDED.has(name)) out[name] = values.length === 1 ? values[0] : values;
  }
  out['content-length'] = String(length);
  if (req.ip) out['x-forwarded-for'] = req.ip;
  out['x-forwarded-proto'] = req.protocol;
  if (req.headers.host) out['x-forwarded-host'] = req.headers.host;
  const correlationId = currentCorrelationId();
  if (correlationId) out['x-correlation-id'] = correlationId;
  return out;
}

/**
 * `POST /webhooks/{stripe,square,paypal}/:integrationId` on the gateway's public address, relayed
 * to the tenant subgraph: the raw body byte for byte (signatures cover it; never parsed here), the
 * headers, and the tenant's status and body back unchanged. No auth and no rate limit: providers
 * can pass neither, and the tenant verifies every delivery's signature itself.
 */
export function webhookProxy(opts: WebhookProxyOptions): Router {
  const base = new URL(opts.tenantUrl.replace(/\/graphql\/?$/, ''));
  const https = base.protocol === 'https:';
  const send = https ? httpsRequest : httpRequest;
  const agent = https ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const basePath = base.pathname.replace(/\/+$/, '');

  const relay = (req: Request, res: Response, path: string, body: Buffer): Promise<void> =>
    new Promise((resolve) => {
      const target = new URL(`${basePath}${path}`, base);
      const done = (a?: Answer): void => {
        if (a) reply(res, a);
        resolve();
      };
      const upstream = send(target, { method: 'POST', agent, headers: forwardedHeaders(req, body.length), timeout: timeoutMs }, (answer: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        answer.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size <= RESPONSE_LIMIT) chunks.push(chunk);
        });
        answer.on('end', () => {
          if (res.headersSent) return done();
          if (size > RESPONSE_LIMIT) return done(UNAVAILABLE);
          res.status(answer.statusCode ?? 502);
          const type = answer.headers['content-type'];
          if (type) res.set('content-type', type);
          res.send(Buffer.concat(chunks));
          done();
        });
        answer.on('error', () => done(UNAVAILABLE));
      });
      upstream.on('timeout', () => upstream.destroy(new Error('timeout')));
      upstream.on('error', (err) => {
        // 5xx: nothing was stored, so the provider's retry is what should happen.
        log().warn({ err: err.message }, 'webhook relay to the tenant subgraph failed');
        done(UNAVAILABLE);
      });
      upstream.end(body);
    });

  const router = express.Router();
  router.post('/webhooks/:provider/:integrationId', async (req, res) => {
    const { provider, integrationId } = req.params;
    // Rebuilt from checked segments, never the raw path: `/webhooks/../graphql` would resolve to the tenant's /graphql.
    if (!SEGMENT.test(String(provider)) || !SEGMENT.test(String(integrationId))) {
      req.resume();
      return reply(res, UNKNOWN);
    }
    const query = req.originalUrl.includes('?') ? req.originalUrl.slice(req.originalUrl.indexOf('?')) : '';
    const body = await readBody(req, res).catch(() => undefined);
    if (body === undefined) return void (res.headersSent || res.destroy());
    await relay(req, res, `/webhooks/${provider}/${integrationId}${query}`, body);
  });
  return router;
}
