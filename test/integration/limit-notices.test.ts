import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { InProcessBus } from '../../lib/bus';
import { openAppOrm } from '../../lib/db/orm';
import { TenantDirectory } from '../../lib/db/tenant-context';
import { TenantTransactions, type TenantTx } from '../../lib/db/tenant-tx';
import { noticeId } from '../../lib/events/notices';
import { configureLogger } from '../../lib/logger';
import { RuleEngine, treasuryEntities, type PaymentFacts } from '../../subgraphs/treasury';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

/**
 * limit.reached (#12): when a rule's daily (or monthly) cap cuts or stops a purchase, the engine writes
 * one notice to the outbox in the same transaction, once per rule and local day, however often the cap
 * bites that day; a rule within its caps writes none; a rolled-back transaction leaves none.
 */
describe('treasury: limit.reached notices through the outbox (real PostgreSQL)', () => {
  let db: TestDatabase;
  let orm: MikroORM;
  let tenants: TenantTransactions;
  const bus = new InProcessBus();
  let now = new Date('2026-07-15T00:00:00Z'); // 10:00 in Sydney
  const engine = new RuleEngine({ exchangeMinCents: 500n, manualMaxCents: 10_000_000n, now: () => now });
  const sql = <T>(q: string, params: unknown[] = []): Promise<T[]> => db.owner.em.getConnection().execute<T[]>(q, params);

  const tenant = async (): Promise<{ id: string; tx<T>(fn: (tx: TenantTx) => Promise<T>): Promise<T> }> => {
    const id = randomUUID();
    await sql(`insert into public.tenant (id, name, timezone) values (?, ?, 'Australia/Sydney')`, [id, `L ${id.slice(0, 8)} Pty Ltd`]);
    const tx = <T>(fn: (tx: TenantTx) => Promise<T>): Promise<T> => tenants.run(id, fn);
    await tx(({ em }) => em.execute(`insert into treasury_settings (primary_exchange, failover_exchanges, timezone) values ('paper', '{}', 'Australia/Sydney')`));
    return { id, tx };
  };
  const rule = async (t: { tx<T>(fn: (tx: TenantTx) => Promise<T>): Promise<T> }, cols: Record<string, unknown>): Promise<string> => {
    const id = randomUUID();
    const all: Record<string, unknown> = { type: 'PERCENTAGE_OF_REVENUE', percentage_bps: 1000, ...cols };
    const names = ['id', 'name', ...Object.keys(all)];
    await t.tx(({ em }) => em.execute(`insert into treasury_rule (${names.join(', ')}) values (${names.map(() => '?').join(', ')})`, [id, `r-${id.slice(0, 6)}`, ...Object.values(all)]));
    return id;
  };
  const pay = (t: { tx<T>(fn: (tx: TenantTx) => Promise<T>): Promise<T> }, cents: bigint) => {
    now = new Date(now.getTime() + 1_000);
    const facts: PaymentFacts = { paymentEventId: randomUUID(), provider: 'stripe', kind: 'REVENUE', amountCents: cents, currency: 'AUD', providerObjectId: `pi_${randomUUID()}`, relatedPaymentId: null };
    return t.tx((tx) => engine.applyPaymentEvent(tx, facts));
  };
  const notices = (ruleId: string) =>
    sql<{ id: string; job_name: string; payload: { type: string; subjectId: string; data: Record<string, unknown> } }>(
      `select id::text, job_name, payload from pool.outbox where queue = 'notifications' and payload->>'type' = 'limit.reached' and payload->>'subjectId' = ? order by created_at`,
      [ruleId],
    );

  beforeAll(async () => {
    configureLogger('silent');
    db = await createTestDatabase();
    orm = await openAppOrm(db.appUrl, treasuryEntities, 2);
    tenants = new TenantTransactions(orm, new TenantDirectory(orm), bus);
  }, 60_000);
  afterAll(async () => {
    await orm?.close(true);
    await bus.close();
    await db?.drop();
  });

  it('a purchase cut by the daily cap writes one notice; more cap hits that day write none; the next local day writes another', async () => {
    const t = await tenant();
    const r = await rule(t, { daily_cap_aud_cents: 600 });
    await pay(t, 10_000n); // 1000 accrue, the cap lets 600 be bought
    const first = await notices(r);
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({
      id: noticeId('limit.reached', `${r}:2026-07-15`),
      job_name: 'notice',
      payload: { type: 'limit.reached', subjectId: r, data: { limit: 'DAILY_CAP', capAudCents: '600', ruleType: 'PERCENTAGE_OF_REVENUE', day: '2026-07-15' } },
    });
    await pay(t, 10_000n); // the cap is spent: nothing more is bought today
    await pay(t, 10_000n);
    expect(await notices(r)).toHaveLength(1);

    now = new Date('2026-07-15T14:30:00Z'); // 00:30 on the 16th in Sydney
    await pay(t, 10_000n);
    const both = await notices(r);
    expect(both.map((n) => n.payload.data.day)).toEqual(['2026-07-15', '2026-07-16']);
  });

  it('a rule within its caps writes no notice, and neither does a rolled-back transaction', async () => {
    now = new Date('2026-07-15T00:00:00Z');
    const t = await tenant();
    const free = await rule(t, { daily_cap_aud_cents: 1_000_000 });
    await pay(t, 10_000n);
    expect(await notices(free)).toEqual([]);

    const capped = await rule(t, { daily_cap_aud_cents: 600, provider: 'square' });
    const facts: PaymentFacts = { paymentEventId: randomUUID(), provider: 'square', kind: 'REVENUE', amountCents: 10_000n, currency: 'AUD', providerObjectId: 'sq_rollback', relatedPaymentId: null };
    await expect(
      t.tx(async (tx) => {
        await engine.applyPaymentEvent(tx, facts);
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect(await notices(capped)).toEqual([]);
  });
});
