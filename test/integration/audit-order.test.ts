import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { openAppOrm } from '../../lib/db/orm';
import { TenantDirectory } from '../../lib/db/tenant-context';
import { TenantTransactions } from '../../lib/db/tenant-tx';
import { configureLogger } from '../../lib/logger';
import type { JobInfo, JobPayload } from '../../lib/queue';
import { complianceEntities } from '../../subgraphs/compliance';
import { verifyAuditChain } from '../../subgraphs/compliance/audit.service';
import { auditProcessor } from '../../subgraphs/compliance/jobs/audit.processor';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { at } from '../helpers/present';

/**
 * The chain records facts in the order they occurred, not the order their jobs ran (the audit
 * queue runs with concurrency 4 and retries): `purchase.pending` stays before `purchase.submitted`.
 */
describe('audit chain order follows occurrence, not processing (real PostgreSQL)', () => {
  let db: TestDatabase;
  let orm: MikroORM;
  let txs: TenantTransactions;
  let run: (job: JobInfo) => Promise<void>;

  beforeAll(async () => {
    configureLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
    db = await createTestDatabase();
    orm = await openAppOrm(db.appUrl, complianceEntities, 6);
    const directory = new TenantDirectory(orm);
    txs = new TenantTransactions(orm, directory);
    run = auditProcessor(orm, directory);
  }, 60_000);
  afterAll(async () => {
    await orm?.close(true);
    await db?.drop();
  });

  const newTenant = async (name: string): Promise<string> => {
    const id = randomUUID();
    await db.owner.em.getConnection().execute(`insert into public.tenant (id, name) values (?, ?)`, [id, name]);
    return id;
  };

  /** One fact in its own committed transaction, as a purchase transition records it. */
  const record = (tenantId: string, eventType: string, subjectId: string): Promise<string> =>
    txs.run(tenantId, (tx) => tx.audit({ eventType, actorId: null, subjectType: 'BitcoinPurchase', subjectId, data: { status: eventType } }));

  /** The job the outbox relay would enqueue for a fact: its payload plus the tenant, under the outbox id. */
  const jobOf = async (tenantId: string, id: string): Promise<JobInfo> => {
    const row = at(await db.owner.em.getConnection().execute<{ payload: JobPayload }[]>(`select payload from pool.outbox where id = ?`, [id]), 0, 'row');
    return { id, name: 'append', data: { ...row.payload, tenantId }, attempt: 0 };
  };

  const chain = (tenantId: string): Promise<{ id: string; event_type: string; seq: string }[]> =>
    db.owner.em
      .getConnection()
      .execute(`select id, event_type, seq::text from pool.audit_event where tenant_id = ? order by seq`, [tenantId]);
  const pending = async (tenantId: string): Promise<number> => {
    const r = at(await db.owner.em
      .getConnection()
      .execute<{ n: number }[]>(`select count(*)::int as n from pool.outbox where tenant_id = ? and queue = 'audit' and appended_at is null`, [tenantId]), 0, 'r');
    return r.n;
  };

  it('facts recorded pending → submitted whose jobs run in reverse order end in the chain as pending, submitted', async () => {
    const t = await newTenant('Order Co');
    const purchase = randomUUID();
    const pendingId = await record(t, 'purchase.pending', purchase);
    const submittedId = await record(t, 'purchase.submitted', purchase);
    const [pendingJob, submittedJob] = [await jobOf(t, pendingId), await jobOf(t, submittedId)];

    await run(submittedJob);
    await run(pendingJob);

    expect((await chain(t)).map((e) => [e.event_type, e.id, e.seq])).toEqual([
      ['purchase.pending', pendingId, '1'],
      ['purchase.submitted', submittedId, '2'],
    ]);
    expect(await pending(t)).toBe(0);
    expect(await txs.run(t, ({ em }) => verifyAuditChain(em, t))).toEqual({ valid: true, eventsChecked: 2, firstBad: null });
  });

  it('keeps occurrence order and exactly-once when a purchase’s jobs run concurrently, reversed, and are replayed', async () => {
    const t = await newTenant('Concurrent Order Co');
    const purchase = randomUUID();
    const types = ['purchase.pending', 'purchase.submitted', 'purchase.fill', 'purchase.filled', 'purchase.settled', 'purchase.reported'];
    const ids: string[] = [];
    for (const type of types) ids.push(await record(t, type, purchase));
    const jobs = await Promise.all(ids.map((id) => jobOf(t, id)));

    await Promise.all([...jobs].reverse().map((j) => run(j)));
    // A swept duplicate of each (fresh job id, same eventId) appends nothing more.
    await Promise.all(jobs.map((j) => run({ ...j, id: `${j.id}:sweep:1`, data: { ...j.data, eventId: j.id } })));

    expect((await chain(t)).map((e) => e.event_type)).toEqual(types);
    expect((await chain(t)).map((e) => e.id)).toEqual(ids);
    expect(await pending(t)).toBe(0);
    expect(await txs.run(t, ({ em }) => verifyAuditChain(em, t))).toEqual({ valid: true, eventsChecked: types.length, firstBad: null });
  });

  it("does not pull another tenant's facts into a chain", async () => {
    const [x, y] = [await newTenant('Order X'), await newTenant('Order Y')];
    const yFact = await record(y, 'purchase.pending', randomUUID());
    const xFact = await record(x, 'purchase.submitted', randomUUID());
    await run(await jobOf(x, xFact));
    expect((await chain(x)).map((e) => e.id)).toEqual([xFact]);
    expect(await chain(y)).toEqual([]);
    await run(await jobOf(y, yFact));
    expect((await chain(y)).map((e) => e.id)).toEqual([yFact]);
  });
});

