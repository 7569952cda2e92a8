import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { openAppOrm } from '../../lib/db/orm';
import { TenantDirectory } from '../../lib/db/tenant-context';
import { SharedReads, TenantTransactions } from '../../lib/db/tenant-tx';
import { configureLogger } from '../../lib/logger';
import { treasuryEntities } from '../../subgraphs/treasury';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

/**
 * One request's reads share one READ ONLY tenant transaction (lib/db/tenant-tx.ts SharedReads):
 * fewer statements, the same row-level security, and no write gets through.
 */
describe('shared reads: one read-only tenant transaction per request (real PostgreSQL)', () => {
  let db: TestDatabase;
  let orm: MikroORM;
  let tenants: TenantTransactions;
  const A = randomUUID();
  const B = randomUUID();
  const sql = (q: string, p: unknown[] = []) => db.owner.em.getConnection().execute(q, p);
  const backendOf = 'select pg_backend_pid() as pid, txid_current_if_assigned() as x, current_setting(\'app.tenant_id\') as tenant, current_setting(\'transaction_read_only\') as ro, now()::text as started';

  beforeAll(async () => {
    configureLogger('silent');
    db = await createTestDatabase();
    for (const id of [A, B]) await sql(`insert into public.tenant (id, name) values (?, ?)`, [id, `T ${id.slice(0, 6)} Pty Ltd`]);
    for (const [id, name] of [[A, 'rule of A'], [B, 'rule of B']]) {
      await sql(`insert into pool.treasury_rule (tenant_id, id, name, type, percentage_bps) values (?, ?, ?, 'PERCENTAGE_OF_REVENUE', 1000)`, [id, randomUUID(), name]);
    }
    orm = await openAppOrm(db.appUrl, treasuryEntities, 4);
    tenants = new TenantTransactions(orm, new TenantDirectory(orm));
  }, 60_000);
  afterAll(async () => {
    await orm?.close(true);
    await db?.drop();
  });

  type Seen = { pid: number; tenant: string; ro: string; started: string };

  it('concurrent reads (and reads chained on them) run in one transaction, read only, scoped to the tenant', async () => {
    const reads = new SharedReads(tenants, A);
    const one = () => reads.read(async ({ em }) => (await em.execute<Seen[]>(backendOf))[0] as Seen);
    const [a, b, c] = await Promise.all([one(), one(), one().then(() => one())]);
    expect(new Set([a, b, c].map((s) => `${s.pid}/${s.started}`)).size).toBe(1);
    expect(a.tenant).toBe(A);
    expect(a.ro).toBe('on');
    // Row-level security still decides what a read sees.
    const names = await reads.read(({ em }) => em.execute<{ name: string }[]>('select name from treasury_rule'));
    expect(names.map((r) => r.name)).toEqual(['rule of A']);
  });

  it('ends when idle: a read after the request moved on gets a fresh transaction', async () => {
    const reads = new SharedReads(tenants, B);
    const first = await reads.read(async ({ em }) => (await em.execute<Seen[]>(backendOf))[0] as Seen);
    await new Promise((r) => setTimeout(r, 20));
    const later = await reads.read(async ({ em }) => (await em.execute<Seen[]>(backendOf))[0] as Seen);
    expect(later.tenant).toBe(B);
    expect(later.started === first.started && later.pid === first.pid).toBe(false);
  });

  it('refuses writes: SQL writes fail in PostgreSQL, outbox/audit/publish throw, and nothing is stored', async () => {
    const reads = new SharedReads(tenants, A);
    await expect(
      reads.read(({ em }) => em.execute(`insert into treasury_rule (tenant_id, id, name, type, percentage_bps) values (?, ?, 'sneaky', 'PERCENTAGE_OF_REVENUE', 1)`, [A, randomUUID()])),
    ).rejects.toThrow(/read-only transaction/);
    await expect(reads.read(async (tx) => tx.outbox({ queue: 'purchases', name: 'x', data: {} } as never))).rejects.toThrow(/does not write/);
    // The next read works (a fresh transaction), and the write never landed.
    const rows = await reads.read(({ em }) => em.execute<{ n: string }[]>(`select count(*)::text as n from treasury_rule where name = 'sneaky'`));
    expect(rows[0]?.n).toBe('0');
  });

  it('two tenants’ shared reads never mix', async () => {
    const [a, b] = await Promise.all([
      new SharedReads(tenants, A).read(({ em }) => em.execute<{ name: string }[]>('select name from treasury_rule')),
      new SharedReads(tenants, B).read(({ em }) => em.execute<{ name: string }[]>('select name from treasury_rule')),
    ]);
    expect(a.map((r) => r.name)).toEqual(['rule of A']);
    expect(b.map((r) => r.name)).toEqual(['rule of B']);
  });
});
