import express, { type Router } from 'express';
import { log } from '../lib/logger';

const TIMEOUT_MS = 30_000;
/** What a provider name looks like; anything else is never forwarded. */
const PROVIDER = /^[a-z]{1,32}$/;

/**
 * `GET /oauth/:provider/callback` on the gateway's public address (the redirect URL registered with
 * Square / Stripe), relayed to the tenant subgraph, which completes the connection and answers a
 * redirect to the dashboard. The browser's credentials (cookies, Authorization) are not forwarded:
 * the signed state is what binds the callback to a tenant and user. The query is never logged.
 */
export function oauthCallbackProxy(opts: { tenantUrl: string; timeoutMs?: number }): Router {
  const base = opts.tenantUrl.replace(/\/graphql\/?$/, '').replace(/\/+$/, '');
  const router = express.Router();
  router.get('/oauth/:provider/callback', async (req, res) => {
    const provider = String(req.params.provider);
    if (!PROVIDER.test(provider)) return void res.status(404).json({ error: 'UNKNOWN_PROVIDER' });
    const q = req.originalUrl.indexOf('?');
    const query = q >= 0 ? req.originalUrl.slice(q) : '';
    try {
      const answer = await fetch(`${base}/oauth/${provider}/callback${query}`, {
        redirect: 'manual',
        headers: { accept: req.header('accept') ?? '*/*', 'x-correlation-id': req.header('x-correlation-id') ?? '' },
        signal: AbortSignal.timeout(opts.timeoutMs ?? TIMEOUT_MS),
      });
      res.setHeader('cache-control', 'no-store');
      res.setHeader('referrer-policy', 'no-referrer');
      const location = answer.headers.get('location');
      if (location) res.setHeader('location', location);
      const type = answer.headers.get('content-type');
      if (type) res.setHeader('content-type', type);
      res.status(answer.status).send(Buffer.from(await answer.arrayBuffer()));
    } catch (err) {
      log().warn({ err: (err as Error).name, provider }, 'OAuth callback relay to the tenant subgraph failed');
      res.status(502).json({ error: 'OAUTH_UPSTREAM_UNAVAILABLE' });
    }
  });
  return router;
}
