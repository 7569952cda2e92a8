/**
 * Backup and restore time at a size larger than the tests' (issue #15's RPO/RTO figures): a fresh
 * database with BENCH_TENANTS pooled tenants, each with BENCH_EVENTS valid audit-chain events (hashed
 * here with compliance's chainHash, loaded by COPY) and as many filled purchases with their holding,
 * plus BENCH_TICKS price ticks; then `createBackup` to a local object store and `restoreBackup` into a
 * new database with its full verification (every chain re-hashed, every holding recomputed).
 * Prints the sizes and each phase's time; docs/operations.md records a run.
 *
 * Run: npm run bench:backup
 * Env: BENCH_TENANTS (100), BENCH_EVENTS (1000), BENCH_TICKS (1000000), BENCH_RESTORE_JOBS (2).
 */
import 'reflect-metadata';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { configureLogger } from '../../lib/logger';
import { LocalObjectStore } from '../../lib/storage/local-store';
import { createBackup } from '../../ops/backups/backup';
import { pgConnection } from '../../ops/backups/pg-tools';
import { dropDatabase, restoreBackup } from '../../ops/backups/restore';
import { GENESIS_HASH, canonicalJson, chainHash } from '../../subgraphs/compliance/audit-chain';
import { createTestDatabase } from '../helpers/db';

const num = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);
const csv = (v: string): string => `"${v.replace(/"/g, '""')}"`;

async function main(): Promise<void> {
  configureLogger('silent');
  const tenants = num('BENCH_TENANTS', 100);
  const events = num('BENCH_EVENTS', 1000);
  const ticks = num('BENCH_TICKS', 1_000_000);
  const db = await createTestDatabase();
  const work = await mkdtemp(path.join(tmpdir(), 'abt-bench-backup-'));
  const sql = (q: string, p: unknown[] = []): Promise<unknown> => db.owner.em.getConnection().execute(q, p);
  let restored: string | undefined;
  try {
    const t0 = Date.now();
    const file = path.join(work, 'audit.csv');
    const out = createWriteStream(file);
    for (let t = 0; t < tenants; t++) {
      const tenantId = randomUUID();
      await sql(`insert into public.tenant (id, name, schema_name) values (?, ?, 'pool')`, [tenantId, `bench ${t}`]);
      // Filled paper purchases and the holding they add up to (what PurchaseExecutor.finish writes).
      await sql(
        `insert into pool.purchase (tenant_id, id, source, status, amount_aud_cents, client_order_id, exchange, filled_sats, spent_aud_cents, fee_aud_cents, average_price)
         select ?, gen_random_uuid(), 'MANUAL', 'FILLED', 10000 + g, 'bench-' || g, 'paper', 7000 + g, 9950 + g, 50, 142000.00 from generate_series(1, ?) g`,
        [tenantId, events],
      );
      await sql(
        `insert into pool.holding (tenant_id, exchange, sats, cost_base_aud_cents, fees_aud_cents, purchases)
         select tenant_id, exchange, sum(filled_sats), sum(spent_aud_cents + fee_aud_cents), sum(fee_aud_cents), count(*) from pool.purchase where tenant_id = ? group by tenant_id, exchange`,
        [tenantId],
      );
      let prev = GENESIS_HASH;
      const start = Date.parse('2026-01-01T00:00:00Z');
      for (let i = 1; i <= events; i++) {
        const e = {
          id: randomUUID(),
          tenantId,
          seq: BigInt(i),
          eventType: 'purchase.fill',
          actorId: null,
          subjectType: 'BitcoinPurchase',
          subjectId: randomUUID(),
          payload: { exchange: 'paper', satoshis: String(7000 + i), spentAudCents: String(9950 + i), feeAudCents: '50' },
          createdAt: new Date(start + i * 1000),
        };
        const hash = chainHash(prev, e);
        out.write(`${tenantId},${e.id},${i},${e.eventType},,${e.subjectType},${e.subjectId},${csv(canonicalJson(e.payload))},${e.createdAt.toISOString()},${prev},${hash}\n`);
        prev = hash;
      }
      await sql(`insert into pool.audit_head (tenant_id, last_seq, last_hash) values (?, ?, ?)`, [tenantId, events, prev]);
    }
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    const c = pgConnection(db.ownerUrl);
    await promisify(execFile)(
      'psql',
      ['--no-password', '-v', 'ON_ERROR_STOP=1', '-d', c.dbArg, '-c', `\\copy pool.audit_event (tenant_id, id, seq, event_type, actor_id, subject_type, subject_id, payload, created_at, prev_hash, hash) from '${file}' csv`],
      { env: { ...process.env, ...c.env } },
    );
    // price_tick is partitioned by UTC day (#15): the past days the ticks fall on need their partitions first.
    await sql(`select public.price_tick_partition_for(d::date) from generate_series((now() - ? * interval '1 second') at time zone 'UTC', now() at time zone 'UTC', interval '1 day') d`, [ticks]);
    await sql(`insert into public.price_tick (currency, price, source, at) select 'AUD', 140000 + (g % 5000), 'simulated', now() - g * interval '1 second' from generate_series(1, ?) g`, [ticks]);
    await sql('analyze');
    const [size] = (await db.owner.em.getConnection().execute<{ bytes: string }[]>(`select pg_database_size(current_database())::text as bytes`)) as { bytes: string }[];
    const loadMs = Date.now() - t0;

    const store = new LocalObjectStore({ root: path.join(work, 'objects'), secret: 'x'.repeat(32), baseUrl: 'http://127.0.0.1:1' });
    const b0 = Date.now();
    const manifest = await createBackup({ store, prefix: 'backups', databaseUrl: db.ownerUrl });
    const backupMs = Date.now() - b0;
    const report = await restoreBackup({ store, prefix: 'backups', databaseUrl: db.ownerUrl, rolePassword: db.rolePassword, jobs: num('BENCH_RESTORE_JOBS', 2) });
    restored = report.database;
    const mb = (n: number): string => (n / 1024 / 1024).toFixed(1);
    process.stdout.write(
      `${JSON.stringify(
        {
          tenants,
          auditEvents: tenants * events,
          purchases: tenants * events,
          priceTicks: ticks,
          databaseMiB: mb(Number(size?.bytes ?? 0)),
          dumpMiB: mb(manifest.size),
          loadMs,
          backupMs,
          restore: report.timings,
          verified: report.verified,
          backupMiBPerS: (Number(size?.bytes ?? 0) / 1024 / 1024 / (backupMs / 1000)).toFixed(1),
          restoreMiBPerS: (Number(size?.bytes ?? 0) / 1024 / 1024 / ((report.timings.restoreMs + report.timings.downloadMs) / 1000)).toFixed(1),
          verifyEventsPerS: Math.round(report.verified.auditEventsChecked / (report.timings.verifyMs / 1000)),
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    if (restored) await dropDatabase(db.ownerUrl, restored).catch(() => undefined);
    await db.drop();
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  process.stderr.write(`backup bench failed: ${err.message}\n`);
  process.exit(1);
});
