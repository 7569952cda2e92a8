import { createHash } from 'node:crypto';
import { z } from 'zod';
import { SCHEMA_NAME } from '../../lib/db/roles';
import { BackupError, BackupErrorCode } from './backup.errors';

import type { EntityManager } from '@mikro-orm/postgresql';

const Head = z.object({ count: z.number().int().min(0), head: z.string().nullable(), digest: z.string().regex(/^[0-9a-f]{64}$/) });
export type MigrationHead = z.infer<typeof Head>;
const MigrationState = z.object({ public: Head, schemas: z.record(z.string().regex(SCHEMA_NAME), Head) });
/** What each migrations table holds: count, last name and a digest of every name (so "matches" is exact). */
export type MigrationState = z.infer<typeof MigrationState>;

export const MANIFEST_FORMAT = 'liquid-abt-backup/1';

const Manifest = z.object({
  format: z.literal(MANIFEST_FORMAT),
  id: z.string().regex(/^\d{8}T\d{6}\.\d{3}Z$/),
  key: z.string().min(1),
  size: z.number().int().min(0),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  database: z.string().min(1),
  serverVersion: z.string().min(1),
  pgDumpVersion: z.string().min(1),
  migrations: MigrationState,
  tenants: z.number().int().min(0),
  startedAt: z.string().datetime(),
  finishedAt: z.string().datetime(),
  durationMs: z.number().int().min(0),
});
/** manifest.json, written beside the dump once the dump is stored: a backup without one is incomplete. */
export type BackupManifest = z.infer<typeof Manifest>;

export function parseManifest(bytes: Uint8Array): BackupManifest {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new BackupError(BackupErrorCode.MANIFEST_INVALID, 'manifest.json is not JSON');
  }
  const parsed = Manifest.safeParse(json);
  if (!parsed.success) throw new BackupError(BackupErrorCode.MANIFEST_INVALID, `manifest.json does not match ${MANIFEST_FORMAT}: ${parsed.error.issues.map((i) => i.path.join('.')).join(', ')}`);
  return parsed.data;
}

const headOf = (names: string[]): MigrationHead => {
  const sorted = [...names].sort();
  return { count: sorted.length, head: sorted.at(-1) ?? null, digest: createHash('sha256').update(sorted.join('\n')).digest('hex') };
};

/** The public migrations (MikroORM's table) and every tenant schema's (pool and dedicated). */
export async function readMigrationState(sql: EntityManager): Promise<MigrationState> {
  const [table] = await sql.execute<{ r: string | null }[]>(`select to_regclass('public.mikro_orm_migrations')::text as r`);
  const pub = table?.r ? (await sql.execute<{ name: string }[]>(`select name from public.mikro_orm_migrations`)).map((r) => r.name) : [];
  const schemas: Record<string, MigrationHead> = {};
  const found = await sql.execute<{ nspname: string }[]>(
    `select nspname from pg_namespace where (nspname = 'pool' or nspname like 'tenant\\_%') and to_regclass(quote_ident(nspname) || '.schema_migrations') is not null order by nspname`,
  );
  for (const { nspname } of found) {
    if (!SCHEMA_NAME.test(nspname)) continue;
    schemas[nspname] = headOf((await sql.execute<{ name: string }[]>(`select name from "${nspname}".schema_migrations`)).map((r) => r.name));
  }
  return { public: headOf(pub), schemas };
}

/** Every way two migration states differ, as sentences. */
export function migrationDifferences(expected: MigrationState, actual: MigrationState): string[] {
  const out: string[] = [];
  const same = (a: MigrationHead, b: MigrationHead): boolean => a.count === b.count && a.digest === b.digest;
  if (!same(expected.public, actual.public)) out.push(`public: backed up ${expected.public.count} (head ${expected.public.head}), restored ${actual.public.count} (head ${actual.public.head})`);
  for (const schema of new Set([...Object.keys(expected.schemas), ...Object.keys(actual.schemas)])) {
    const e = expected.schemas[schema];
    const a = actual.schemas[schema];
    if (!e) out.push(`${schema}: restored but not in the backup`);
    else if (!a) out.push(`${schema}: in the backup but not restored`);
    else if (!same(e, a)) out.push(`${schema}: backed up ${e.count} (head ${e.head}), restored ${a.count} (head ${a.head})`);
  }
  return out;
}
