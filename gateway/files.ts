import express from 'express';
import type { LocalObjectStore } from '../lib/storage/local-store';

const TYPES: Record<string, string> = { csv: 'text/csv; charset=utf-8', pdf: 'application/pdf', json: 'application/json' };

/**
 * `GET /files/<key>?exp=<unix s>&sig=<hex>`: a local-store object behind an HMAC-signed, expiring
 * URL (lib/storage/local-store.ts). A bad, missing or expired signature, and any key that is not a
 * plain relative path (traversal), is 403 without saying which; a signed key with no object is 404.
 */
export function filesRoute(store: LocalObjectStore): express.Router {
  const router = express.Router();
  router.get(/^\/(.+)$/, (req, res, next) => {
    const forbidden = () => void res.status(403).type('text/plain').send('forbidden');
    let key: string;
    try {
      key = String((req.params as Record<string, string>)[0] ?? '').split('/').map(decodeURIComponent).join('/');
    } catch {
      return forbidden();
    }
    const exp = typeof req.query.exp === 'string' ? req.query.exp : '';
    const sig = typeof req.query.sig === 'string' ? req.query.sig : '';
    if (!store.verify(key, exp, sig)) return forbidden();
    store.get(key).then((bytes) => {
      if (!bytes) return void res.status(404).type('text/plain').send('not found');
      const ext = key.split('.').pop() ?? '';
      res.status(200)
        .set('content-type', TYPES[ext] ?? 'application/octet-stream')
        .set('cache-control', 'private, no-store')
        .set('content-disposition', `attachment; filename="${key.split('/').pop() ?? 'file'}"`)
        .send(Buffer.from(bytes));
    }, next);
  });
  return router;
}
