import { randomUUID } from 'node:crypto';
import { TenantTransactions, type TenantTx } from '../../lib/db/tenant-tx';
import type { MikroORM } from '@mikro-orm/postgresql';
import { InProcessBus } from '../../lib/bus';
import type { PurchaseUpdatedEvent } from '../../lib/events';
import { openAppOrm } from '../../lib/db/orm';
import { TenantDirectory } from '../../lib/db/tenant-context';
import { configureLogger } from '../../lib/logger';
import { KrakenClient } from '../../subgraphs/treasury/exchanges/kraken.client';
import { textToUnits } from '../../lib/money';
import type { ExchangeAdapter } from '../../subgraphs/treasury/exchanges/exchange.types';
import { PgOrderIdStore } from '../../subgraphs/treasury/exchanges/pg-order-id-store';
import { SwyftxClient } from '../../subgraphs/treasury/exchanges/swyftx.client';
import { ZerocapClient } from '../../subgraphs/treasury/exchanges/zerocap.client';
import { treasuryEntities } from '../../subgraphs/treasury';
import { PurchaseExecutor, RetryLater } from '../../subgraphs/treasury/purchases/purchase-executor';
import { PurchaseSource } from '../../subgraphs/treasury/purchases/purchase.entity';
import { PurchaseService } from '../../subgraphs/treasury/purchases/purchase.service';
import { RuleEngine } from '../../subgraphs/treasury/rules/rule-engine';
import { startFakeKraken, type FakeKraken } from '../fakes/kraken.server';
import { startFakeSwyftx, type FakeSwyftx } from '../fakes/swyftx.server';
import { startFakeZerocap, type FakeZerocap } from '../fakes/zerocap.server';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { until } from '../helpers/wait';
import type { Scope } from '../../lib/access';
import { at } from '../helpers/present';
import { noticeId } from '../../lib/events/notices';

/**
 * The executor against the ZeroCap and Swyftx API fakes (real clients, real PostgreSQL): the
 * platform's ZeroCap → Swyftx failover, both down (waits, retries, then FAILED with a reason and
 * the money back in the accrual), a rejected order, and a partial fill.
 */
