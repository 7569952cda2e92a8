import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { assertObjectKey, assertObjectPrefix, type ObjectInfo, type ObjectStore } from './object-store';

export type S3StoreOptions = {
  bucket: string;
  region: string;
  /** An S3-compatible server (MinIO, s3rver, ...): path-style addressing is used. Unset: AWS. */
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Part size of streamed uploads (S3's minimum is 5 MiB); default 8 MiB. At most two parts are held in memory. */
  partBytes?: number;
};

const MIN_PART = 5 * 1024 * 1024;
const isNoSuchKey = (err: unknown): boolean => err instanceof NoSuchKey || (err as { name?: string }).name === 'NoSuchKey';

/** Objects in one S3 bucket through the S3 API; downloads are presigned GET URLs. */
export class S3ObjectStore implements ObjectStore {
  private readonly client: S3Client;
  private readonly partBytes: number;

  constructor(private readonly opts: S3StoreOptions) {
    this.client = new S3Client({
      region: opts.region,
      ...(opts.endpoint ? { endpoint: opts.endpoint, forcePathStyle: true } : {}),
      ...(opts.credentials ? { credentials: opts.credentials } : {}),
    });
    this.partBytes = Math.max(MIN_PART, opts.partBytes ?? 8 * 1024 * 1024);
  }

  async put(key: string, bytes: Uint8Array, contentType: string): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.opts.bucket, Key: assertObjectKey(key), Body: bytes, ContentType: contentType }));
  }

  /** One PUT when the stream ends within a part; otherwise a multipart upload (aborted on any failure). */
  async putStream(key: string, body: Readable, contentType: string): Promise<{ size: number }> {
    const Key = assertObjectKey(key);
    const Bucket = this.opts.bucket;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let size = 0;
    let uploadId: string | undefined;
    const parts: CompletedPart[] = [];
    const flush = async (): Promise<void> => {
      if (uploadId === undefined) {
        const created = await this.client.send(new CreateMultipartUploadCommand({ Bucket, Key, ContentType: contentType }));
        if (!created.UploadId) throw new Error('the object store returned no upload id');
        uploadId = created.UploadId;
      }
      const PartNumber = parts.length + 1;
      const chunk = Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      const out = await this.client.send(new UploadPartCommand({ Bucket, Key, UploadId: uploadId, PartNumber, Body: chunk, ContentLength: chunk.length }));
      parts.push({ PartNumber, ETag: out.ETag });
    };
    try {
      for await (const data of body) {
        const buf = Buffer.isBuffer(data) ? data : Buffer.from(data as Uint8Array);
        pending.push(buf);
        pendingBytes += buf.length;
        size += buf.length;
        if (pendingBytes >= this.partBytes) await flush();
      }
      if (uploadId === undefined) {
        await this.client.send(new PutObjectCommand({ Bucket, Key, Body: Buffer.concat(pending, pendingBytes), ContentType: contentType }));
        return { size };
      }
      if (pendingBytes > 0) await flush();
      await this.client.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId: uploadId, MultipartUpload: { Parts: parts } }));
      return { size };
    } catch (err) {
      if (uploadId !== undefined) await this.client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId: uploadId })).catch(() => undefined);
      throw err;
    }
  }

  async get(key: string): Promise<Uint8Array | null> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.opts.bucket, Key: assertObjectKey(key) }));
      return out.Body ? await out.Body.transformToByteArray() : new Uint8Array();
    } catch (err) {
      if (isNoSuchKey(err)) return null;
      throw err;
    }
  }

  async getStream(key: string): Promise<Readable | null> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.opts.bucket, Key: assertObjectKey(key) }));
      if (!out.Body) return Readable.from([]);
      if (out.Body instanceof Readable) return out.Body;
      return Readable.from([await out.Body.transformToByteArray()]);
    } catch (err) {
      if (isNoSuchKey(err)) return null;
      throw err;
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const Prefix = assertObjectPrefix(prefix);
    const out: ObjectInfo[] = [];
    let ContinuationToken: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.opts.bucket, Prefix, ContinuationToken }));
      for (const o of page.Contents ?? []) {
        if (o.Key !== undefined) out.push({ key: o.Key, size: Number(o.Size ?? 0), lastModified: o.LastModified ?? new Date(0) });
      }
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.opts.bucket, Key: assertObjectKey(key) }));
  }

  async signedDownloadUrl(key: string, ttlSeconds: number): Promise<string> {
    return await getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.opts.bucket, Key: assertObjectKey(key) }), { expiresIn: ttlSeconds });
  }

  close(): void {
    this.client.destroy();
  }
}
