import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AppError } from '../../../lib/errors';
import { attemptOnce } from './webhook-delivery.processor';
import { validateEndpointUrl, validateEventTypes } from './webhook-endpoint.service';
import { generateSigningSecret, verifySignature } from './webhook-signing';

const codeOf = (fn: () => unknown): unknown => {
  try {
    fn();
  } catch (err) {
    return err instanceof AppError ? [err.extensions.code, err.extensions.field] : err;
  }
  return 'no error';
};

describe('endpoint validation', () => {
  it('accepts https anywhere and http to this machine outside production', () => {
    expect(validateEndpointUrl(' https://erp.example.com/hook ', 'production')).toBe('https://erp.example.com/hook');
    expect(validateEndpointUrl('http://127.0.0.1:8080/h', 'development')).toBe('http://127.0.0.1:8080/h');
    expect(validateEndpointUrl('http://localhost/h', 'test')).toBe('http://localhost/h');
  });

  it('refuses plain http elsewhere, localhost http in production, credentials and garbage as BAD_USER_INPUT on url', () => {
    for (const [url, env] of [
      ['http://erp.example.com/hook', 'development'],
      ['http://localhost/h', 'production'],
      ['https://user:pw@erp.example.com/', 'development'],
      ['ftp://erp.example.com/', 'development'],
      ['not a url', 'development'],
    ] as const) {
      expect(codeOf(() => validateEndpointUrl(url, env))).toEqual(['BAD_USER_INPUT', 'url']);
    }
  });

  it('takes the outbox notice types, deduplicated, and refuses none or unknown ones', () => {
    expect(validateEventTypes(['purchase.filled', 'purchase.failed', 'purchase.filled'])).toEqual(['purchase.filled', 'purchase.failed']);
    expect(codeOf(() => validateEventTypes([]))).toEqual(['BAD_USER_INPUT', 'eventTypes']);
    expect(codeOf(() => validateEventTypes(['purchase.filled', 'PURCHASE_FILLED']))).toEqual(['BAD_USER_INPUT', 'eventTypes']);
  });
});

describe('one delivery attempt', () => {
  let server: Server;
  let base: string;
  let lastSig = '';
  beforeAll(async () => {
    server = createServer((req, res) => {
      lastSig = String(req.headers['liquid-signature']);
      if (req.url === '/slow') return void setTimeout(() => res.end(), 2000).unref();
      res.statusCode = req.url === '/fail' ? 503 : 200;
      res.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    return new Promise((r) => server.close(r));
  });

  const due = (path: string, secrets: string[]) => ({ url: `${base}${path}`, body: '{"id":"x"}', eventType: 'purchase.filled', noticeId: 'n', secrets });

  it('succeeds on 2xx with a verifiable signature and a latency', async () => {
    const secret = generateSigningSecret();
    const out = await attemptOnce(fetch, due('/ok', [secret]), 'd1', 1000);
    expect(out).toMatchObject({ ok: true, statusCode: 200, error: null });
    expect(out.latencyMs).toBeGreaterThanOrEqual(0);
    expect(verifySignature(lastSig, '{"id":"x"}', secret)).toBe(true);
  });

  it('fails on a 5xx, on a timeout and on a refused connection, never throwing and never naming the secret', async () => {
    const secret = generateSigningSecret();
    expect(await attemptOnce(fetch, due('/fail', [secret]), 'd2', 1000)).toMatchObject({ ok: false, statusCode: 503, error: 'HTTP 503' });
    const slow = await attemptOnce(fetch, due('/slow', [secret]), 'd3', 200);
    expect(slow).toMatchObject({ ok: false, statusCode: null, error: 'timed out after 200 ms' });
    expect(slow.latencyMs).toBeLessThan(1500);
    const refused = await attemptOnce(fetch, { ...due('/', [secret]), url: 'http://127.0.0.1:1/' }, 'd4', 1000);
    expect(refused).toMatchObject({ ok: false, statusCode: null });
    expect(JSON.stringify([slow, refused])).not.toContain(secret);
  });
});
