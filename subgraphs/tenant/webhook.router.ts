import express, { type Router } from 'express';
import { log } from '../../lib/logger';
import type { IntegrationService } from './integration.service';

/** `POST /webhooks/{stripe,square,paypal}/:integrationId` — raw bytes in (signatures cover them), 2xx fast. */
export function webhookRouter(integrations: IntegrationService): Router {
  const router = express.Router();
  router.post('/webhooks/:provider/:integrationId', express.raw({ type: () => true, limit: '512kb' }), async (req, res) => {
    try {
      const rawBody = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const outcome = await integrations.ingest(String(req.params.provider), String(req.params.integrationId), {
        rawBody,
        headers: req.headers,
      });
      res.status(outcome.status).json(outcome.body);
    } catch (err) {
      log().error({ err: (err as Error).message, provider: req.params.provider }, 'webhook intake failed');
      // 5xx: the provider will retry, and nothing was half-stored (one transaction).
      res.status(500).json({ error: 'INTERNAL_ERROR' });
    }
  });
  router.use('/webhooks', (err: Error & { status?: number; type?: string }, _req: express.Request, res: express.Response, next: express.NextFunction) => {
    if (err.type === 'entity.too.large') return void res.status(413).json({ error: 'PAYLOAD_TOO_LARGE' });
    next(err);
  });
  return router;
}
