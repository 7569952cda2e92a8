import { randomUUID } from 'node:crypto';
import { TenantTransactions, type TenantTx } from '../../lib/db/tenant-tx';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Scope } from '../../lib/access';
import { InProcessBus } from '../../lib/bus';
import { openAppOrm } from '../../lib/db/orm';
import { TenantDirectory } from '../../lib/db/tenant-context';
import { configureLogger } from '../../lib/logger';
import { RuleEngine, ScheduleRunner, treasuryEntities, type PaymentFacts } from '../../subgraphs/treasury';
import { ZerocapClient } from '../../subgraphs/treasury/exchanges/zerocap.client';
import { PurchaseExecutor, RetryLater } from '../../subgraphs/treasury/purchases/purchase-executor';
import { PurchaseService } from '../../subgraphs/treasury/purchases/purchase.service';
import { startFakeZerocap, type FakeZerocap } from '../fakes/zerocap.server';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { at } from '../helpers/present';

/**
 * The treasury engine's money edge cases against a real PostgreSQL (and the executor against the
 * ZeroCap API fake): which payment each cent of the accrual belongs to, what a purchase consumed,
 * and what a refund takes back, before, during and after the purchase; caps in the tenant's
 * timezone across month ends and DST changes. Every test runs in a tenant of its own.
 */
