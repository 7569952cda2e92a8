import { createHash } from 'node:crypto';
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import express from 'express';
import { filesRoute } from '../../gateway/files';
import { startTestS3, type TestS3 } from '../../test/helpers/s3';
import { LocalObjectStore } from './local-store';
import type { ObjectStore } from './object-store';
import { S3ObjectStore } from './s3-store';

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

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
async function drain(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}
/** `total` deterministic bytes in 1 MiB chunks, produced lazily (never one buffer). */
function chunked(total: number): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= total) return void this.push(null);
      const n = Math.min(1024 * 1024, total - sent);
      const c = Buffer.alloc(n);
      for (let i = 0; i < n; i++) c[i] = (sent + i) % 251;
      sent += n;
      this.push(c);
    },
  });
}

/** Streams, listings and deletes: the same contract for both stores (backups use them). */
function streamsListsAndDeletes(name: string, store: () => ObjectStore, bigBytes: number): void {
  describe(`${name}: streams, list, delete`, () => {
    it('streams a large object in and out unchanged and reports its size', async () => {
      const want = await drain(chunked(bigBytes));
      expect(await store().putStream('backups/20261203T000000Z/abt.dump', chunked(bigBytes), 'application/octet-stream')).toEqual({ size: bigBytes });
      const got = await drain(need(await store().getStream('backups/20261203T000000Z/abt.dump')));
      expect(got.length).toBe(bigBytes);
      expect(sha(got)).toBe(sha(want));
      expect(await store().getStream('backups/none/abt.dump')).toBeNull();
    });

    it('a small stream is stored too (one PUT), and an empty one', async () => {
      expect(await store().putStream('backups/20261203T000000Z/manifest.json', Readable.from([Buffer.from('{"a":1}')]), 'application/json')).toEqual({ size: 7 });
      expect(await store().putStream('backups/empty/x', Readable.from([]), 'application/octet-stream')).toEqual({ size: 0 });
      expect(Buffer.from(need(await store().get('backups/20261203T000000Z/manifest.json'))).toString()).toBe('{"a":1}');
    });

    it('lists by prefix with sizes, in key order; deletes (absent is fine)', async () => {
      await store().put('backups/20261202T000000Z/manifest.json', bytes, 'application/json');
      await store().put('t9/reports/r/summary.pdf', bytes, 'application/pdf');
      const listed = await store().list('backups/');
      expect(listed.map((o) => o.key)).toEqual([
        'backups/20261202T000000Z/manifest.json',
        'backups/20261203T000000Z/abt.dump',
        'backups/20261203T000000Z/manifest.json',
        'backups/empty/x',
      ]);
      expect(listed.map((o) => o.size)).toEqual([bytes.length, bigBytes, 7, 0]);
      expect(listed.every((o) => o.lastModified.getTime() > 0)).toBe(true);
      expect((await store().list('backups/20261203')).map((o) => o.key)).toEqual(['backups/20261203T000000Z/abt.dump', 'backups/20261203T000000Z/manifest.json']);
      expect(await store().list('nothing-here/')).toEqual([]);
      await store().delete('backups/20261203T000000Z/abt.dump');
      await store().delete('backups/20261203T000000Z/abt.dump');
      expect(await store().get('backups/20261203T000000Z/abt.dump')).toBeNull();
      expect((await store().list('backups/')).map((o) => o.key)).not.toContain('backups/20261203T000000Z/abt.dump');
      expect((await store().list('')).map((o) => o.key)).toContain('t9/reports/r/summary.pdf');
    });

    it('refuses unsafe keys and prefixes', async () => {
      await expect(store().putStream('../x', Readable.from([]), 'text/plain')).rejects.toThrow(/invalid object key/);
      await expect(store().list('../')).rejects.toThrow(/invalid object prefix/);
      await expect(store().delete('a//b')).rejects.toThrow(/invalid object key/);
    });
  });
}

describe('both stores', () => {
  let s3: TestS3;
  let s3Small: S3ObjectStore;
  let root: string;
  let local: LocalObjectStore;
  beforeAll(async () => {
    s3 = await startTestS3('backups-test');
    // Smallest parts S3 allows: 11 MiB goes up as three parts.
    s3Small = new S3ObjectStore({ bucket: s3.bucket, region: 'us-east-1', endpoint: s3.endpoint, credentials: s3.credentials, partBytes: 5 * 1024 * 1024 });
    root = await mkdtemp(path.join(tmpdir(), 'objects-'));
    local = new LocalObjectStore({ root, secret: 'k'.repeat(32), baseUrl: 'http://127.0.0.1:1' });
  });
  afterAll(async () => {
    s3Small.close();
    await s3.stop();
    await rm(root, { recursive: true, force: true });
  });
  streamsListsAndDeletes('S3ObjectStore (multipart on s3rver)', () => s3Small, 11 * 1024 * 1024);
  streamsListsAndDeletes('LocalObjectStore', () => local, 3 * 1024 * 1024 + 17);
});

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
