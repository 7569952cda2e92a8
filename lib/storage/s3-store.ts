import { GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { assertObjectKey, type ObjectStore } from './object-store';

export type S3StoreOptions = {
  bucket: string;
  region: string;
  /** An S3-compatible server (MinIO, s3rver, ...): path-style addressing is used. Unset: AWS. */
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
};

/** Objects in one S3 bucket through the S3 API; downloads are presigned GET URLs. */
export class S3ObjectStore implements ObjectStore {
  private readonly client: S3Client;

  constructor(private readonly opts: S3StoreOptions) {
    this.client = new S3Client({
      region: opts.region,
      ...(opts.endpoint ? { endpoint: opts.endpoint, forcePathStyle: true } : {}),
      ...(opts.credentials ? { credentials: opts.credentials } : {}),
    });
  }

  async put(key: string, bytes: Uint8Array, contentType: string): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.opts.bucket, Key: assertObjectKey(key), Body: bytes, ContentType: contentType }));
  }

  async get(key: string): Promise<Uint8Array | null> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.opts.bucket, Key: assertObjectKey(key) }));
      return out.Body ? await out.Body.transformToByteArray() : new Uint8Array();
    } catch (err) {
      if (err instanceof NoSuchKey || (err as { name?: string }).name === 'NoSuchKey') return null;
      throw err;
    }
  }

  async signedDownloadUrl(key: string, ttlSeconds: number): Promise<string> {
    return await getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.opts.bucket, Key: assertObjectKey(key) }), { expiresIn: ttlSeconds });
  }

  close(): void {
    this.client.destroy();
  }
}
