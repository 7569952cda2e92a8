import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import S3rver from 's3rver';
import { S3ObjectStore } from '../../lib/storage/s3-store';

export type TestS3 = {
  endpoint: string;
  bucket: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  store: S3ObjectStore;
  stop(): Promise<void>;
};

/** A real S3-compatible server (s3rver) on a free port with one bucket, its data in a temp dir. */
export async function startTestS3(bucket = 'reports-test'): Promise<TestS3> {
  const directory = await mkdtemp(path.join(tmpdir(), 's3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [{ name: bucket }] });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
  const store = new S3ObjectStore({ bucket, region: 'us-east-1', endpoint, credentials });
  return {
    endpoint,
    bucket,
    credentials,
    store,
    async stop() {
      store.close();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