describe('purchase execution: routing, failover and failure (real PostgreSQL, exchange API fakes)', () => {
  let db: TestDatabase;
  let orm: MikroORM;
  let zc: FakeZerocap;
  let sx: FakeSwyftx;
  let kr: FakeKraken;
  let executor: PurchaseExecutor;
  const bus = new InProcessBus();
  const engine = new RuleEngine({ exchangeMinCents: 500n, manualMaxCents: 10_000_000n });
  const tenantId = randomUUID();
  let directory: TenantDirectory;
  const events: PurchaseUpdatedEvent[] = [];

  const tx = <T>(fn: (tx: TenantTx) => Promise<T>): Promise<T> => new TenantTransactions(orm, directory, bus).run(tenantId, fn);
  const sql = <T>(q: string, params: unknown[] = []): Promise<T[]> => db.owner.em.getConnection().execute<T[]>(q, params);

  /** A rule-funded purchase: a 10% rule, a 100.00 AUD payment → 10.00 AUD purchase. */
  async function rulePurchase(): Promise<{ purchaseId: string; ruleId: string }> {
    const ruleId = randomUUID();
    return tx(async (t) => {
      const { em } = t;
      await em.execute(`insert into treasury_rule (id, name, type, percentage_bps) values (?, ?, 'PERCENTAGE_OF_REVENUE', 1000)`, [
        ruleId,
        `rule-${ruleId.slice(0, 6)}`,
      ]);
      const out = await engine.applyPaymentEvent(t, {
        paymentEventId: randomUUID(),
        provider: 'stripe',
        kind: 'REVENUE',
        amountCents: 10_000n,
        currency: 'AUD',
        providerObjectId: `pi_${randomUUID()}`,
        relatedPaymentId: null,
      });
      // Only this rule: disable it so later payments in other tests do not feed it.
      await em.execute(`update treasury_rule set enabled = false where id = ?`, [ruleId]);
      return { purchaseId: at(out.purchases, 0, 'purchases from the payment'), ruleId };
    });
  }
  const purchase = async (id: string) =>
    at(
      await sql<{ status: string; exchange: string | null; failure_reason: string | null; filled_sats: string; spent_aud_cents: string }>(
        `select status, exchange, failure_reason, filled_sats::text, spent_aud_cents::text from pool.purchase where id = ?`,
        [id],
      ),
      0,
      `purchase ${id}`,
    );
  /** The notices (#12) written through the outbox for a purchase: job id, type and data. */
  const notices = (purchaseId: string) =>
    sql<{ id: string; queue: string; job_name: string; type: string; notice_id: string; data: Record<string, unknown> }>(
      `select id::text, queue, job_name, payload->>'type' as type, payload->>'id' as notice_id, payload->'data' as data
         from pool.outbox where queue = 'notifications' and payload->>'subjectId' = ?`,
      [purchaseId],
    );
  const pending = async (ruleId: string): Promise<bigint> =>
    BigInt(at(await sql<{ t: string }>(`select coalesce(sum(amount_e4), 0)::text as t from pool.accrual_entry where rule_id = ?`, [ruleId]), 0, 'accrual sum').t) / 10_000n;

  beforeAll(async () => {
    configureLogger('silent');
    db = await createTestDatabase();
    await sql(`insert into public.tenant (id, name) values (?, 'Routing Pty Ltd')`, [tenantId]);
    orm = await openAppOrm(db.appUrl, treasuryEntities, 4);
    directory = new TenantDirectory(orm);
    zc = await startFakeZerocap({ priceAudPerBtc: '100000.00' });
    sx = await startFakeSwyftx({ priceAudPerBtc: '100000.00' });
    kr = await startFakeKraken({ priceAudPerBtc: '100000.00' });
    executor = new PurchaseExecutor({
      tenants: new TenantTransactions(orm, directory, bus),
      leaseMs: 5_000,
      breaker: { failureThreshold: 100, coolDownMs: 1 },
      adapters: {
        zerocap: new ZerocapClient({ apiKey: zc.apiKey, apiSecret: zc.apiSecret, baseUrl: zc.url, timeoutMs: 3_000 }),
        swyftx: new SwyftxClient({ apiKey: sx.apiKey, baseUrl: sx.url, orderIds: new PgOrderIdStore(orm), timeoutMs: 3_000 }),
      },
    });
    await tx(({ em }) => em.execute(`insert into treasury_settings (primary_exchange, failover_exchanges) values ('zerocap', '{swyftx}')`));
    // Real exchanges need a verified business (KYB gate, #11).
    await tx(({ em }) => em.execute(`insert into treasury_kyb_status (status, seq, changed_at) values ('VERIFIED', 1, now())`));
    await bus.subscribe(`tenant.${tenantId}.purchase`, (_c, e) => events.push(e));
  }, 60_000);
  afterAll(async () => {
    await orm?.close(true);
    await zc?.close();
    await sx?.close();
    await kr?.close();
    await bus.close();
    await db?.drop();
  });
  beforeEach(() => {
    zc.setMode('normal');
    sx.setMode('normal');
    kr.setMode('normal');
  });

  it('buys on the primary (ZeroCap) when it is up', async () => {
    const { purchaseId } = await rulePurchase();
    expect(await executor.execute(tenantId, purchaseId, false)).toEqual({ status: 'FILLED', reconciled: false });
    expect(await purchase(purchaseId)).toMatchObject({ status: 'FILLED', exchange: 'zerocap', spent_aud_cents: '1000' });
    expect(zc.orders()).toHaveLength(1);
    // Notifications (#12): one purchase.filled notice, committed with the fill, message-safe fields only.
    const [notice, ...more] = await notices(purchaseId);
    expect(more).toEqual([]);
    expect(notice).toEqual({
      id: noticeId('purchase.filled', `${purchaseId}:FILLED`),
      notice_id: noticeId('purchase.filled', `${purchaseId}:FILLED`),
      queue: 'notifications',
      job_name: 'notice',
      type: 'purchase.filled',
      data: { amountAudCents: '1000', filledSats: (await purchase(purchaseId)).filled_sats, exchange: 'zerocap', status: 'FILLED' },
    });
  });

  it('KYB gate (#11): a tenant not VERIFIED has its real-exchange purchase FAILED with KYB_NOT_VERIFIED, nothing sent anywhere', async () => {
    await tx(({ em }) => em.execute(`update treasury_kyb_status set status = 'NEEDS_INFO', seq = seq + 1`));
    try {
      const before = zc.orders().length + sx.orders().length;
      const { purchaseId } = await rulePurchase();
      expect((await executor.execute(tenantId, purchaseId, false)).status).toBe('FAILED');
      const p = await purchase(purchaseId);
      expect(p.failure_reason).toMatch(/^KYB_NOT_VERIFIED: /);
      expect(zc.orders().length + sx.orders().length).toBe(before);
      expect(await sql(`select 1 from pool.exchange_attempt where purchase_id = ?`, [purchaseId])).toEqual([]);
    } finally {
      await tx(({ em }) => em.execute(`update treasury_kyb_status set status = 'VERIFIED', seq = seq + 1`));
    }
  });

  it('fails over to Swyftx when ZeroCap is down, and records every attempt', async () => {
    zc.setMode('outage');
    const { purchaseId } = await rulePurchase();
    expect((await executor.execute(tenantId, purchaseId, false)).status).toBe('FILLED');
    expect(await purchase(purchaseId)).toMatchObject({ status: 'FILLED', exchange: 'swyftx' });
    const attempts = await sql<{ exchange: string; operation: string; outcome: string }>(
      `select exchange, operation, outcome from pool.exchange_attempt where purchase_id = ? order by at, id`,
      [purchaseId],
    );
    expect(attempts).toContainEqual({ exchange: 'zerocap', operation: 'lookup', outcome: 'FAILED' });
    expect(attempts).toContainEqual({ exchange: 'swyftx', operation: 'place', outcome: 'PLACED' });
    expect(sx.orders()).toHaveLength(1);
    // The Swyftx order is linked durably to our id (Swyftx cannot look orders up by it).
    const link = at(await sql<{ exchange_order_id: string | null }>(`select exchange_order_id from public.exchange_order_link where client_order_id = ?`, [
      purchaseId,
    ]), 0, 'link');
    expect(link.exchange_order_id).toBe(at(sx.orders(), 0, 'exchange orders').orderUuid);
  });

  it('with both down, waits and retries, then fails with a reason and returns the money to the accrual', async () => {
    zc.setMode('outage');
    sx.setMode('outage');
    const { purchaseId, ruleId } = await rulePurchase();
    expect(await pending(ruleId)).toBe(0n);
    await expect(executor.execute(tenantId, purchaseId, false)).rejects.toBeInstanceOf(RetryLater);
    expect((await purchase(purchaseId)).status).toBe('SUBMITTED');
    // The last attempt gives up: nothing was bought anywhere, so the purchase fails and the 10.00 AUD is owed again.
    expect((await executor.execute(tenantId, purchaseId, true)).status).toBe('FAILED');
    const p = await purchase(purchaseId);
    expect(p.status).toBe('FAILED');
    expect(p.failure_reason).toMatch(/UNAVAILABLE/);
    expect(await pending(ruleId)).toBe(1000n);
    // Notifications (#12): one purchase.failed notice; no failure reason (exchange detail) in it.
    expect((await notices(purchaseId)).map((n) => [n.type, n.data])).toEqual([
      ['purchase.failed', { amountAudCents: '1000', filledSats: '0', exchange: null, status: 'FAILED' }],
    ]);
    const statuses = events.filter((e) => e.purchaseId === purchaseId).map((e) => e.status);
    // PENDING is published by the transaction that created it (TenantTx), then each move of the state machine.
    expect(statuses).toEqual(['PENDING', 'SUBMITTED', 'FAILED']);
    // A late retry of a finished purchase changes nothing.
    expect(await executor.execute(tenantId, purchaseId, false)).toEqual({ status: 'FAILED' });
  });

  it('does not fail over on a rejection (insufficient funds): the purchase fails at once, money returned', async () => {
    zc.setMode('insufficient-funds');
    const { purchaseId, ruleId } = await rulePurchase();
    expect((await executor.execute(tenantId, purchaseId, false)).status).toBe('FAILED');
    expect((await purchase(purchaseId)).failure_reason).toMatch(/REJECTED/);
    expect(sx.orders().filter((o) => JSON.stringify(o).includes(purchaseId))).toHaveLength(0);
    expect(await pending(ruleId)).toBe(1000n);
  });

  it('records a partial fill as PARTIALLY_FILLED and returns what was not spent', async () => {
    zc.setMode('partial-fill');
    const { purchaseId, ruleId } = await rulePurchase();
    expect((await executor.execute(tenantId, purchaseId, false)).status).toBe('PARTIALLY_FILLED');
    const p = await purchase(purchaseId);
    expect(BigInt(p.spent_aud_cents)).toBeLessThan(1000n);
    expect(BigInt(p.filled_sats)).toBeGreaterThan(0n);
    const h = at(await sql<{ sats: string }>(`select sats::text from pool.holding where exchange = 'zerocap'`), 0, 'h');
    expect(BigInt(h.sats)).toBeGreaterThanOrEqual(BigInt(p.filled_sats));
    expect(await pending(ruleId)).toBeGreaterThan(0n);
    // PARTIALLY_FILLED has no notice type (#12 covers FILLED and FAILED).
    expect(await notices(purchaseId)).toEqual([]);
  });

  it('never runs one purchase twice at once: a second worker backs off while the lease is held', async () => {
    const { purchaseId } = await tx((t) =>
      engine.createPurchase(t, { amountCents: 700n, source: PurchaseSource.MANUAL, ruleId: null, requestedBy: null, reason: 'test' }),
    ).then((id) => ({ purchaseId: id }));
    const results = await Promise.allSettled([executor.execute(tenantId, purchaseId, false), executor.execute(tenantId, purchaseId, false)]);
    const fulfilled = results.filter((r) => r.status === 'fulfilled');
    expect(fulfilled.length).toBeGreaterThanOrEqual(1);
    expect((await purchase(purchaseId)).status).toBe('FILLED');
    expect(zc.orders().filter((o) => JSON.stringify(o).includes(purchaseId))).toHaveLength(1);
  });

  it('never settles a partly filled order that is still working: it stays SUBMITTED', async () => {
    zc.setMode('outage');
    sx.setMode('partial-fill');
    const { purchaseId, ruleId } = await rulePurchase();
    await expect(executor.execute(tenantId, purchaseId, true)).rejects.toBeInstanceOf(RetryLater);
    // Not settled, nothing returned to the accrual, nothing booked: the order may still fill.
    expect((await purchase(purchaseId)).status).toBe('SUBMITTED');
    expect(await pending(ruleId)).toBe(0n);
  });

  it('cancels a purchase not yet sent: CANCELLED with its transition, audit and event, money back; twice is a CONFLICT', async () => {
    const { purchaseId, ruleId } = await rulePurchase();
    expect(await pending(ruleId)).toBe(0n);
    const service = new PurchaseService(engine);
    const userId = randomUUID();
    const scope: Scope = { userId, tenantId, role: 'OWNER', actor: 'user', amr: ['pwd'], tx: (fn) => new TenantTransactions(orm, directory, bus).run(tenantId, fn), read: (fn) => new TenantTransactions(orm, directory, bus).run(tenantId, fn) };
    const cancelled = await service.cancel(scope, purchaseId);
    expect(cancelled.status).toBe('CANCELLED');
    expect(await pending(ruleId)).toBe(1000n);
    const transitions = await sql<{ from_status: string; to_status: string; reason: string }>(
      `select from_status, to_status, reason from pool.purchase_transition where purchase_id = ? order by at`,
      [purchaseId],
    );
    expect(transitions.map((x) => x.to_status)).toEqual(['PENDING', 'CANCELLED']);
    expect(transitions[1]).toEqual({ from_status: 'PENDING', to_status: 'CANCELLED', reason: 'cancelled by a user' });
    const audit = at(await sql<{ payload: { eventType: string; actorId: string } }>(
      `select payload from pool.outbox where queue = 'audit' and payload->>'subjectId' = ? and payload->>'eventType' = 'purchase.cancelled'`,
      [purchaseId],
    ), 0, 'audit');
    expect(audit.payload.actorId).toBe(userId);
    await until('the CANCELLED event', async () => (events.some((e) => e.purchaseId === purchaseId && e.status === 'CANCELLED') ? true : undefined));
    await expect(service.cancel(scope, purchaseId)).rejects.toMatchObject({ extensions: { code: 'CONFLICT' } });
    // The executor leaves it alone.
    expect(await executor.execute(tenantId, purchaseId, false)).toEqual({ status: 'CANCELLED' });
  });

  describe('Kraken only, with its circuit breaker open (the hardening issue: "FAILED with an order filled")', () => {
    const krakenClient = (): KrakenClient => new KrakenClient({ apiKey: kr.apiKey, apiSecret: kr.apiSecret, baseUrl: kr.url, timeoutMs: 3_000 });
    // Moved by hand past the breakers' cool-down, so no assertion races the wall clock.
    let skew = 0;
    const newExecutor = (adapters: Partial<Record<'kraken', ExchangeAdapter>>, leaseMs = 5_000): PurchaseExecutor =>
      new PurchaseExecutor({ tenants: new TenantTransactions(orm, directory, bus), leaseMs, breaker: { failureThreshold: 2, coolDownMs: 60_000 }, adapters, now: () => new Date(Date.now() + skew) });
    const attempts = (purchaseId: string) =>
      sql<{ exchange: string; operation: string; outcome: string; outcome_unknown: boolean }>(
        `select exchange, operation, outcome, outcome_unknown from pool.exchange_attempt where purchase_id = ? order by seq`,
        [purchaseId],
      );
    const krakenSats = (purchaseId: string): bigint =>
      kr
        .orders()
        .filter((o) => o.info.cl_ord_id === purchaseId)
        .reduce((sum, o) => sum + textToUnits(o.info.vol_exec, 8, 'exact'), 0n);

    beforeAll(() => tx(({ em }) => em.execute(`update treasury_settings set primary_exchange = 'kraken', failover_exchanges = '{}'`)));
    afterAll(() => tx(({ em }) => em.execute(`update treasury_settings set primary_exchange = 'zerocap', failover_exchanges = '{swyftx}'`)));

    it('a worker dies after Kraken accepted the order; the next one, breaker open, never fails it and reconciles once Kraken answers', async () => {
      const { purchaseId, ruleId } = await rulePurchase();
      // The first worker: Kraken takes the order, then the process is gone before it hears back.
      const real = krakenClient();
      const dying: ExchangeAdapter = {
        name: 'kraken',
        quote: () => real.quote(),
        health: () => real.health(),
        getOrder: (id) => real.getOrder(id),
        placeMarketSell: (id, sats) => real.placeMarketSell(id, sats),
        placeMarketBuy: async (id, cents) => {
          await real.placeMarketBuy(id, cents);
          return new Promise<never>(() => undefined);
        },
      };
      void newExecutor({ kraken: dying }, 300).execute(tenantId, purchaseId, false);
      await until('Kraken to accept the order', async () => (kr.orders().some((o) => o.info.cl_ord_id === purchaseId) ? true : undefined));
      // The intent was durable before the order left.
      expect(await attempts(purchaseId)).toContainEqual({ exchange: 'kraken', operation: 'place', outcome: 'IN_DOUBT', outcome_unknown: true });
      skew += 1_000;
      await new Promise((r) => setTimeout(r, 400)); // its lease lapses (on the database's clock)

      // The next worker: Kraken is failing, so its breaker opens.
      kr.setMode('outage');
      const next = newExecutor({ kraken: krakenClient() });
      for (let i = 0; i < 4; i++) {
        await expect(next.execute(tenantId, purchaseId, i === 3)).rejects.toBeInstanceOf(RetryLater);
      }
      expect(next.router.breakerFor('kraken').state).toBe('OPEN');
      expect(await attempts(purchaseId)).toContainEqual({ exchange: 'kraken', operation: 'lookup', outcome: 'SKIPPED_CIRCUIT_OPEN', outcome_unknown: false });
      expect((await purchase(purchaseId)).status).toBe('SUBMITTED');
      // No money went back to the rule while the order may exist.
      expect(await pending(ruleId)).toBe(0n);

      kr.setMode('normal');
      skew += 60_000; // the breaker half-opens
      expect(await next.execute(tenantId, purchaseId, true)).toEqual({ status: 'FILLED', reconciled: true });
      expect(kr.orders().filter((o) => o.info.cl_ord_id === purchaseId)).toHaveLength(1);
      expect(kr.requests().filter((r) => r.path === '/0/private/AddOrder' && r.params.cl_ord_id === purchaseId)).toHaveLength(1);
      const p = await purchase(purchaseId);
      expect(BigInt(p.filled_sats)).toBe(krakenSats(purchaseId));
      const h = at(await sql<{ sats: string }>(`select sats::text from pool.holding where exchange = 'kraken'`), 0, 'h');
      expect(BigInt(h.sats)).toBe(krakenSats(purchaseId));
      expect(await pending(ruleId)).toBe(0n);
    });

    it('an open breaker means "later": nothing placed anywhere, the purchase waits; it fails only when Kraken itself refused on the last attempt', async () => {
      const { purchaseId, ruleId } = await rulePurchase();
      kr.setMode('outage');
      const ex = newExecutor({ kraken: krakenClient() });
      await expect(ex.execute(tenantId, purchaseId, false)).rejects.toBeInstanceOf(RetryLater);
      await expect(ex.execute(tenantId, purchaseId, false)).rejects.toBeInstanceOf(RetryLater);
      expect(ex.router.breakerFor('kraken').state).toBe('OPEN');
      // Breaker open: no exchange was asked, so not even the last attempt gives up.
      await expect(ex.execute(tenantId, purchaseId, false)).rejects.toBeInstanceOf(RetryLater);
      await expect(ex.execute(tenantId, purchaseId, true)).rejects.toBeInstanceOf(RetryLater);
      expect((await purchase(purchaseId)).status).toBe('SUBMITTED');
      expect(await pending(ruleId)).toBe(0n);

      skew += 60_000; // half-open: the trial lookup reaches Kraken, which answers 503
      expect(await ex.execute(tenantId, purchaseId, true)).toEqual({ status: 'FAILED' });
      expect((await purchase(purchaseId)).failure_reason).toMatch(/UNAVAILABLE/);
      expect(await pending(ruleId)).toBe(1000n);
      expect(kr.orders().filter((o) => o.info.cl_ord_id === purchaseId)).toHaveLength(0);
    });
  });
});