describe('treasury engine: attribution, refunds and caps (real PostgreSQL)', () => {
  let db: TestDatabase;
  let orm: MikroORM;
  let directory: TenantDirectory;
  let zc: FakeZerocap;
  let executor: PurchaseExecutor;
  const bus = new InProcessBus();
  let now = new Date('2026-07-15T00:00:00Z'); // 10:00 in Sydney
  const engine = new RuleEngine({ exchangeMinCents: 500n, manualMaxCents: 10_000_000n, now: () => now });
  const runner = new ScheduleRunner(engine, { latest: () => Promise.resolve(null), averageOverDays: () => Promise.resolve(null) });
  const service = new PurchaseService(engine);
  let tenants: TenantTransactions;

  const sql = <T>(q: string, params: unknown[] = []): Promise<T[]> => db.owner.em.getConnection().execute<T[]>(q, params);

  type Tenant = {
    id: string;
    tx<T>(fn: (tx: TenantTx) => Promise<T>): Promise<T>;
    scope: Scope;
  };
  async function tenant(timezone = 'Australia/Sydney'): Promise<Tenant> {
    const id = randomUUID();
    await sql(`insert into public.tenant (id, name, timezone) values (?, ?, ?)`, [id, `T ${id.slice(0, 8)} Pty Ltd`, timezone]);
    const tx = <T>(fn: (tx: TenantTx) => Promise<T>): Promise<T> => tenants.run(id, fn);
    // Treasury keeps the timezone (the tenant module's tenant.profile job; here written directly).
    await tx(({ em }) => em.execute(`insert into treasury_settings (primary_exchange, failover_exchanges, timezone) values ('zerocap', '{}', ?)`, [timezone]));
    // Real exchanges need a verified business (KYB gate, #11).
    await tx(({ em }) => em.execute(`insert into treasury_kyb_status (status, seq, changed_at) values ('VERIFIED', 1, now())`));
    return { id, tx, scope: { userId: randomUUID(), tenantId: id, role: 'OWNER', actor: 'user', amr: ['pwd'], tx: (fn) => tenants.run(id, fn), read: (fn) => tenants.run(id, fn) } };
  }
  async function rule(t: Tenant, cols: Record<string, unknown> = {}): Promise<string> {
    const id = randomUUID();
    const all: Record<string, unknown> = { type: 'PERCENTAGE_OF_REVENUE', percentage_bps: 1000, ...cols };
    const names = ['id', 'name', ...Object.keys(all)];
    await t.tx(({ em }) =>
      em.execute(`insert into treasury_rule (${names.join(', ')}) values (${names.map(() => '?').join(', ')})`, [id, `r-${id.slice(0, 6)}`, ...Object.values(all)]),
    );
    return id;
  }
  const apply = (t: Tenant, facts: Omit<PaymentFacts, 'paymentEventId'> & { paymentEventId?: string }) => {
    const paymentEventId = facts.paymentEventId ?? randomUUID();
    now = new Date(now.getTime() + 1_000); // each event a second after the last: purchases sort by creation
    return t.tx((tx) => engine.applyPaymentEvent(tx, { ...facts, paymentEventId })).then((o) => ({ ...o, paymentEventId }));
  };
  const pay = (t: Tenant, objectId: string, cents: bigint, provider: PaymentFacts['provider'] = 'stripe') =>
    apply(t, { provider, kind: 'REVENUE', amountCents: cents, currency: 'AUD', providerObjectId: objectId, relatedPaymentId: null });
  const refund = (t: Tenant, refundId: string, paymentObjectId: string, cents: bigint, provider: PaymentFacts['provider'] = 'stripe', currency = 'AUD') =>
    apply(t, { provider, kind: 'REFUND', amountCents: cents, currency, providerObjectId: refundId, relatedPaymentId: paymentObjectId });

  /** The rule's pending accrual in cents x 10,000, as the engine reads it. */
  const pendingE4 = async (ruleId: string): Promise<bigint> =>
    BigInt((await sql<{ p: string | null }>(`select pending_e4::text as p from pool.rule_accrual where rule_id = ?`, [ruleId]))[0]?.p ?? '0');
  const purchasesOf = (ruleId: string) =>
    sql<{ id: string; amount_aud_cents: string; status: string; spent: string; fee: string }>(
      `select id, amount_aud_cents::text, status, spent_aud_cents::text as spent, fee_aud_cents::text as fee from pool.purchase where rule_id = ? order by created_at, id`,
      [ruleId],
    );
  const funding = async (t: Tenant, purchaseId: string) =>
    (await service.funding(t.scope, purchaseId)).map((f) => ({ paymentEventId: f.paymentEventId, cents: f.amountAudCents, exact: f.exactAudCents }));
  const reasonOf = (o: { reason: string | null }): string => o.reason ?? '';
  /** Runs the purchase's next execution attempt; a RetryLater (it stays SUBMITTED) is expected when asked. */
  const execute = async (t: Tenant, purchaseId: string, finalAttempt = false) => {
    try {
      return (await executor.execute(t.id, purchaseId, finalAttempt)).status;
    } catch (err) {
      if (err instanceof RetryLater) return 'RETRY';
      throw err;
    }
  };

  beforeAll(async () => {
    configureLogger('silent');
    db = await createTestDatabase();
    orm = await openAppOrm(db.appUrl, treasuryEntities, 4);
    directory = new TenantDirectory(orm);
    tenants = new TenantTransactions(orm, directory, bus);
    zc = await startFakeZerocap({ priceAudPerBtc: '100000.00', feeBps: 20 });
    executor = new PurchaseExecutor({
      tenants,
      leaseMs: 5_000,
      breaker: { failureThreshold: 1000, coolDownMs: 1 },
      adapters: { zerocap: new ZerocapClient({ apiKey: zc.apiKey, apiSecret: zc.apiSecret, baseUrl: zc.url, timeoutMs: 3_000 }) },
    });
  }, 60_000);
  afterAll(async () => {
    await orm?.close(true);
    await zc?.close();
    await bus.close();
    await db?.drop();
  });
  beforeEach(() => {
    zc.setMode('normal');
    now = new Date('2026-07-15T00:00:00Z');
  });

  describe('refunds are matched by the ledger’s columns, never by note text', () => {
    it('links every entry to the payment event it belongs to, and an edited note changes nothing', async () => {
      const t = await tenant();
      const r = await rule(t, { min_order_aud_cents: 5_000 });
      const paid = await pay(t, 'pi_col_1', 10_000n); // 1000 cents accrue, under the rule's 5000 minimum
      await refund(t, 're_col_1', 'pi_col_1', 6_000n); // −600
      // Notes are for people: support rewriting them must not change what the engine matches.
      await sql(`update pool.accrual_entry set note = 'edited by support' where rule_id = ?`, [r]);
      await refund(t, 're_col_2', 'pi_col_1', 6_000n); // only the 400 left of the payment's share
      expect(await pendingE4(r)).toBe(0n);
      const rows = await sql<{ kind: string; origin: string | null; payment_event_id: string | null }>(
        `select kind, origin_payment_event_id as origin, payment_event_id from pool.accrual_entry where rule_id = ? order by created_at, id`,
        [r],
      );
      expect(rows.map((x) => [x.kind, x.origin])).toEqual([
        ['REVENUE', paid.paymentEventId],
        ['REFUND', paid.paymentEventId],
        ['REFUND', paid.paymentEventId],
      ]);
    });

    it('tells apart two providers’ payments that share an object id', async () => {
      const t = await tenant();
      const r = await rule(t, { min_order_aud_cents: 5_000 });
      await pay(t, 'PAY-1', 10_000n, 'square'); // 1000
      await pay(t, 'PAY-1', 20_000n, 'paypal'); // 2000
      await refund(t, 'sq-ref-1', 'PAY-1', 10_000n, 'square'); // the Square payment, in full: −1000
      await refund(t, 'pp-ref-1', 'PAY-1', 20_000n, 'paypal'); // the PayPal payment, in full: −2000
      expect(await pendingE4(r)).toBe(0n);
    });
  });

  describe('a purchase is funded by exactly what it consumed (FIFO by payment)', () => {
    it('carries the fraction of a cent with its payment into the next purchase, and fundedBy sums exactly', async () => {
      const t = await tenant();
      const r = await rule(t);
      const a = await pay(t, 'pi_fifo_a', 12_345n); // 1234.5 → buys 1234, half a cent of A stays pending
      const p1 = at(await purchasesOf(r), 0, 'p1');
      expect(p1.amount_aud_cents).toBe('1234');
      expect(await funding(t, p1.id)).toEqual([{ paymentEventId: a.paymentEventId, cents: 1234n, exact: '1234' }]);
      const b = await pay(t, 'pi_fifo_b', 2_500n); // 250
      const c = await pay(t, 'pi_fifo_c', 4_995n); // 499.5 → 0.5 + 250 + 499.5 = 750
      const p2 = at(await purchasesOf(r), 1, 'p2');
      expect(p2.amount_aud_cents).toBe('750');
      const f2 = await funding(t, p2.id);
      expect(f2.map((f) => [f.paymentEventId, f.exact])).toEqual([
        [a.paymentEventId, '0.5'],
        [b.paymentEventId, '250'],
        [c.paymentEventId, '499.5'],
      ]);
      // Whole cents are apportioned so that they too add up to the purchase.
      expect(f2.reduce((s, f) => s + f.cents, 0n)).toBe(750n);
      expect(await pendingE4(r)).toBe(0n);
    });

    it('a refund after a cap-limited purchase takes back the share still pending and keeps only what was bought', async () => {
      const t = await tenant();
      const r = await rule(t, { daily_cap_aud_cents: 600 });
      const x = await pay(t, 'pi_cap_1', 10_000n); // 1000 accrue; the daily cap lets 600 be bought
      const p = at(await purchasesOf(r), 0, 'p');
      expect(p.amount_aud_cents).toBe('600');
      expect(await pendingE4(r)).toBe(400n * 10_000n);
      expect(await funding(t, p.id)).toEqual([{ paymentEventId: x.paymentEventId, cents: 600n, exact: '600' }]);
      expect(await execute(t, p.id)).toBe('FILLED');
      // Refunded in full: the 400 not yet bought leaves the accrual; the 600 bought is kept.
      const o = await refund(t, 're_cap_1', 'pi_cap_1', 10_000n);
      expect(await pendingE4(r)).toBe(0n);
      expect(reasonOf(o)).toMatch(/kept/);
      // Tomorrow the cap allows more, and nothing of the refunded payment is bought.
      now = new Date('2026-07-16T00:00:00Z');
      await t.tx((tx) => runner.flushAtCutoff(tx, '2026-07-16'));
      expect(await purchasesOf(r)).toHaveLength(1);
    });

    it('a partial refund after a cap-limited purchase reduces the pending share first; a second refund is capped by what is left', async () => {
      const t = await tenant();
      const r = await rule(t, { daily_cap_aud_cents: 600 });
      await pay(t, 'pi_cap_2', 10_000n); // 600 bought, 400 pending
      expect(await execute(t, at(await purchasesOf(r), 0, 'purchases').id)).toBe('FILLED');
      await refund(t, 're_cap_2a', 'pi_cap_2', 3_000n); // 300 of the 400 pending
      expect(await pendingE4(r)).toBe(100n * 10_000n);
      await refund(t, 're_cap_2b', 'pi_cap_2', 5_000n); // 100 pending + 400 of the bought 600 (kept)
      expect(await pendingE4(r)).toBe(0n);
      // 800 of the payment's 1000 refunded so far: a refund of 50.00 can take back only 200 more, all bought.
      await refund(t, 're_cap_2c', 'pi_cap_2', 5_000n);
      await refund(t, 're_cap_2d', 'pi_cap_2', 5_000n);
      const { claimed } = at(await sql<{ claimed: string }>(
        `select sum(refund_e4)::text as claimed from pool.accrual_entry where rule_id = ? and kind = 'REFUND'`,
        [r],
      ), 0, 'row');
      expect(BigInt(claimed)).toBe(1000n * 10_000n);
      expect(await pendingE4(r)).toBe(0n);
    });
  });

  describe('a refund while its purchase is in flight', () => {
    it('PENDING, then FAILED: only what is still owed returns; the refunded revenue is never bought', async () => {
      const t = await tenant();
      const r = await rule(t);
      await pay(t, 'pi_fly_1', 10_000n); // purchase of 1000, PENDING
      const p = at(await purchasesOf(r), 0, 'p');
      expect(p.status).toBe('PENDING');
      const o = await refund(t, 're_fly_1', 'pi_fly_1', 10_000n);
      expect(reasonOf(o)).toMatch(/in flight/);
      zc.setMode('insufficient-funds');
      expect(await execute(t, p.id)).toBe('FAILED');
      expect(await pendingE4(r)).toBe(0n);
      expect(await funding(t, p.id)).toEqual([]);
      // More revenue buys only itself.
      zc.setMode('normal');
      await pay(t, 'pi_fly_1b', 6_000n);
      expect((await purchasesOf(r)).map((x) => x.amount_aud_cents)).toEqual(['1000', '600']);
    });

    it('SUBMITTED, then FAILED after retries: a half refund leaves half owed', async () => {
      const t = await tenant();
      const r = await rule(t);
      await pay(t, 'pi_fly_2', 10_000n);
      const p = at(await purchasesOf(r), 0, 'p');
      zc.setMode('outage');
      expect(await execute(t, p.id)).toBe('RETRY');
      expect(at(await purchasesOf(r), 0, 'purchases').status).toBe('SUBMITTED');
      await refund(t, 're_fly_2', 'pi_fly_2', 5_000n);
      expect(await pendingE4(r)).toBe(0n);
      expect(await execute(t, p.id, true)).toBe('FAILED');
      expect(await pendingE4(r)).toBe(500n * 10_000n);
    });

    it('SUBMITTED, then FILLED: the bitcoin is kept and nothing returns', async () => {
      const t = await tenant();
      const r = await rule(t);
      const x = await pay(t, 'pi_fly_3', 10_000n);
      const p = at(await purchasesOf(r), 0, 'p');
      zc.setMode('outage');
      expect(await execute(t, p.id)).toBe('RETRY');
      await refund(t, 're_fly_3', 'pi_fly_3', 10_000n);
      zc.setMode('normal');
      expect(await execute(t, p.id)).toBe('FILLED');
      expect(await pendingE4(r)).toBe(0n);
      expect(await funding(t, p.id)).toEqual([{ paymentEventId: x.paymentEventId, cents: 1000n, exact: '1000' }]);
      // The refund is recorded against the purchase that bought its share.
      const held = at(await sql<{ purchase_id: string; refund_e4: string }>(
        `select purchase_id, refund_e4::text from pool.accrual_entry where rule_id = ? and kind = 'REFUND'`,
        [r],
      ), 0, 'held');
      expect(held).toEqual({ purchase_id: p.id, refund_e4: String(1000n * 10_000n) });
    });

    it('SUBMITTED, then PARTIALLY_FILLED: the unspent part covers the refund first; only the rest returns', async () => {
      const t = await tenant();
      const r = await rule(t, { min_order_aud_cents: 1_000 });
      const x = await pay(t, 'pi_part_x', 6_000n); // 600
      const y = await pay(t, 'pi_part_y', 4_000n); // 400 → 1000: one purchase funded by X 600 and Y 400
      const p = at(await purchasesOf(r), 0, 'p');
      expect(p.amount_aud_cents).toBe('1000');
      zc.setMode('outage');
      expect(await execute(t, p.id)).toBe('RETRY');
      await refund(t, 're_part_y', 'pi_part_y', 4_000n); // Y's whole share, while in flight
      zc.setMode('partial-fill');
      expect(await execute(t, p.id)).toBe('PARTIALLY_FILLED');
      const done = at(await purchasesOf(r), 0, 'done');
      // The exchange's fee is charged on top of what it spent: it never comes out of the rule's money.
      const spent = BigInt(done.spent); // 500 (+ a 1 cent fee on top)
      expect(BigInt(done.fee)).toBeGreaterThan(0n);
      const unspent = 1000n - spent; // 500: 400 of it was Y's refunded share, 100 goes back (to X)
      expect(await pendingE4(r)).toBe((unspent - 400n) * 10_000n);
      const f = await funding(t, p.id);
      expect(f).toEqual([{ paymentEventId: x.paymentEventId, cents: spent, exact: spent.toString() }]);
      expect(f.some((e) => e.paymentEventId === y.paymentEventId)).toBe(false);
    });

    it('a refund committed while the purchase is being failed is never lost between the two transactions', async () => {
      const t = await tenant();
      const r = await rule(t);
      await pay(t, 'pi_race', 10_000n);
      const p = at(await purchasesOf(r), 0, 'p');
      zc.setMode('insufficient-funds');
      let finishing: Promise<string> = Promise.resolve('');
      await t.tx(async (tx) => {
        // The refund is applied (not yet committed); then the executor fails the purchase meanwhile.
        now = new Date(now.getTime() + 1_000);
        await engine.applyPaymentEvent(tx, {
          paymentEventId: randomUUID(),
          provider: 'stripe',
          kind: 'REFUND',
          amountCents: 10_000n,
          currency: 'AUD',
          providerObjectId: 're_race',
          relatedPaymentId: 'pi_race',
        });
        finishing = execute(t, p.id);
        // Give the executor time to finish if nothing makes it wait for this transaction.
        await Promise.race([finishing, new Promise((resolve) => setTimeout(resolve, 1_000))]);
      });
      expect(await finishing).toBe('FAILED');
      expect(await pendingE4(r)).toBe(0n);
    });

    it('PENDING, then cancelled: the refunded share does not come back', async () => {
      const t = await tenant();
      const r = await rule(t);
      await pay(t, 'pi_cancel', 10_000n);
      const p = at(await purchasesOf(r), 0, 'p');
      await refund(t, 're_cancel', 'pi_cancel', 2_500n); // 250 of the 1000
      await service.cancel(t.scope, p.id);
      expect(await pendingE4(r)).toBe(750n * 10_000n);
    });
  });

  describe('partial fills and caps', () => {
    it('a partly filled purchase uses only what it spent of the daily cap; the returned money is bought the same day', async () => {
      const t = await tenant();
      const r = await rule(t, { daily_cap_aud_cents: 1_500 });
      zc.setMode('partial-fill');
      await pay(t, 'pi_pf_cap', 20_000n); // 2000 accrue; the cap lets 1500 be bought, 500 stay pending
      const p = at(await purchasesOf(r), 0, 'p');
      expect(p.amount_aud_cents).toBe('1500');
      expect(await execute(t, p.id)).toBe('PARTIALLY_FILLED');
      const done = at(await purchasesOf(r), 0, 'done');
      const cost = BigInt(done.spent) + BigInt(done.fee); // 750 + fee of today's cap used, the rest back in the accrual
      zc.setMode('normal');
      now = new Date(now.getTime() + 60_000);
      await t.tx((tx) => runner.flushAtCutoff(tx, '2026-07-15'));
      const all = await purchasesOf(r);
      expect(all.map((x) => x.amount_aud_cents)).toEqual(['1500', (1500n - cost).toString()]);
    });
  });

  describe('caps in the tenant’s timezone', () => {
    it('monthly: 23:30 on 31 January in Sydney is January, 00:30 on 1 February is February (both 31 January in UTC)', async () => {
      const t = await tenant('Australia/Sydney');
      const r = await rule(t, { monthly_cap_aud_cents: 1_000 });
      now = new Date('2026-01-31T12:30:00Z'); // 23:30 AEDT, 31 Jan
      await pay(t, 'pi_m_1', 10_000n);
      await pay(t, 'pi_m_2', 10_000n); // January's cap is spent
      expect((await purchasesOf(r)).map((x) => x.amount_aud_cents)).toEqual(['1000']);
      now = new Date('2026-01-31T13:30:00Z'); // 00:30 AEDT, 1 Feb
      await pay(t, 'pi_m_3', 1_000n);
      expect((await purchasesOf(r)).map((x) => x.amount_aud_cents)).toEqual(['1000', '1000']);
    });

    it('monthly: the same instant is still January for a tenant in UTC', async () => {
      const t = await tenant('UTC');
      const r = await rule(t, { monthly_cap_aud_cents: 1_000 });
      now = new Date('2026-01-31T12:30:00Z');
      await pay(t, 'pi_mu_1', 10_000n);
      now = new Date('2026-01-31T13:30:00Z');
      await pay(t, 'pi_mu_2', 10_000n);
      expect((await purchasesOf(r)).map((x) => x.amount_aud_cents)).toEqual(['1000']);
      now = new Date('2026-02-01T00:00:00Z');
      await pay(t, 'pi_mu_3', 1_000n);
      expect((await purchasesOf(r)).map((x) => x.amount_aud_cents)).toEqual(['1000', '1000']);
    });

    it('daily: the 23-hour day when Sydney’s DST starts resets at local midnight', async () => {
      const t = await tenant('Australia/Sydney');
      const r = await rule(t, { daily_cap_aud_cents: 1_000 });
      now = new Date('2026-10-04T12:30:00Z'); // 23:30 AEDT on Sunday 4 Oct, the day clocks went forward
      await pay(t, 'pi_dst_1', 10_000n);
      await pay(t, 'pi_dst_2', 10_000n);
      expect((await purchasesOf(r)).map((x) => x.amount_aud_cents)).toEqual(['1000']);
      now = new Date('2026-10-04T13:30:00Z'); // 00:30 AEDT on 5 Oct: a new day, 23 hours after the last one began
      await pay(t, 'pi_dst_3', 1_000n);
      expect((await purchasesOf(r)).map((x) => x.amount_aud_cents)).toEqual(['1000', '1000']);
    });

    it('daily: the 25-hour day when Sydney’s DST ends is one day', async () => {
      const t = await tenant('Australia/Sydney');
      const r = await rule(t, { daily_cap_aud_cents: 1_000 });
      now = new Date('2026-04-04T13:30:00Z'); // 00:30 AEDT on Sunday 5 Apr
      await pay(t, 'pi_dst_4', 10_000n);
      now = new Date('2026-04-05T13:30:00Z'); // 23:30 AEST the same Sunday, 24 hours later
      await pay(t, 'pi_dst_5', 10_000n);
      expect((await purchasesOf(r)).map((x) => x.amount_aud_cents)).toEqual(['1000']);
      now = new Date('2026-04-05T14:00:00Z'); // 00:00 AEST, 6 Apr
      await pay(t, 'pi_dst_6', 1_000n);
      expect((await purchasesOf(r)).map((x) => x.amount_aud_cents)).toEqual(['1000', '1000']);
    });
  });

  describe('other refund gaps', () => {
    it('a paused rule still takes a refund off what it accrued, so resuming it does not buy refunded revenue', async () => {
      const t = await tenant();
      const r = await rule(t, { min_order_aud_cents: 1_000 });
      await pay(t, 'pi_pause', 8_000n); // 800, under the rule's minimum
      await t.tx(({ em }) => em.execute(`update treasury_rule set enabled = false where id = ?`, [r]));
      await refund(t, 're_pause', 'pi_pause', 8_000n);
      expect(await pendingE4(r)).toBe(0n);
      await t.tx(({ em }) => em.execute(`update treasury_rule set enabled = true where id = ?`, [r]));
      await pay(t, 'pi_pause_2', 5_000n); // 500: under the minimum on its own
      expect(await purchasesOf(r)).toEqual([]);
    });

    it('a refund takes back the share the payment accrued at, not the rule’s current percentage', async () => {
      const t = await tenant();
      const r = await rule(t, { min_order_aud_cents: 50_000 });
      await pay(t, 'pi_rate', 10_000n); // 10% → 1000
      await t.tx(({ em }) => em.execute(`update treasury_rule set percentage_bps = 5000 where id = ?`, [r]));
      await refund(t, 're_rate', 'pi_rate', 2_000n); // 10% of 20.00 = 200, not 50%
      expect(await pendingE4(r)).toBe(800n * 10_000n);
    });

    it('a refund larger than its payment, and refunds after it, take back at most the payment’s share', async () => {
      const t = await tenant();
      const r = await rule(t, { min_order_aud_cents: 5_000 });
      await pay(t, 'pi_over', 5_000n); // 500
      await pay(t, 'pi_other', 3_000n); // 300 of another payment
      await refund(t, 're_over_1', 'pi_over', 8_000n);
      await refund(t, 're_over_2', 'pi_over', 1_000n);
      expect(await pendingE4(r)).toBe(300n * 10_000n);
    });

    it('a refund delivered before its payment, then a later refund: together capped by the payment’s share', async () => {
      const t = await tenant();
      const r = await rule(t, { min_order_aud_cents: 5_000 });
      const early = await refund(t, 're_early_1', 'pi_early', 4_000n);
      expect(reasonOf(early)).toMatch(/before its payment/);
      const paid = await pay(t, 'pi_early', 10_000n); // 1000 − 400
      expect(await pendingE4(r)).toBe(600n * 10_000n);
      await refund(t, 're_early_2', 'pi_early', 10_000n); // at most the 600 left
      expect(await pendingE4(r)).toBe(0n);
      const waiting = await sql<{ origin: string | null }>(
        `select origin_payment_event_id as origin from pool.accrual_entry where rule_id = ? and source_key = 'stripe:REFUND:re_early_1'`,
        [r],
      );
      expect(waiting).toEqual([{ origin: paid.paymentEventId }]);
    });

    it('the same refund delivered twice is counted once', async () => {
      const t = await tenant();
      const r = await rule(t, { min_order_aud_cents: 5_000 });
      await pay(t, 'pi_dup', 10_000n);
      await refund(t, 're_dup', 'pi_dup', 3_000n);
      await refund(t, 're_dup', 'pi_dup', 3_000n);
      expect(await pendingE4(r)).toBe(700n * 10_000n);
    });

    it('a failed fixed-amount (DCA) purchase puts nothing into an accrual it never took from', async () => {
      const t = await tenant();
      const r = await rule(t, { type: 'FIXED_DCA', percentage_bps: null, amount_aud_cents: 2_500, schedule: 'DAILY' });
      await sql(`update pool.treasury_rule set next_run_at = ? where id = ?`, [new Date(now.getTime() - 1_000), r]);
      await t.tx((tx) => runner.runSchedule(tx, r));
      const p = at(await purchasesOf(r), 0, 'p');
      zc.setMode('insufficient-funds');
      expect(await execute(t, p.id)).toBe('FAILED');
      expect(await sql(`select kind from pool.accrual_entry where rule_id = ?`, [r])).toEqual([]);
      expect(await pendingE4(r)).toBe(0n);
    });

    it('a refund in another currency is skipped visibly and changes nothing', async () => {
      const t = await tenant();
      const r = await rule(t, { min_order_aud_cents: 5_000 });
      await pay(t, 'pi_ccy', 10_000n);
      const o = await refund(t, 're_ccy', 'pi_ccy', 10_000n, 'stripe', 'USD');
      expect(o.status).toBe('SKIPPED');
      expect(await pendingE4(r)).toBe(1000n * 10_000n);
    });
  });

  it('keeps every running balance equal to the ledger it summarises (per rule and per payment)', async () => {
    const rules = await sql<{ rule_id: string }>(
      `select a.rule_id from pool.accrual_entry a left join pool.rule_accrual r using (tenant_id, rule_id)
       group by a.rule_id, r.pending_e4 having coalesce(r.pending_e4, 0) <> sum(a.amount_e4)`,
    );
    expect(rules).toEqual([]);
    const payments = await sql<{ rule_id: string }>(
      `select a.rule_id from pool.accrual_entry a
       left join pool.payment_accrual p on p.tenant_id = a.tenant_id and p.rule_id = a.rule_id and p.payment_event_id = a.origin_payment_event_id
       where a.origin_payment_event_id is not null
       group by a.rule_id, a.origin_payment_event_id, p.pending_e4, p.refunded_e4
       having coalesce(p.pending_e4, 0) <> sum(a.amount_e4) or coalesce(p.refunded_e4, 0) <> sum(a.refund_e4)`,
    );
    expect(payments).toEqual([]);
    // No payment's pending share is ever negative, and none is refunded beyond what it accrued.
    const bad = await sql<{ n: string }>(`select count(*)::text as n from pool.payment_accrual where pending_e4 < 0 or refunded_e4 > accrued_e4`);
    expect(at(bad, 0, 'count').n).toBe('0');
  });
});
