import express, { type Router } from 'express';
import { PAYLOAD_TOO_LARGE, attachFastRoute, readBoundedBody, replyJson, type FastRoute, type JsonAnswer } from '../../../../lib/http';
import { log } from '../../../../lib/logger';
import type { WebhookHeaders } from '../webhooks';
import { oauthReasonOf } from './oauth-state';
import type { PaymentOAuthService } from './oauth.service';

const BODY_LIMIT = 512 * 1024;
/** `/webhooks/connect/:provider`: app-level deliveries that name the connected account. */
const CONNECT_PATH = /^\/webhooks\/connect\/([a-z]+)\/?(?:\?.*)?$/;

async function answer(oauth: PaymentOAuthService, provider: string, rawBody: Buffer, headers: WebhookHeaders): Promise<JsonAnswer> {
  try {
    return await oauth.ingestApp(provider, { rawBody, headers });
  } catch (err) {
    log().error({ err: (err as Error).message, provider }, 'app webhook intake failed');
    return { status: 500, body: { error: 'INTERNAL_ERROR' } };
  }
}

/**
 * `GET /oauth/:provider/callback` (the redirect URL registered with the provider; the gateway
 * relays it): completes the connection and sends the browser back to the dashboard with the outcome
 * (`paymentOAuth=connected&integrationId=…` or `paymentOAuth=failed&reason=<OAuth reason>`). The
 * query (code, state) is never logged. `POST /webhooks/connect/:provider`: the provider's app-level
 * webhooks, on lib/http's fast path like the per-integration ones (mounted before them).
 */
export function paymentOAuthRouter(oauth: PaymentOAuthService): Router {
  const router = express.Router();
  router.get('/oauth/:provider/callback', async (req, res) => {
    const provider = String(req.params.provider);
    const query = new URLSearchParams(req.originalUrl.includes('?') ? req.originalUrl.slice(req.originalUrl.indexOf('?') + 1) : '');
    res.setHeader('cache-control', 'no-store');
    res.setHeader('referrer-policy', 'no-referrer');
    try {
      const integration = await oauth.complete(provider, query);
      res.redirect(303, oauth.returnUrl({ integrationId: integration.id }));
    } catch (err) {
      const reason = oauthReasonOf(err) ?? (err instanceof Error && 'extensions' in err ? 'NOT_FOUND' : 'INTERNAL_ERROR');
      log()[reason === 'INTERNAL_ERROR' || reason === 'OAUTH_PROVIDER_UNAVAILABLE' ? 'error' : 'warn']({ provider, reason, ...(reason === 'INTERNAL_ERROR' ? { err: (err as Error).message } : {}) }, 'payment OAuth callback refused');
      res.redirect(303, oauth.returnUrl({ reason }));
    }
  });
  router.post('/webhooks/connect/:provider', express.raw({ type: () => true, limit: BODY_LIMIT }), async (req, res) => {
    const rawBody = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    replyJson(res, await answer(oauth, String(req.params.provider), rawBody, req.headersDistinct));
  });
  router.use('/webhooks/connect', (err: Error & { type?: string }, _req: express.Request, res: express.Response, next: express.NextFunction) => {
    if (err.type === 'entity.too.large') return void replyJson(res, PAYLOAD_TOO_LARGE);
    next(err);
  });
  const fast: FastRoute = (req, res) => {
    if (req.method !== 'POST' || req.url === undefined) return false;
    const [, provider] = CONNECT_PATH.exec(req.url) ?? [];
    if (provider === undefined) return false;
    const encoding = req.headers['content-encoding'];
    if (encoding !== undefined && encoding !== 'identity') return false;
    readBoundedBody(req, res, BODY_LIMIT, (rawBody) => {
      void answer(oauth, provider, rawBody, req.headersDistinct).then((a) => replyJson(res, a));
    });
    return true;
  };
  return attachFastRoute(router, fast);
}
