import { createHash } from 'node:crypto';
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import express from 'express';
import { filesRoute } from '../../gateway/files';
import { startTestS3, type TestS3 } from '../../test/helpers/s3';
import { LocalObjectStore } from './local-store';

const need = <T>(v: T | null | undefined): T => {
  if (v === null || v === undefined) throw new Error('missing');
  return v;
};

function rawGet(url: string): Promise<number> {
  const u = new URL(url);
  const pathAndQuery = url.slice(u.origin.length);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: pathAndQuery, method: 'GET' }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

const bytes = new TextEncoder().encode('disposal,parcel\r\n"a,b",p1\r\n');

describe('S3ObjectStore against a real S3-compatible server (s3rver)', () => {
  let s3: TestS3;
  beforeAll(async () => {
    s3 = await startTestS3();
  });
  afterAll(async () => {
    await s3.stop();
  });

  it('puts and gets bytes; an absent key is null', async () => {
    await s3.store.put('t1/reports/r1/worksheet.csv', bytes, 'text/csv');
    expect(Buffer.from(need(await s3.store.get('t1/reports/r1/worksheet.csv')))).toEqual(Buffer.from(bytes));
    expect(await s3.store.get('t1/reports/none.csv')).toBeNull();
  });

  it('a presigned GET works with plain fetch; an expired one is refused', async () => {
    await s3.store.put('t1/reports/r2/summary.pdf', bytes, 'application/pdf');
    const url = await s3.store.signedDownloadUrl('t1/reports/r2/summary.pdf', 60);
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(createHash('sha256').update(Buffer.from(await res.arrayBuffer())).digest('hex')).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(res.headers.get('content-type')).toBe('application/pdf');

    const short = await s3.store.signedDownloadUrl('t1/reports/r2/summary.pdf', 1);
    await new Promise((r) => setTimeout(r, 2100));
    expect((await fetch(short)).status).toBe(403);
  });

  it('refuses unsafe keys before any request', async () => {
    await expect(s3.store.put('../escape', bytes, 'text/plain')).rejects.toThrow(/invalid object key/);
    await expect(s3.store.signedDownloadUrl('t1//x.csv', 60)).rejects.toThrow(/invalid object key/);
  });
});

describe('LocalObjectStore with signed URLs served by gateway/files.ts', () => {
  let root: string;
  let clock = Date.parse('2026-12-02T00:00:00Z');
  let store: LocalObjectStore;
  let server: ReturnType<express.Express['listen']>;
  let base: string;

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'objects-'));
    const app = express();
    await new Promise<void>((resolve) => {
      server = app.listen(0, '127.0.0.1', () => resolve());
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    store = new LocalObjectStore({ root, secret: 'k'.repeat(32), baseUrl: base, now: () => clock });
    app.use('/files', filesRoute(store));
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    await rm(root, { recursive: true, force: true });
  });

  it('stores under the root and downloads through a signed URL', async () => {
    await store.put('t1/reports/r1/worksheet.csv', bytes, 'text/csv');
    expect(Buffer.from(need(await store.get('t1/reports/r1/worksheet.csv')))).toEqual(Buffer.from(bytes));
    expect(await store.get('t1/none.csv')).toBeNull();
    const url = await store.signedDownloadUrl('t1/reports/r1/worksheet.csv', 60);
    expect(url.startsWith(`${base}/files/t1/reports/r1/worksheet.csv?exp=`)).toBe(true);
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(Buffer.from(await res.arrayBuffer())).toEqual(Buffer.from(bytes));
  });

  it('403 for a bad signature, another key, a missing signature or an expired URL; 404 for a signed absent key', async () => {
    const url = new URL(await store.signedDownloadUrl('t1/reports/r1/worksheet.csv', 60));
    const sig = need(url.searchParams.get('sig'));
    const exp = need(url.searchParams.get('exp'));
    const bad = `${base}/files/t1/reports/r1/worksheet.csv?exp=${exp}&sig=${sig.slice(0, -1)}${sig.endsWith('0') ? '1' : '0'}`;
    expect((await fetch(bad)).status).toBe(403);
    expect((await fetch(`${base}/files/t1/reports/r1/other.csv?exp=${exp}&sig=${sig}`)).status).toBe(403);
    expect((await fetch(`${base}/files/t1/reports/r1/worksheet.csv?exp=${Number(exp) + 1}&sig=${sig}`)).status).toBe(403);
    expect((await fetch(`${base}/files/t1/reports/r1/worksheet.csv`)).status).toBe(403);
    expect((await fetch(await store.signedDownloadUrl('t1/absent.csv', 60))).status).toBe(404);
    clock += 61_000;
    expect((await fetch(url)).status).toBe(403);
  });

  it('refuses path traversal in keys and URLs', async () => {
    await expect(store.put('../outside.txt', bytes, 'text/plain')).rejects.toThrow(/invalid object key/);
    await expect(store.put('t1/../../x', bytes, 'text/plain')).rejects.toThrow(/invalid object key/);
    await expect(store.signedDownloadUrl('/etc/passwd', 60)).rejects.toThrow(/invalid object key/);
    // A signature computed for a traversal key is still refused (the key itself is not allowed).
    const exp = Math.floor(clock / 1000) + 60;
    // Raw request paths (fetch would normalize the dot segments away before sending).
    for (const key of ['t1/../../etc/passwd', 't1/%2e%2e/%2e%2e/etc/passwd', '%2e%2e%2fpasswd', 't1%2f..%2f..%2fx']) {
      const status = await rawGet(`${base}/files/${key}?exp=${exp}&sig=${store.signature(decodeURIComponent(key), exp)}`);
      expect(status).toBe(403);
    }
  });
});
