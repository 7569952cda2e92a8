import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { openAppOrm } from '../../lib/db/orm';
import { TenantDirectory } from '../../lib/db/tenant-context';
import { TenantTransactions, type TenantTx } from '../../lib/db/tenant-tx';
import { configureLogger } from '../../lib/logger';
import { RuleEngine, ScheduleRunner, treasuryEntities, type PricePort } from '../../subgraphs/treasury';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { at } from '../helpers/present';

/** FIXED_DCA schedules, PRICE_DROP with its cooldown, and the daily cut-off flush, in the tenant's transaction. */
describe('scheduled rules: DCA, price drop, daily cut-off (real PostgreSQL)', () => {
  let db: TestDatabase;
  let orm: MikroORM;
  let directory: TenantDirectory;
  const tenantId = randomUUID();
  let now = new Date('2026-07-15T00:00:00Z'); // 10:00 in Sydney
  const engine = new RuleEngine({ exchangeMinCents: 500n, manualMaxCents: 10_000_000n, now: () => now });

  const noPrices: PricePort = { latest: () => Promise.resolve(null), averageOverDays: () => Promise.resolve(null) };
  const runner = new ScheduleRunner(engine, noPrices);
  const tx = <T>(fn: (tx: TenantTx) => Promise<T>): Promise<T> => new TenantTransactions(orm, directory).run(tenantId, fn);
  const sql = <T>(q: string, params: unknown[] = []): Promise<T[]> => db.owner.em.getConnection().execute<T[]>(q, params);
  const rule = async (cols: Record<string, unknown>): Promise<string> => {
    const id = randomUUID();
    const names = ['id', 'name', ...Object.keys(cols)];
    await tx(({ em }) =>
      em.execute(`insert into treasury_rule (${names.join(', ')}) values (${names.map(() => '?').join(', ')})`, [id, `r-${id.slice(0, 6)}`, ...Object.values(cols)]),
    );
    return id;
  };
  const purchasesOf = (ruleId: string) =>
    sql<{ amount_aud_cents: string; source: string }>(`select amount_aud_cents::text, source from pool.purchase where rule_id = ? order by created_at`, [ruleId]);

  beforeAll(async () => {
    configureLogger('silent');
    db = await createTestDatabase();
    await sql(`insert into public.tenant (id, name) values (?, 'Schedules Pty Ltd')`, [tenantId]);
    orm = await openAppOrm(db.appUrl, treasuryEntities, 2);
    directory = new TenantDirectory(orm);
  }, 60_000);
  afterAll(async () => {
    await orm?.close(true);
    await db?.drop();
  });

  it('FIXED_DCA: schedules the first run, buys when due (within its daily cap), then moves on', async () => {
    const id = await rule({ type: 'FIXED_DCA', amount_aud_cents: 2500, schedule: 'DAILY', daily_cap_aud_cents: 4000 });
    expect((await tx((t) => runner.runSchedule(t, id)))).toEqual([]);
    const { next } = at(await sql<{ next: Date | string }>(`select next_run_at as next from pool.treasury_rule where id = ?`, [id]), 0, 'row');
    expect(new Date(next).toISOString()).toBe('2026-07-15T23:00:00.000Z'); // 09:00 tomorrow, Sydney
    now = new Date('2026-07-15T23:00:05Z');
    expect((await tx((t) => runner.runSchedule(t, id)))).toHaveLength(1);
    // Not due again until the next morning; running early buys nothing.
    expect((await tx((t) => runner.runSchedule(t, id)))).toEqual([]);
    // Force it due again the same local day: the daily cap (4000) leaves 1500 of the 2500.
    await sql(`update pool.treasury_rule set next_run_at = ? where id = ?`, [new Date('2026-07-15T23:30:00Z'), id]);
    now = new Date('2026-07-15T23:31:00Z');
    await tx((t) => runner.runSchedule(t, id));
    expect(await purchasesOf(id)).toEqual([
      { amount_aud_cents: '2500', source: 'SCHEDULE' },
      { amount_aud_cents: '1500', source: 'SCHEDULE' },
    ]);
  });

  it('PRICE_DROP: buys when the price is at least x% under its average, once per cooldown', async () => {
    const id = await rule({ type: 'PRICE_DROP', amount_aud_cents: 5000, percentage_bps: 500, lookback_days: 7, cooldown_minutes: 60 });
    let latest = '96000.00';
    const prices: PricePort = { latest: async () => latest, averageOverDays: async () => '100000.00' };
    expect((await tx((t) => new ScheduleRunner(engine, prices).checkPriceDrop(t)))).toEqual([]); // 4% only
    latest = '95000.00';
    expect((await tx((t) => new ScheduleRunner(engine, prices).checkPriceDrop(t)))).toHaveLength(1); // exactly 5%
    now = new Date(now.getTime() + 30 * 60_000);
    expect((await tx((t) => new ScheduleRunner(engine, prices).checkPriceDrop(t)))).toEqual([]); // cooling down
    now = new Date(now.getTime() + 31 * 60_000);
    expect((await tx((t) => new ScheduleRunner(engine, prices).checkPriceDrop(t)))).toHaveLength(1);
    expect((await purchasesOf(id)).map((p) => p.amount_aud_cents)).toEqual(['5000', '5000']);
  });

  it('the daily cut-off flushes accruals under the rule minimum, but never under the exchange minimum', async () => {
    const big = await rule({ type: 'PERCENTAGE_OF_REVENUE', percentage_bps: 1000, min_order_aud_cents: 10_000 });
    const pay = (cents: bigint) =>
      tx((t) =>
        engine.applyPaymentEvent(t, {
          paymentEventId: randomUUID(),
          provider: 'square',
          kind: 'REVENUE',
          amountCents: cents,
          currency: 'AUD',
          providerObjectId: randomUUID(),
          relatedPaymentId: null,
        }),
      );
    await pay(7_000n); // 700 accrued: above the exchange's 500, below the rule's 10,000
    expect(await purchasesOf(big)).toEqual([]);
    await tx((t) => runner.flushAtCutoff(t, '2026-07-15'));
    expect(await purchasesOf(big)).toEqual([{ amount_aud_cents: '700', source: 'CUTOFF' }]);
    // Delivered again the same day (a trimmed queue, a second worker): nothing more happens.
    await pay(6_000n); // 600 accrued
    await tx((t) => runner.flushAtCutoff(t, '2026-07-15'));
    expect(await purchasesOf(big)).toHaveLength(1);
    await tx((t) => runner.flushAtCutoff(t, '2026-07-16'));
    expect(await purchasesOf(big)).toEqual([
      { amount_aud_cents: '700', source: 'CUTOFF' },
      { amount_aud_cents: '600', source: 'CUTOFF' },
    ]);
    await pay(3_000n); // 300: under the exchange minimum, carries over to tomorrow
    await tx((t) => runner.flushAtCutoff(t, '2026-07-17'));
    expect(await purchasesOf(big)).toHaveLength(2);
    const { t } = at(await sql<{ t: string }>(`select sum(amount_e4)::text as t from pool.accrual_entry where rule_id = ?`, [big]), 0, 'row');
    expect(t).toBe('3000000');
    // The running balance the engine reads agrees with the ledger, for every rule.
    const drift = await sql<{ rule_id: string }>(
      `select a.rule_id from pool.accrual_entry a left join pool.rule_accrual r using (tenant_id, rule_id)
       group by a.rule_id, r.pending_e4 having coalesce(r.pending_e4, 0) <> sum(a.amount_e4)`,
    );
    expect(drift).toEqual([]);
  });

  it('BALANCE_THRESHOLD sweeps only new cash above the threshold, once per rise', async () => {
    const id = await rule({ type: 'BALANCE_THRESHOLD', amount_aud_cents: 10_000 });
    const balance = (cents: bigint) =>
      tx((t) =>
        engine.applyPaymentEvent(t, {
          paymentEventId: randomUUID(),
          provider: 'stripe',
          kind: 'BALANCE',
          amountCents: cents,
          currency: 'AUD',
          providerObjectId: `evt_bal_${randomUUID()}`,
          relatedPaymentId: null,
        }),
      );
    await balance(12_000n); // 2,000 above: swept
    await balance(12_050n); // 50 more: accrues (under the 500 exchange minimum)
    expect((await balance(12_050n)).reason).toMatch(/no new cash/); // the same level again: nothing
    await balance(13_000n); // 950 more: 50 + 950 = 1,000 swept
    await balance(11_000n); // fell: nothing, and the next rise counts from here
    await balance(11_600n); // 600 more than the last level: swept
    expect((await purchasesOf(id)).map((p) => p.amount_aud_cents)).toEqual(['2000', '1000', '600']);
  });
});
