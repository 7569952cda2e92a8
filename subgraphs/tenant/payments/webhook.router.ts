import express, { type Router } from 'express';
import { PAYLOAD_TOO_LARGE, attachFastRoute, readBoundedBody, replyJson, type FastRoute, type JsonAnswer } from '../../../lib/http';
import { log } from '../../../lib/logger';
import type { IntegrationService } from './integration.service';

/** The largest delivery accepted; Stripe's events are a few KB, PayPal's and Square's too. */
const BODY_LIMIT = 512 * 1024;
/** `/webhooks/:provider/:integrationId` with an optional trailing slash and query, as express matches it. */
const WEBHOOK_PATH = /^\/webhooks\/([^/?#]+)\/([^/?#]+)\/?(?:\?.*)?$/i;

type Answer = JsonAnswer;

/** Headers as received, a repeated one as all its values: `req.headers` joins repeats into one string, hiding them. */
type DistinctHeaders = NodeJS.Dict<string[]>;

async function answer(integrations: IntegrationService, provider: string, integrationId: string, rawBody: Buffer, headers: DistinctHeaders): Promise<Answer> {
  try {
    return await integrations.ingest(provider, integrationId, { rawBody, headers });
  } catch (err) {
    log().error({ err: (err as Error).message, provider }, 'webhook intake failed');
    // 5xx: the provider will retry, and nothing was half-stored (one transaction).
    return { status: 500, body: { error: 'INTERNAL_ERROR' } };
  }
}

const reply = replyJson;


/**
 * The same endpoint on lib/http's fast path: raw bytes read straight off the request, answered with
 * one write, no middleware (no express.raw, router walk, ETag or per-request logger). Anything it
 * does not fully understand (another method, a compressed body, an undecodable path) goes to express.
 */
function fastRoute(integrations: IntegrationService): FastRoute {
  return (req, res) => {
    if (req.method !== 'POST' || req.url === undefined) return false;
    const [, rawProvider, rawIntegrationId] = WEBHOOK_PATH.exec(req.url) ?? [];
    if (rawProvider === undefined || rawIntegrationId === undefined) return false;
    const encoding = req.headers['content-encoding'];
    if (encoding !== undefined && encoding !== 'identity') return false; // express.raw inflates gzip/deflate
    let provider: string;
    let integrationId: string;
    try {
      provider = decodeURIComponent(rawProvider);
      integrationId = decodeURIComponent(rawIntegrationId);
    } catch {
      return false;
    }
    readBoundedBody(req, res, BODY_LIMIT, (rawBody) => {
      void answer(integrations, provider, integrationId, rawBody, req.headersDistinct).then((a) => reply(res, a));
    });
    return true;
  };
}

/**
 * `POST /webhooks/{stripe,square,paypal}/:integrationId` — raw bytes in (signatures cover them),
 * 2xx once stored. Served on lib/http's fast path when the app is started with listen(); the express
 * route below serves it otherwise (and anything the fast path hands back).
 */
export function webhookRouter(integrations: IntegrationService): Router {
  const router = express.Router();
  router.post('/webhooks/:provider/:integrationId', express.raw({ type: () => true, limit: BODY_LIMIT }), async (req, res) => {
    const rawBody = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    reply(res, await answer(integrations, String(req.params.provider), String(req.params.integrationId), rawBody, req.headersDistinct));
  });
  router.use('/webhooks', (err: Error & { status?: number; type?: string }, _req: express.Request, res: express.Response, next: express.NextFunction) => {
    if (err.type === 'entity.too.large') return void reply(res, PAYLOAD_TOO_LARGE);
    next(err);
  });
  return attachFastRoute(router, fastRoute(integrations));
}
