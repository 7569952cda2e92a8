import { randomBytes, randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { pendingAuditFacts, recordAudit } from '../../lib/audit';
import { InProcessBus } from '../../lib/bus';
import { openAppOrm } from '../../lib/db/orm';
import { TenantDirectory } from '../../lib/db/tenant-context';
import { TenantTransactions } from '../../lib/db/tenant-tx';
import { configureLogger } from '../../lib/logger';
import { OutboxRelay } from '../../lib/outbox';
import { BullQueue, InProcessQueue, type JobPayload, type JobQueue } from '../../lib/queue';
import { complianceEntities } from '../../subgraphs/compliance';
import { verifyAuditChain } from '../../subgraphs/compliance/audit.service';
import { treasuryEntities } from '../../subgraphs/treasury';
import { auditProcessor } from '../../subgraphs/compliance/jobs/audit.processor';
import { TreasuryScheduler } from '../../subgraphs/treasury/jobs/scheduler';
import { TEST_REDIS_URL, createTestDatabase, type TestDatabase } from '../helpers/db';
import { until } from '../helpers/wait';
import { at } from '../helpers/present';

/**
 * Audit records of money movements must not be losable: a fact whose job was lost after the relay
 * published it (BullMQ failed it for stalling twice, Redis came back empty, the single-node process
 * died with it in memory) still reaches the tenant's hash chain, exactly once.
 */
describe('audit facts survive lost jobs (real PostgreSQL and Redis)', () => {
  let db: TestDatabase;
  let orm: MikroORM;
  let relayOrm: MikroORM;
  let directory: TenantDirectory;
  let txs: TenantTransactions;
  const bus = new InProcessBus();
  const tenantId = randomUUID();
  const STALE_MS = 300;
  const closers: Array<() => Promise<void>> = [];

  const fact = (subjectId: string) =>
    txs.run(tenantId, ({ em }) =>
      recordAudit(em, {
        eventType: 'purchase.fill',
        actorId: null,
        subjectType: 'BitcoinPurchase',
        subjectId,
        data: { exchange: 'kraken', satoshis: '16666', spentAudCents: '2500' },
      }),
    );
  const appended = async (id: string): Promise<number> => {
    const r = at(await db.owner.em.getConnection().execute<{ n: string }[]>(`select count(*)::text as n from pool.audit_event where id = ?`, [id]), 0, 'r');
    return Number(r.n);
  };
  const scheduler = (queue: JobQueue): TreasuryScheduler => new TreasuryScheduler({ orm, tenants: new TenantTransactions(orm, directory), queue, intervalMs: 60_000, staleMs: STALE_MS });
  /** The workers' sweep, once the fact has been published longer than the stale window. */
  const sweepUntilAppended = async (queue: JobQueue, id: string): Promise<void> => {
    const s = scheduler(queue);
    await until(
      `audit fact ${id} in the chain`,
      async () => {
        await s.tick();
        return (await appended(id)) > 0 ? true : undefined;
      },
      15_000,
    );
  };
  const chainValid = () => txs.run(tenantId, ({ em }) => verifyAuditChain(em, tenantId));

  beforeAll(async () => {
    configureLogger('silent');
    db = await createTestDatabase();
    await db.owner.em.getConnection().execute(`insert into public.tenant (id, name) values (?, 'Audit Durability Pty Ltd')`, [tenantId]);
    orm = await openAppOrm(db.appUrl, [...treasuryEntities, ...complianceEntities], 4);
    relayOrm = await openAppOrm(db.relayUrl, [], 2);
    directory = new TenantDirectory(orm);
    txs = new TenantTransactions(orm, directory);
  }, 60_000);
  afterEach(async () => {
    while (closers.length) await closers.pop()!();
  });
  afterAll(async () => {
    await orm?.close(true);
    await relayOrm?.close(true);
    await bus.close();
    await db?.drop();
  });

  describe('BullMQ', () => {
    let prefix: string;
    let queue: BullQueue;
    let redis: Redis;

    beforeEach(() => {
      prefix = `abt-test-audit-${randomBytes(4).toString('hex')}`;
      queue = new BullQueue(TEST_REDIS_URL, prefix);
      redis = new Redis(TEST_REDIS_URL);
      closers.push(async () => {
        await queue.close();
        const keys = await redis.keys(`${prefix}:*`);
        if (keys.length > 0) await redis.del(...keys);
        redis.disconnect();
      });
    });

    it('a job BullMQ failed after it stalled twice (its id is kept, so re-adding it is a no-op) still reaches the chain', async () => {
      const id = await fact(randomUUID());
      expect(await new OutboxRelay(relayOrm, queue, bus, 60_000).drain()).toBeGreaterThanOrEqual(1);
      // A worker took it and died twice: BullMQ's stalled check moves it to failed, attempts left or not, with this error.
      const taker = new Worker('audit', null, { connection: { host: '127.0.0.1', port: Number(new URL(TEST_REDIS_URL).port || 6379) }, prefix, autorun: false });
      const token = randomUUID();
      const job = await taker.getNextJob(token);
      expect(job?.id).toBe(id);
      await job.moveToFailed(new UnrecoverableError('job stalled more than allowable limit'), token);
      expect(await job.getState()).toBe('failed');
      await taker.close();

      queue.process('audit', auditProcessor(orm, directory));
      await queue.add('audit', 'append', { ...(job.data as JobPayload) }, { jobId: id });
      await new Promise((r) => setTimeout(r, STALE_MS + 50));
      expect(await appended(id)).toBe(0);

      await sweepUntilAppended(queue, id);
      expect(await appended(id)).toBe(1);
      expect((await chainValid()).valid).toBe(true);
    });

    it('Redis restarted empty after the relay published the fact: it still reaches the chain', async () => {
      const id = await fact(randomUUID());
      await new OutboxRelay(relayOrm, queue, bus, 60_000).drain();
      const keys = await redis.keys(`${prefix}:*`);
      expect(keys.length).toBeGreaterThan(0);
      await redis.del(...keys);

      queue.process('audit', auditProcessor(orm, directory));
      await sweepUntilAppended(queue, id);
      expect(await appended(id)).toBe(1);
    });
  });

  describe('single-node mode (in-process queue)', () => {
    it('the process died with the job in memory: the next process appends it', async () => {
      const id = await fact(randomUUID());
      const dead = new InProcessQueue();
      await new OutboxRelay(relayOrm, dead, bus, 60_000).drain();
      await dead.close(); // the process is gone, and its queue with it

      const next = new InProcessQueue();
      closers.push(() => next.close());
      next.process('audit', auditProcessor(orm, directory));
      await sweepUntilAppended(next, id);
      expect(await appended(id)).toBe(1);
      expect((await chainValid()).valid).toBe(true);
    });

    it('a fact in the chain is not swept again, and the original job plus a sweep append it once', async () => {
      const id = await fact(randomUUID());
      const q = new InProcessQueue();
      closers.push(() => q.close());
      await new OutboxRelay(relayOrm, q, bus, 60_000).drain();
      // Published but not processed yet when the sweep runs: both jobs then run.
      await new Promise((r) => setTimeout(r, STALE_MS + 50));
      await scheduler(q).tick();
      q.process('audit', auditProcessor(orm, directory));
      await until('the fact in the chain', async () => ((await appended(id)) > 0 ? true : undefined));
      await new Promise((r) => setTimeout(r, 200));
      expect(await appended(id)).toBe(1);
      const row = at(await db.owner.em
        .getConnection()
        .execute<{ pending: boolean }[]>(`select appended_at is null as pending from pool.outbox where id = ?`, [id]), 0, 'row');
      expect(row.pending).toBe(false);
      const stillPending = await txs.run(tenantId, ({ em }) => pendingAuditFacts(em, 0));
      expect(stillPending.map((p) => p.id)).not.toContain(id);
      expect((await chainValid()).valid).toBe(true);
    });
  });
});
