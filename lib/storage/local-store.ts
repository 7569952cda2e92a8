import { createHmac, timingSafeEqual } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { assertObjectKey, assertObjectPrefix, isObjectKey, type ObjectInfo, type ObjectStore } from './object-store';

const TMP_SUFFIX = /\.\d+\.\d+\.tmp$/;

export type LocalStoreOptions = {
  /** Where objects live; default `<DATA_DIR>/objects`. */
  root: string;
  /** HMAC-SHA256 key of the download URLs (never logged). */
  secret: string;
  /** The base the URLs start with, e.g. `http://127.0.0.1:4000` (the gateway serves `/files/<key>`). */
  baseUrl: string;
  now?: () => number;
};

/** Objects as files under a root; downloads are `<baseUrl>/files/<key>?exp=<unix s>&sig=<hex>` (gateway/files.ts). */
export class LocalObjectStore implements ObjectStore {
  readonly root: string;
  private readonly now: () => number;
  private baseUrl: string;

  constructor(private readonly opts: LocalStoreOptions) {
    this.root = path.resolve(opts.root);
    this.now = opts.now ?? Date.now;
    this.baseUrl = opts.baseUrl;
  }

  /** Where URLs point from now on (the gateway's actual address once it listens, e.g. on port 0). */
  setBaseUrl(url: string): void {
    this.baseUrl = url;
  }

  /** The file of a key, checked to stay under the root. */
  private fileOf(key: string): string {
    const file = path.resolve(this.root, assertObjectKey(key));
    if (!file.startsWith(this.root + path.sep)) throw new Error('object key escapes the store');
    return file;
  }

  async put(key: string, bytes: Uint8Array, _contentType: string): Promise<void> {
    const file = this.fileOf(key);
    await mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.${this.now()}.tmp`;
    await writeFile(tmp, bytes);
    await rename(tmp, file);
  }

  async putStream(key: string, body: Readable, _contentType: string): Promise<{ size: number }> {
    const file = this.fileOf(key);
    await mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.${this.now()}.tmp`;
    let size = 0;
    const count = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        done(null, chunk);
      },
    });
    try {
      await pipeline(body, count, createWriteStream(tmp));
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    await rename(tmp, file);
    return { size };
  }

  async getStream(key: string): Promise<Readable | null> {
    const file = this.fileOf(key);
    try {
      if (!(await stat(file)).isFile()) return null;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    return createReadStream(file);
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    assertObjectPrefix(prefix);
    // Walk only the directory the prefix names (its part up to the last `/`).
    const dir = path.resolve(this.root, prefix.slice(0, prefix.lastIndexOf('/') + 1));
    if (dir !== this.root && !dir.startsWith(this.root + path.sep)) throw new Error('object prefix escapes the store');
    let names: string[];
    try {
      names = await readdir(dir, { recursive: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: ObjectInfo[] = [];
    for (const name of names) {
      const file = path.join(dir, name);
      const key = path.relative(this.root, file).split(path.sep).join('/');
      if (!key.startsWith(prefix) || TMP_SUFFIX.test(key) || !isObjectKey(key)) continue;
      const st = await stat(file).catch(() => null);
      if (st?.isFile()) out.push({ key, size: st.size, lastModified: st.mtime });
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    try {
      await unlink(this.fileOf(key));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  async get(key: string): Promise<Uint8Array | null> {
    try {
      return new Uint8Array(await readFile(this.fileOf(key)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  signature(key: string, exp: number): string {
    return createHmac('sha256', this.opts.secret).update(`${key}\n${exp}`).digest('hex');
  }

  async signedDownloadUrl(key: string, ttlSeconds: number): Promise<string> {
    await Promise.resolve();
    const exp = Math.floor(this.now() / 1000) + Math.max(1, Math.floor(ttlSeconds));
    const encoded = assertObjectKey(key).split('/').map(encodeURIComponent).join('/');
    return `${this.baseUrl.replace(/\/$/, '')}/files/${encoded}?exp=${exp}&sig=${this.signature(key, exp)}`;
  }

  /** Whether `sig` signs `key` until `exp` and `exp` has not passed (constant-time compare). */
  verify(key: string, exp: string, sig: string): boolean {
    if (!isObjectKey(key) || !/^\d{1,12}$/.test(exp) || !/^[0-9a-f]{64}$/.test(sig)) return false;
    const expNum = Number(exp);
    if (expNum * 1000 <= this.now()) return false;
    const want = Buffer.from(this.signature(key, expNum), 'hex');
    const got = Buffer.from(sig, 'hex');
    return want.length === got.length && timingSafeEqual(want, got);
  }
}
