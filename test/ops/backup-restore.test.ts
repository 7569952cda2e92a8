import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gql } from 'graphql-request';
import { openOwnerOrm } from '../../lib/db/migrate';
import { moveTenant } from '../../lib/db/tenant-move';
import { BackupErrorCode, type BackupError } from '../../ops/backups/backup.errors';
import { createBackup, listBackups, planRetention, pruneBackups, type BackupEntry } from '../../ops/backups/backup';
import type { BackupManifest } from '../../ops/backups/manifest';
import { dropDatabase, restoreBackup, restoreNameOf, type RestoreReport } from '../../ops/backups/restore';
import { client, startTestPlatform, type TestPlatform } from '../helpers/platform';
import { present } from '../helpers/present';
import { startTestS3, type TestS3 } from '../helpers/s3';
import { until } from '../helpers/wait';
import { AML_OFFICER_ROLE } from '../../lib/db/roles';
import { startCluster } from './replica.server';

const PASSWORD = 'Correct-Horse-42-Battery';
const PREFIX = 'backups';
type Session = { accessToken: string; tenant: { id: string } };
type HoldingRow = { tenant_id: string; exchange: string; sats: string; cost_base_aud_cents: string; fees_aud_cents: string; purchases: number };

const codeOf = async (p: Promise<unknown>): Promise<{ code: string; message: string }> =>
  p.then(
    () => ({ code: 'RESOLVED', message: '' }),
    (e: BackupError) => ({ code: e.code, message: e.message }),
  );

/**
 * Issue #15: a real platform's database (two tenants, one in a dedicated schema, purchases and a
 * sale filled on paper, their audit chains) backed up with pg_dump -Fc to an S3-compatible server
 * (s3rver), restored into a new database and verified: migrations, every audit chain, holdings.
 * Then the failures: a corrupted dump, a deleted audit row, a tampered holding, the live database
 * as the target. Backup and restore times are printed (docs/operations.md records them).
 */
