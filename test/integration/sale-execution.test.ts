import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { InProcessBus } from '../../lib/bus';
import { openAppOrm } from '../../lib/db/orm';
import { TenantDirectory } from '../../lib/db/tenant-context';
import { TenantTransactions, type TenantTx } from '../../lib/db/tenant-tx';
import type { SaleUpdatedEvent } from '../../lib/events';
import { AppError } from '../../lib/errors';
import { TAX_DISPOSAL_JOB, TaxDisposalFactV1, taxFactJobId } from '../../lib/events/tax-facts';
import { configureLogger } from '../../lib/logger';
import { treasuryEntities } from '../../subgraphs/treasury';
import type { ExchangeAdapter } from '../../subgraphs/treasury/exchanges/exchange.types';
import { PaperExchange } from '../../subgraphs/treasury/exchanges/paper.exchange';
import { PurchaseExecutor } from '../../subgraphs/treasury/purchases/purchase-executor';
import { RuleEngine } from '../../subgraphs/treasury/rules/rule-engine';
import { purchasesProcessor } from '../../subgraphs/treasury/jobs/purchases.processor';
import { SaleExecutor } from '../../subgraphs/treasury/sales/sale-executor';
import { availableSats, requestSale, SALE_EXECUTE_JOB } from '../../subgraphs/treasury/sales/sale-requests';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

/**
 * Sales on the paper exchange against the real PostgreSQL: request → FILLED with proceeds net of the
 * fee, holdings drop, a disposal fact in the settlement transaction; a sale above holdings is refused
 * with INSUFFICIENT_HOLDINGS and writes nothing; a replayed idempotency key returns the same sale; and
 * a worker that dies after the order was placed is followed by one that reconciles, not sells twice.
 */
