import express from 'express';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { listen, type Listening } from '../lib/http';
import { at } from '../test/helpers/present';
import { WEBHOOK_PROXY_BODY_LIMIT, webhookProxy } from './webhooks';

/**
 * The relay as it runs when the gateway and the tenant subgraph are separate processes: a real
 * upstream server records exactly what arrives, and answers whatever the test says.
 */

type Seen = { method?: string; url?: string; rawHeaders: string[]; body: Buffer };

describe('gateway webhook relay', () => {
  let upstream: Server;
  let upstreamUrl: string;
  let gateway: Listening;
  let seen: Seen[] = [];
  let answer: { status: number; body: string; type?: string } = { status: 200, body: '{"received":true,"duplicate":false}' };

  beforeAll(async () => {
    upstream = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, rawHeaders: req.rawHeaders, body: Buffer.concat(chunks) });
        res.writeHead(answer.status, { 'content-type': answer.type ?? 'application/json; charset=utf-8' });
        res.end(answer.body);
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/graphql`;
    const app = express();
    app.use(webhookProxy({ tenantUrl: upstreamUrl, timeoutMs: 2000 }));
    app.use((_req, res) => void res.status(404).json({ error: 'NOT_FOUND' }));
    gateway = await listen(app, '127.0.0.1', 0);
  });
  afterAll(async () => {
    await gateway?.close();
    upstream.closeAllConnections();
    await new Promise((r) => upstream.close(r));
  });
  beforeEach(() => {
    seen = [];
    answer = { status: 200, body: '{"received":true,"duplicate":false}' };
  });

  /** A POST with header lines exactly as given. */
  const send = (path: string, body: Buffer | string, headers: [string, string][]): Promise<{ status: number; text: string }> =>
    new Promise((resolve, reject) => {
      const raw = ['host', `127.0.0.1:${gateway.port}`, ...headers.flat(), 'content-length', String(Buffer.byteLength(body))];
      const req = request(`${gateway.url}${path}`, { method: 'POST', headers: raw }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      });
      req.on('error', reject);
      req.end(body);
    });
  const firstSeen = (): Seen => at(seen, 0, 'requests the tenant saw');
  /** Every line of a header, in order. */
  const values = (s: Seen, name: string): string[] => {
    const out: string[] = [];
    // rawHeaders alternates name, value.
    for (let i = 0; i + 1 < s.rawHeaders.length; i += 2) {
      const [key, value] = s.rawHeaders.slice(i, i + 2);
      if (key?.toLowerCase() === name && value !== undefined) out.push(value);
    }
    return out;
  };

  it('relays the body byte for byte, the path and query, and the signature headers', async () => {
    // Whitespace, key order, escapes and non-ASCII are all part of what was signed.
    const body = Buffer.from('{ "id":"evt_1",\n  "note":"caf\\u00e9 ☕ \\u0000", "amount": 1.50 }\r\n', 'utf8');
    const res = await send('/webhooks/stripe/0b7e4a4e-0000-4000-8000-000000000001?x=1', body, [
      ['content-type', 'application/json; charset=utf-8'],
      ['stripe-signature', 't=1,v1=abc'],
      ['x-square-hmacsha256-signature', 'sq='],
      ['paypal-transmission-id', 'T-1'],
    ]);
    expect(res).toEqual({ status: 200, text: '{"received":true,"duplicate":false}' });
    expect(seen).toHaveLength(1);
    expect(firstSeen().method).toBe('POST');
    expect(firstSeen().url).toBe('/webhooks/stripe/0b7e4a4e-0000-4000-8000-000000000001?x=1');
    expect(Buffer.compare(firstSeen().body, body)).toBe(0);
    expect(values(firstSeen(), 'stripe-signature')).toEqual(['t=1,v1=abc']);
    expect(values(firstSeen(), 'x-square-hmacsha256-signature')).toEqual(['sq=']);
    expect(values(firstSeen(), 'paypal-transmission-id')).toEqual(['T-1']);
    expect(values(firstSeen(), 'content-type')).toEqual(['application/json; charset=utf-8']);
    expect(values(firstSeen(), 'content-length')).toEqual([String(body.length)]);
    expect(values(firstSeen(), 'x-forwarded-for')).toEqual(['127.0.0.1']);
    expect(values(firstSeen(), 'host')).toEqual([new URL(upstreamUrl).host]);
  });

  it('keeps a repeated header as separate lines, so the tenant still sees the repeat', async () => {
    await send('/webhooks/stripe/id', '{}', [
      ['stripe-signature', 't=1,v1=forged'],
      ['stripe-signature', 't=2,v1=good'],
    ]);
    expect(values(firstSeen(), 'stripe-signature')).toEqual(['t=1,v1=forged', 't=2,v1=good']);
  });

  it('passes a compressed body on compressed, with its encoding', async () => {
    const body = gzipSync('{"id":"evt_gz"}');
    await send('/webhooks/stripe/id', body, [['content-encoding', 'gzip']]);
    expect(Buffer.compare(firstSeen().body, body)).toBe(0);
    expect(values(firstSeen(), 'content-encoding')).toEqual(['gzip']);
  });

  it.each([
    [400, '{"error":"INVALID_SIGNATURE"}'],
    [404, '{"error":"UNKNOWN_INTEGRATION"}'],
    [503, '{"error":"VERIFIER_UNAVAILABLE"}'],
    [500, '{"error":"INTERNAL_ERROR"}'],
  ])('passes the tenant’s %i and its body back unchanged', async (status, body) => {
    answer = { status, body };
    expect(await send('/webhooks/paypal/id', '{}', [])).toEqual({ status, text: body });
  });

  it('refuses a body over the limit with 413 without forwarding it, declared or not', async () => {
    const big = Buffer.alloc(WEBHOOK_PROXY_BODY_LIMIT + 1, 0x20);
    expect(await send('/webhooks/stripe/id', big, [])).toEqual({ status: 413, text: '{"error":"PAYLOAD_TOO_LARGE"}' });
    // Chunked, with no content-length to refuse up front.
    const chunked = await fetch(`${gateway.url}/webhooks/stripe/id`, {
      method: 'POST',
      body: new ReadableStream({
        start(c) {
          for (let i = 0; i < 9; i++) c.enqueue(new Uint8Array(64 * 1024));
          c.close();
        },
      }),
      duplex: 'half',
    });
    expect(chunked.status).toBe(413);
    expect(seen).toEqual([]);
    const exact = Buffer.alloc(WEBHOOK_PROXY_BODY_LIMIT, 0x20);
    expect((await send('/webhooks/stripe/id', exact, [])).status).toBe(200);
  });

  it('answers 502 when the tenant subgraph cannot be reached (nothing stored: the provider should retry)', async () => {
    const app = express();
    app.use(webhookProxy({ tenantUrl: 'http://127.0.0.1:1/graphql' }));
    const lone = await listen(app, '127.0.0.1', 0);
    try {
      const res = await fetch(`${lone.url}/webhooks/stripe/id`, { method: 'POST', body: '{}' });
      expect({ status: res.status, body: await res.json() }).toEqual({ status: 502, body: { error: 'WEBHOOK_UPSTREAM_UNAVAILABLE' } });
    } finally {
      await lone.close();
    }
  });

  it('never lets a path reach anything but the webhook endpoint, nor a caller’s credentials through', async () => {
    for (const path of ['/webhooks/../graphql', '/webhooks/stripe/..', '/webhooks/%2e%2e/graphql', '/webhooks/stripe/a%2F..%2F..%2Fgraphql']) {
      const res = await send(path, '{"query":"{ __typename }"}', [['content-type', 'application/json']]);
      expect({ path, status: res.status }).toEqual({ path, status: 404 });
    }
    expect(seen).toEqual([]);
    await send('/webhooks/stripe/id', '{}', [
      ['authorization', 'Bearer someone'],
      ['cookie', 'session=1'],
    ]);
    expect([values(firstSeen(), 'authorization'), values(firstSeen(), 'cookie')]).toEqual([[], []]);
  });

  it('serves the same through express when the app is not started by lib/http (no fast path)', async () => {
    const app = express();
    app.use(webhookProxy({ tenantUrl: upstreamUrl }));
    const plain = createServer(app);
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
    try {
      const body = '{ "id": "evt_express" }';
      answer = { status: 400, body: '{"error":"INVALID_SIGNATURE"}' };
      const res = await fetch(`http://127.0.0.1:${(plain.address() as AddressInfo).port}/webhooks/stripe/id`, { method: 'POST', body });
      expect({ status: res.status, text: await res.text() }).toEqual({ status: 400, text: '{"error":"INVALID_SIGNATURE"}' });
      expect(seen.map((x) => [x.url, x.body.toString('utf8')])).toEqual([['/webhooks/stripe/id', body]]);
    } finally {
      plain.closeAllConnections();
      await new Promise((r) => plain.close(r));
    }
  });

  it('relays only POST /webhooks/:provider/:integrationId', async () => {
    expect((await fetch(`${gateway.url}/webhooks/stripe/id`)).status).toBe(404);
    expect((await fetch(`${gateway.url}/webhooks/stripe`, { method: 'POST', body: '{}' })).status).toBe(404);
    expect((await fetch(`${gateway.url}/graphql`, { method: 'POST', body: '{}' })).status).toBe(404);
    expect(seen).toEqual([]);
  });
});