describe('backups: pg_dump to object storage, restore into a new database, verify (#15)', () => {
  let t: TestPlatform;
  let s3: TestS3;
  let a: Session;
  let b: Session;
  let first: BackupManifest;
  const timings: Record<string, number> = {};
  const sql = <T>(q: string, params: unknown[] = []): Promise<T[]> => t.db.owner.em.getConnection().execute<T[]>(q, params);
  const target = (): { store: TestS3['store']; prefix: string; databaseUrl: string } => ({ store: s3.store, prefix: PREFIX, databaseUrl: t.db.ownerUrl });
  const restoredDbs = new Set<string>();
  const restore = async (opts: { id?: string; targetDatabase?: string; overLive?: boolean } = {}): Promise<RestoreReport> => {
    const r = await restoreBackup({ ...target(), rolePassword: t.db.rolePassword, jobs: 2, ...opts });
    restoredDbs.add(r.database);
    return r;
  };
  const holdings = async (url?: string): Promise<HoldingRow[]> => {
    const q = `select tenant_id::text, exchange, sats::text, cost_base_aud_cents::text, fees_aud_cents::text, purchases from pool.holding
               union all select tenant_id::text, exchange, sats::text, cost_base_aud_cents::text, fees_aud_cents::text, purchases from "${schemaOfB()}".holding
               order by 1, 2`;
    if (!url) return sql<HoldingRow>(q);
    const orm = await openOwnerOrm(url);
    try {
      return await orm.em.getConnection().execute<HoldingRow[]>(q);
    } finally {
      await orm.close(true);
    }
  };
  const schemaOfB = (): string => `tenant_${b.tenant.id.replace(/-/g, '_')}`;
  const databaseExists = async (name: string): Promise<boolean> => (await sql<{ n: number }>(`select count(*)::int as n from pg_database where datname = ?`, [name]))[0]?.n === 1;

  beforeAll(async () => {
    t = await startTestPlatform({ redis: true, env: { PRICE_TICK_MS: '100' } });
    s3 = await startTestS3('abt-backups');
    const signUp = async (name: string, email: string): Promise<Session> =>
      (await client(t.gateway).request<{ signUp: Session }>(gql`mutation ($i: SignUpInput!) { signUp(input: $i) { accessToken tenant { id } } }`, { i: { tenantName: name, email, password: PASSWORD } })).signUp;
    a = await signUp('Backup Pool Pty Ltd', 'owner@backup-pool.example');
    b = await signUp('Backup Isolated Pty Ltd', 'owner@backup-isolated.example');
    await moveTenant(t.db.ownerUrl, b.tenant.id, 'dedicated');
    const buy = async (s: Session, cents: string, key: string): Promise<string> => {
      const c = client(t.gateway, s.accessToken);
      const { requestPurchase } = await c.request<{ requestPurchase: { id: string } }>(gql`mutation ($c: AudCents!, $k: String!) { requestPurchase(amountAudCents: $c, idempotencyKey: $k) { id } }`, { c: cents, k: key });
      return until(`purchase ${key} to fill`, async () => {
        const r = await c.request<{ purchase: { status: string; satoshis: string } }>(gql`query ($id: ID!) { purchase(id: $id) { status satoshis } }`, { id: requestPurchase.id });
        if (r.purchase.status !== 'FILLED') throw new Error(`purchase is ${r.purchase.status}`);
        return r.purchase.satoshis;
      });
    };
    await buy(a, '50000', 'backup-a-1');
    await buy(a, '20000', 'backup-a-2');
    const sats = await buy(b, '30000', 'backup-b-1');
    const cb = client(t.gateway, b.accessToken);
    const { requestSale } = await cb.request<{ requestSale: { id: string } }>(gql`mutation ($s: Satoshis!) { requestSale(satoshis: $s, idempotencyKey: "backup-b-sale-1") { id } }`, { s: (BigInt(sats) / 3n).toString() });
    await until('the sale to fill', async () => {
      const r = await cb.request<{ sale: { status: string } }>(gql`query ($id: ID!) { sale(id: $id) { status } }`, { id: requestSale.id });
      if (r.sale.status !== 'FILLED') throw new Error(`sale is ${r.sale.status}`);
      return true;
    });
    // Every fill is on its tenant's audit chain (appended from the outbox by the workers).
    await until('the fills to be audited', async () => {
      const [n] = await sql<{ a: number; b: number }>(
        `select (select count(*)::int from pool.audit_event where tenant_id = ? and event_type = 'purchase.fill') as a,
                (select count(*)::int from "${schemaOfB()}".audit_event where tenant_id = ? and event_type in ('purchase.fill', 'sale.fill')) as b`,
        [a.tenant.id, b.tenant.id],
      );
      if (n?.a !== 2 || n.b !== 2) throw new Error(`audited fills: ${JSON.stringify(n)}`);
      return true;
    });
    // Quiet from here on: the data the backups are compared with does not move.
    await t.platform.stop();
  }, 180_000);

  afterAll(async () => {
    for (const name of restoredDbs) await dropDatabase(t.db.ownerUrl, name).catch(() => undefined);
    await s3?.stop();
    await t?.db.drop();
    process.stdout.write(`backup/restore timings (ms): ${JSON.stringify(timings)}\n`);
  });

  it('backs up: pg_dump -Fc streamed to the object store under a timestamped key, with its manifest', async () => {
    const t0 = Date.now();
    first = await createBackup(target());
    timings.backupMs = Date.now() - t0;
    timings.dumpBytes = first.size;
    const [dbSize] = await sql<{ b: string }>(`select pg_database_size(current_database())::text as b`);
    timings.databaseBytes = Number(dbSize?.b ?? 0);
    expect(first.key).toBe(`${PREFIX}/${first.id}/abt.dump`);
    expect(first.id).toMatch(/^\d{8}T\d{6}\.\d{3}Z$/);
    const [server] = await sql<{ v: string }>(`select current_setting('server_version') as v`);
    expect(first.serverVersion).toBe(server?.v);
    expect(first.pgDumpVersion).toMatch(/^pg_dump \(PostgreSQL\) \d+/);
    expect(first.tenants).toBe(2);
    expect(Object.keys(first.migrations.schemas).sort()).toEqual(['pool', schemaOfB()]);
    expect(first.migrations.public.count).toBeGreaterThan(0);
    const listed = await s3.store.list(`${PREFIX}/${first.id}/`);
    expect(listed.map((o) => o.key)).toEqual([first.key, `${PREFIX}/${first.id}/manifest.json`]);
    expect(listed[0]?.size).toBe(first.size);
    const bytes = present(await s3.store.get(first.key), 'dump');
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(first.sha256);
    // The custom format's magic: pg_restore can read it.
    expect(Buffer.from(bytes.subarray(0, 5)).toString()).toBe('PGDMP');
  });

  it('restores into a new database and verifies it: migrations match, every audit chain verifies, holdings are reproduced', async () => {
    const t0 = Date.now();
    const r = await restore({ id: first.id });
    timings.restoreTotalMs = Date.now() - t0;
    Object.assign(timings, r.timings);
    expect(r.database).toBe(restoreNameOf(t.db.name, first.id));
    expect(r.database).not.toBe(t.db.name);
    const [events] = await sql<{ n: number }>(
      `select (select count(*)::int from pool.audit_event) + (select count(*)::int from "${schemaOfB()}".audit_event) as n`,
    );
    expect(r.verified).toEqual({ tenants: 2, auditEventsChecked: events?.n, holdingsChecked: 2, pendingPublicMigrations: 0 });
    expect(events?.n).toBeGreaterThan(6);
    timings.auditEvents = events?.n ?? 0;
    const live = await holdings();
    expect(live).toHaveLength(2);
    expect(live.every((h) => BigInt(h.sats) > 0n)).toBe(true);
    expect(await holdings(t.db.ownerUrl.replace(`/${t.db.name}`, `/${r.database}`))).toEqual(live);
  }, 120_000);

  it('restores into a new cluster that has none of the platform roles: the app, relay and AML officer roles are created first, and it verifies', async () => {
    const cluster = await startCluster();
    try {
      const r = await restoreBackup({ store: s3.store, prefix: PREFIX, databaseUrl: cluster.url('postgres'), rolePassword: t.db.rolePassword, id: first.id, jobs: 2 });
      expect(r.verified.tenants).toBe(2);
      expect(r.verified.holdingsChecked).toBe(2);
      const orm = await openOwnerOrm(cluster.url(r.database));
      try {
        const roles = await orm.em.getConnection().execute<{ rolname: string; rolcanlogin: boolean }[]>(
          `select rolname, rolcanlogin from pg_roles where rolname in ('abt_app', 'abt_relay', ?) order by rolname`,
          [AML_OFFICER_ROLE],
        );
        expect(roles).toEqual([
          { rolname: 'abt_aml_officer', rolcanlogin: false },
          { rolname: 'abt_app', rolcanlogin: true },
          { rolname: 'abt_relay', rolcanlogin: true },
        ]);
        // The officer's policies came back with the tables, keyed to the role the restore created.
        const [policies] = await orm.em.getConnection().execute<{ n: number }[]>(`select count(*)::int as n from pg_policies where policyname = 'aml_officer_read' and ? = any(roles)`, [AML_OFFICER_ROLE]);
        expect(policies?.n).toBeGreaterThan(0);
      } finally {
        await orm.close(true);
      }
    } finally {
      await cluster.stop();
    }
  }, 180_000);

  it('never restores over the live database without --over-live, nor into a database that exists', async () => {
    expect(await codeOf(restore({ id: first.id, targetDatabase: t.db.name }))).toMatchObject({ code: BackupErrorCode.TARGET_IS_LIVE });
    const existing = restoreNameOf(t.db.name, first.id);
    expect(await codeOf(restore({ id: first.id, targetDatabase: existing }))).toMatchObject({ code: BackupErrorCode.TARGET_EXISTS });
    expect(await codeOf(restore({ id: '20990101T000000.000Z' }))).toMatchObject({ code: BackupErrorCode.BACKUP_NOT_FOUND });
    expect(await codeOf(restore({ id: '../etc' }))).toMatchObject({ code: BackupErrorCode.INVALID_ARGUMENT });
  });

  it('a corrupted dump is refused by its SHA-256 before any database is created', async () => {
    const m = await createBackup(target());
    const bytes = Buffer.from(present(await s3.store.get(m.key), 'dump'));
    const mid = Math.floor(bytes.length / 2);
    bytes[mid] = (bytes[mid] ?? 0) ^ 0xff;
    await s3.store.put(m.key, bytes, 'application/octet-stream');
    const got = await codeOf(restore({ id: m.id }));
    expect(got.code).toBe(BackupErrorCode.BACKUP_CHECKSUM_MISMATCH);
    expect(got.message).toContain('nothing was restored');
    expect(await databaseExists(restoreNameOf(t.db.name, m.id))).toBe(false);
  });

  it('a holding that its purchases and sales do not add up to fails verification (HOLDINGS_MISMATCH); the failed restore is dropped', async () => {
    await sql(`update "${schemaOfB()}".holding set sats = sats + 1 where tenant_id = ?`, [b.tenant.id]);
    try {
      const m = await createBackup(target());
      const got = await codeOf(restore({ id: m.id }));
      expect(got.code).toBe(BackupErrorCode.HOLDINGS_MISMATCH);
      expect(got.message).toContain(`tenant ${b.tenant.id}: holding on paper`);
      expect(await databaseExists(restoreNameOf(t.db.name, m.id))).toBe(false);
    } finally {
      await sql(`update "${schemaOfB()}".holding set sats = sats - 1 where tenant_id = ?`, [b.tenant.id]);
    }
  }, 60_000);

  it('a deleted audit row fails verification (AUDIT_CHAIN_BROKEN), and `npm run restore` exits 1 saying so', async () => {
    const [victim] = await sql<{ id: string; seq: string }>(`select id, seq::text from pool.audit_event where tenant_id = ? order by seq offset 2 limit 1`, [a.tenant.id]);
    await sql(`delete from pool.audit_event where tenant_id = ? and id = ?`, [a.tenant.id, present(victim, 'an audit row').id]);
    const m = await createBackup(target());
    const got = await codeOf(restore({ id: m.id }));
    expect(got.code).toBe(BackupErrorCode.AUDIT_CHAIN_BROKEN);
    // The walk meets the row after the missing one: a gap.
    expect(got.message).toContain(`tenant ${a.tenant.id}: audit chain breaks at seq ${BigInt(victim?.seq ?? '0') + 1n} (SEQUENCE_GAP)`);
    expect(got.message).not.toContain(b.tenant.id);

    // The script: the same failure, exit code 1, the typed message, no credential.
    const env = {
      ...process.env,
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      DATABASE_URL: t.db.ownerUrl,
      APP_DB_PASSWORD: t.db.rolePassword,
      OBJECT_STORE: 's3',
      S3_ENDPOINT: s3.endpoint,
      S3_BUCKET: s3.bucket,
      S3_REGION: 'us-east-1',
      S3_ACCESS_KEY_ID: s3.credentials.accessKeyId,
      S3_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
    };
    const cli = promisify(execFile);
    const failed = await cli('node', ['-r', '@swc-node/register', 'ops/backup.ts', 'restore', '--id', m.id], { env }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
    );
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('AUDIT_CHAIN_BROKEN');
    expect(failed.stderr).toContain(`tenant ${a.tenant.id}`);
    expect(failed.stderr).not.toContain(t.db.rolePassword);
    expect(failed.stderr).not.toContain(s3.credentials.secretAccessKey);
    expect(await databaseExists(restoreNameOf(t.db.name, m.id))).toBe(false);

    // `npm run backup` itself: a backup, then retention; exit 0 and a JSON summary.
    const ok = await cli('node', ['-r', '@swc-node/register', 'ops/backup.ts', 'backup'], { env });
    const summary = JSON.parse(ok.stdout) as { backup: { id: string; size: number }; pruned: string[] };
    expect(summary.backup.size).toBeGreaterThan(0);
    expect(summary.pruned).toEqual([]);
    expect((await listBackups({ store: s3.store, prefix: PREFIX })).map((x) => x.id)).toContain(summary.backup.id);
  }, 120_000);

  it('--over-live restores a good backup over the live database itself (the deleted audit row is back, everything verifies)', async () => {
    const before = await sql<{ n: number }>(`select count(*)::int as n from pool.audit_event where tenant_id = ?`, [a.tenant.id]);
    const r = await restoreBackup({ ...target(), id: first.id, overLive: true, rolePassword: t.db.rolePassword, jobs: 1 });
    expect(r.database).toBe(t.db.name);
    expect(r.verified.tenants).toBe(2);
    const after = await sql<{ n: number }>(`select count(*)::int as n from pool.audit_event where tenant_id = ?`, [a.tenant.id]);
    expect(after[0]?.n).toBe((before[0]?.n ?? 0) + 1);
  }, 60_000);

  it('retention keeps every backup of the last 24 h and the newest of each of the last N days', async () => {
    const now = new Date('2026-12-03T09:30:00.000Z');
    const entry = (iso: string, complete = true): BackupEntry => ({ id: iso.replace(/[-:]/g, ''), at: new Date(iso), complete, keys: [] });
    const all = [
      entry('2026-11-28T23:00:00.000Z'),
      entry('2026-11-29T10:00:00.000Z'),
      entry('2026-11-29T23:00:00.000Z'),
      entry('2026-11-30T23:00:00.000Z', false),
      entry('2026-12-01T05:00:00.000Z'),
      entry('2026-12-01T23:00:00.000Z'),
      entry('2026-12-02T08:00:00.000Z'),
      entry('2026-12-02T10:00:00.000Z'),
      entry('2026-12-03T09:00:00.000Z'),
    ];
    const { keep, drop } = planRetention(all, now, 3);
    // Days kept: 12-03, 12-02, 12-01 (newest of each) plus all of the last 24 h (12-02 10:00 onwards).
    expect(keep.map((x) => x.at.toISOString())).toEqual(['2026-12-01T23:00:00.000Z', '2026-12-02T10:00:00.000Z', '2026-12-03T09:00:00.000Z']);
    expect(drop).toHaveLength(6);

    // Against the store: old backups under the prefix are deleted, manifest and dump; the recent ones stay.
    const old = ['20261101T000000.000Z', '20261102T000000.000Z'];
    for (const id of old) {
      await s3.store.put(`${PREFIX}/${id}/abt.dump`, new Uint8Array([1]), 'application/octet-stream');
      await s3.store.put(`${PREFIX}/${id}/manifest.json`, new TextEncoder().encode('{}'), 'application/json');
    }
    const before = (await listBackups({ store: s3.store, prefix: PREFIX })).map((x) => x.id);
    const pruned = await pruneBackups({ store: s3.store, prefix: PREFIX, keepDays: 1, now: new Date() });
    expect(pruned).toEqual(old);
    expect((await listBackups({ store: s3.store, prefix: PREFIX })).map((x) => x.id)).toEqual(before.filter((id) => !old.includes(id)));
  });
});