describe('sale execution (real PostgreSQL, paper exchange)', () => {
  let db: TestDatabase;
  let orm: MikroORM;
  let directory: TenantDirectory;
  const bus = new InProcessBus();
  const engine = new RuleEngine({ exchangeMinCents: 500n, manualMaxCents: 10_000_000n });
  const tenantId = randomUUID();
  const userId = randomUUID();
  const events: SaleUpdatedEvent[] = [];
  const paper = new PaperExchange({ priceSource: () => Promise.resolve('100000.00'), feeBps: 50 });

  const tenants = () => new TenantTransactions(orm, directory, bus);
  const tx = <T>(fn: (tx: TenantTx) => Promise<T>): Promise<T> => tenants().run(tenantId, fn);
  const sql = <T>(q: string, params: unknown[] = []): Promise<T[]> => db.owner.em.getConnection().execute<T[]>(q, params);
  const opts = (adapter: ExchangeAdapter) => ({ tenants: tenants(), leaseMs: 300, breaker: { failureThreshold: 100, coolDownMs: 1 }, adapters: { paper: adapter } });
  const counts = async () =>
    (await sql<{ sales: string; keys: string; outbox: string }>(
      `select (select count(*) from pool.sale)::text as sales, (select count(*) from pool.sale_idempotency)::text as keys,
              (select count(*) from pool.outbox where job_name = 'sale.execute')::text as outbox`,
    ))[0];

  /** A 10% rule, a 100.00 AUD payment → 10.00 AUD bought → 10000 sats at 100000.00. */
  async function buy(): Promise<void> {
    const ruleId = randomUUID();
    const id = await tx(async (t) => {
      await t.em.execute(`insert into treasury_rule (id, name, type, percentage_bps) values (?, ?, 'PERCENTAGE_OF_REVENUE', 1000)`, [ruleId, `rule-${ruleId.slice(0, 6)}`]);
      const out = await engine.applyPaymentEvent(t, {
        paymentEventId: randomUUID(),
        provider: 'stripe',
        kind: 'REVENUE',
        amountCents: 10_000n,
        currency: 'AUD',
        providerObjectId: `pi_${randomUUID()}`,
        relatedPaymentId: null,
      });
      await t.em.execute(`update treasury_rule set enabled = false where id = ?`, [ruleId]);
      return out.purchases[0];
    });
    if (!id) throw new Error('no purchase');
    await new PurchaseExecutor(opts(paper)).execute(tenantId, id, false);
  }
  const sale = async (id: string) =>
    (await sql<{ status: string; filled_sats: string; proceeds_aud_cents: string; fee_aud_cents: string; exchange: string }>(
      `select status, filled_sats::text, proceeds_aud_cents::text, fee_aud_cents::text, exchange from pool.sale where id = ?`,
      [id],
    ))[0];

  beforeAll(async () => {
    configureLogger('silent');
    db = await createTestDatabase();
    await sql(`insert into public.tenant (id, name) values (?, 'Sales Pty Ltd')`, [tenantId]);
    orm = await openAppOrm(db.appUrl, treasuryEntities, 4);
    directory = new TenantDirectory(orm);
    await tx(({ em }) => em.execute(`insert into treasury_settings (primary_exchange, failover_exchanges) values ('paper', '{}')`));
    await bus.subscribe(`tenant.${tenantId}.sale`, (_c, e) => events.push(e));
    await buy();
    await buy();
  }, 60_000);
  afterAll(async () => {
    await orm?.close(true);
    await bus.close();
    await db?.drop();
  });

  it('sells part of the holding → FILLED, proceeds net of fee, holdings drop, one disposal fact, SaleUpdated events', async () => {
    expect(await tx((t) => availableSats(t))).toBe(20_000n);
    const { id, created } = await tx((t) => requestSale(t, { userId, sats: 5_000n, idempotencyKey: 'sell-five-thousand', at: t.now }));
    expect(created).toBe(true);
    // Pending sats already count against holdings.
    expect(await tx((t) => availableSats(t))).toBe(15_000n);
    expect(await new SaleExecutor(opts(paper)).execute(tenantId, id, false)).toEqual({ status: 'FILLED', reconciled: false });
    // 5000 sats at 100000.00 = 5.00 AUD gross; fee 50 bps = 3 cents (rounded up); net 4.97.
    expect(await sale(id)).toEqual({ status: 'FILLED', filled_sats: '5000', proceeds_aud_cents: '500', fee_aud_cents: '3', exchange: 'paper' });
    expect(await tx((t) => availableSats(t))).toBe(15_000n);
    const [holding] = await sql<{ sats: string }>(`select sats::text from pool.holding where exchange = 'paper'`);
    expect(holding?.sats).toBe('15000');
    const facts = await sql<{ id: string; payload: unknown }>(`select id, payload from pool.outbox where job_name = ? and payload->>'saleId' = ?`, [TAX_DISPOSAL_JOB, id]);
    expect(facts).toHaveLength(1);
    expect(facts[0]?.id).toBe(taxFactJobId(TAX_DISPOSAL_JOB, id));
    expect(TaxDisposalFactV1.parse(facts[0]?.payload)).toMatchObject({ saleId: id, sats: '5000', proceedsAudCents: '500', feeAudCents: '3', type: 'SALE' });
    await new Promise((r) => setTimeout(r, 50));
    expect(events.filter((e) => e.saleId === id).map((e) => e.status)).toEqual(['PENDING', 'SUBMITTED', 'FILLED']);
    // The job went to the purchases queue through the outbox with the sale id as its job id.
    const [job] = await sql<{ id: string; queue: string }>(`select id, queue from pool.outbox where job_name = 'sale.execute' and payload->>'saleId' = ?`, [id]);
    expect(job).toEqual({ id, queue: 'purchases' });
  });

  it('the same idempotency key returns the same sale; with other sats it is a CONFLICT; nothing new is written', async () => {
    const first = await tx((t) => requestSale(t, { userId, sats: 1_000n, idempotencyKey: 'replay-key-0001', at: t.now }));
    const before = await counts();
    const again = await tx((t) => requestSale(t, { userId, sats: 1_000n, idempotencyKey: 'replay-key-0001', at: t.now }));
    expect(again).toEqual({ id: first.id, created: false });
    const other = await tx((t) => requestSale(t, { userId, sats: 2_000n, idempotencyKey: 'replay-key-0001', at: t.now })).catch((e: unknown) => e);
    expect(other).toBeInstanceOf(AppError);
    expect((other as AppError).extensions).toMatchObject({ code: 'CONFLICT', reason: 'IDEMPOTENCY_KEY_REUSED' });
    expect(await counts()).toEqual(before);
    await new SaleExecutor(opts(paper)).execute(tenantId, first.id, false);
  });

  it('the purchases processor runs a sale.execute job (payload saleId) on the sale executor', async () => {
    const { id } = await tx((t) => requestSale(t, { userId, sats: 1_000n, idempotencyKey: 'processor-sale-01', at: t.now }));
    const handler = purchasesProcessor(new PurchaseExecutor(opts(paper)), 5, new SaleExecutor(opts(paper)));
    await handler({ id, name: SALE_EXECUTE_JOB, data: { tenantId, saleId: id }, attempt: 1 });
    expect(await sale(id)).toMatchObject({ status: 'FILLED', filled_sats: '1000' });
  });

  it('refuses a sale above holdings with BAD_USER_INPUT INSUFFICIENT_HOLDINGS and writes nothing', async () => {
    const before = await counts();
    const available = await tx((t) => availableSats(t));
    const err = await tx((t) => requestSale(t, { userId, sats: available + 1n, idempotencyKey: 'too-much-0001', at: t.now })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INSUFFICIENT_HOLDINGS' });
    expect(await counts()).toEqual(before);
    const zero = await tx((t) => requestSale(t, { userId, sats: 0n, idempotencyKey: 'zero-sats-0001', at: t.now })).catch((e: unknown) => e);
    expect((zero as AppError).extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(await counts()).toEqual(before);
  });

  it('a worker that dies after the exchange took the sell is followed by one that reconciles and does not sell twice', async () => {
    const { id } = await tx((t) => requestSale(t, { userId, sats: 2_000n, idempotencyKey: 'crash-sale-0001', at: t.now }));
    const dying: ExchangeAdapter = {
      name: 'paper',
      quote: () => paper.quote(),
      health: () => paper.health(),
      getOrder: (cid) => paper.getOrder(cid),
      placeMarketBuy: () => Promise.reject(new Error('this worker only sells')),
      placeMarketSell: async (cid, sats) => {
        await paper.placeMarketSell(cid, sats);
        return new Promise<never>(() => undefined); // the process is gone before it hears back
      },
    };
    const sellsBefore = paper.allOrders().filter((o) => o.side === 'sell').length;
    void new SaleExecutor(opts(dying)).execute(tenantId, id, false);
    for (let i = 0; i < 100 && !(await paper.getOrder(id)); i++) await new Promise((r) => setTimeout(r, 20));
    expect(await sale(id)).toMatchObject({ status: 'SUBMITTED' });
    await new Promise((r) => setTimeout(r, 400)); // its lease lapses
    expect(await new SaleExecutor(opts(paper)).execute(tenantId, id, false)).toEqual({ status: 'FILLED', reconciled: true });
    expect(paper.allOrders().filter((o) => o.side === 'sell')).toHaveLength(sellsBefore + 1);
    expect(await sale(id)).toMatchObject({ status: 'FILLED', filled_sats: '2000' });
    const attempts = await sql<{ outcome: string }>(`select outcome from pool.exchange_attempt where purchase_id = ? order by seq`, [id]);
    expect(attempts.map((a) => a.outcome)).toEqual(['NOT_FOUND', 'IN_DOUBT', 'FOUND_EXISTING']);
  });
});
