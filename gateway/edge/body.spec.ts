import express, { type Request, type Response } from 'express';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { batchLimit, declaredBodyLimit, exceedsTokens, jsonBody, tokenLimit } from './body';

describe('door limits (before anything is parsed)', () => {
  let server: Server;
  let url: string;
  beforeAll(async () => {
    const app = express();
    app.use(declaredBodyLimit(1000), ...jsonBody(1000), batchLimit(3), tokenLimit(20), (_req: Request, res: Response) => {
      res.json({ ok: true });
    });
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const post = async (body: string): Promise<[number, unknown]> => {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const json = (await res.json()) as { errors?: { extensions: { code: string } }[] };
    return [res.status, json.errors?.[0]?.extensions.code ?? 'ok'];
  };

  it('counts tokens and stops at the limit', () => {
    expect(exceedsTokens('{ a b c }', 5)).toBe(false);
    expect(exceedsTokens('{ a b c d }', 5)).toBe(true);
    expect(exceedsTokens(`{ ${'a '.repeat(1_000_000)}}`, 1500)).toBe(true);
    expect(exceedsTokens('{ "unterminated', 5)).toBe(false); // left to the parser
  });

  it('413 PAYLOAD_TOO_LARGE for a declared or streamed body over the limit', async () => {
    expect(await post(JSON.stringify({ query: `{ a } #${'x'.repeat(2000)}` }))).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new ReadableStream({
        start(c) {
          c.enqueue(new TextEncoder().encode(JSON.stringify({ query: `{ a } #${'x'.repeat(2000)}` })));
          c.close();
        },
      }),
      duplex: 'half',
    });
    expect(res.status).toBe(413);
  });

  it('400 BAD_REQUEST for broken JSON, BATCH_TOO_LARGE over the batch size, MAX_TOKENS_EXCEEDED over the token count', async () => {
    expect(await post('{"query":')).toEqual([400, 'BAD_REQUEST']);
    expect(await post(JSON.stringify([{ query: '{a}' }, { query: '{a}' }, { query: '{a}' }, { query: '{a}' }]))).toEqual([400, 'BATCH_TOO_LARGE']);
    expect(await post(JSON.stringify([{ query: '{a}' }, { query: '{a}' }, { query: '{a}' }]))).toEqual([200, 'ok']);
    expect(await post(JSON.stringify({ query: `{ ${'a '.repeat(30)}}` }))).toEqual([400, 'MAX_TOKENS_EXCEEDED']);
    const get = await fetch(`${url}?query=${encodeURIComponent(`{ ${'a '.repeat(30)}}`)}`);
    expect(get.status).toBe(400);
  });
});
