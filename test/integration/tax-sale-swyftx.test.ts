import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { InProcessBus } from '../../lib/bus';
import { openAppOrm } from '../../lib/db/orm';
import { TenantDirectory } from '../../lib/db/tenant-context';
import { TenantTransactions, type TenantTx } from '../../lib/db/tenant-tx';
import { TAX_DISPOSAL_JOB, TaxDisposalFactV1 } from '../../lib/events/tax-facts';
import { configureLogger } from '../../lib/logger';
import { treasuryEntities } from '../../subgraphs/treasury';
import type { ExchangeAdapter } from '../../subgraphs/treasury/exchanges/exchange.types';
import { PgOrderIdStore } from '../../subgraphs/treasury/exchanges/pg-order-id-store';
import { SwyftxClient } from '../../subgraphs/treasury/exchanges/swyftx.client';
import { PurchaseExecutor } from '../../subgraphs/treasury/purchases/purchase-executor';
import { RuleEngine } from '../../subgraphs/treasury/rules/rule-engine';
import { SaleExecutor } from '../../subgraphs/treasury/sales/sale-executor';
import { requestSale } from '../../subgraphs/treasury/sales/sale-requests';
import { startFakeSwyftx, type FakeSwyftx } from '../fakes/swyftx.server';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { at } from '../helpers/present';

/**
 * A CGT disposal on Swyftx (#10), which has no client order id: a worker sends the MARKET_SELL and
 * dies before it hears back (the response is lost, so not even the order id was linked); the next
 * worker, a new process with only the durable order-id store, adopts the order by its BTC quantity
 * instead of selling again, and the sale settles once with one disposal fact for the tax ledger.
 */
describe('a Swyftx sale that crashes after submit (real PostgreSQL, fake Swyftx)', () => {
  let db: TestDatabase;
  let orm: MikroORM;
  let directory: TenantDirectory;
  let sx: FakeSwyftx;
  const bus = new InProcessBus();
  const engine = new RuleEngine({ exchangeMinCents: 500n, manualMaxCents: 10_000_000n });
  const tenantId = randomUUID();
  const userId = randomUUID();

  const tenants = () => new TenantTransactions(orm, directory, bus);
  const tx = <T>(fn: (tx: TenantTx) => Promise<T>): Promise<T> => tenants().run(tenantId, fn);
  const sql = <T>(q: string, params: unknown[] = []): Promise<T[]> => db.owner.em.getConnection().execute<T[]>(q, params);
  /** A new process: a new client, with only the database-backed order-id store in common. */
  const swyftx = () => new SwyftxClient({ apiKey: sx.apiKey, baseUrl: sx.url, orderIds: new PgOrderIdStore(orm), timeoutMs: 3_000 });
  const opts = (adapter: ExchangeAdapter) => ({ tenants: tenants(), leaseMs: 300, breaker: { failureThreshold: 100, coolDownMs: 1 }, adapters: { swyftx: adapter } });

  beforeAll(async () => {
    configureLogger('silent');
    db = await createTestDatabase();
    sx = await startFakeSwyftx({ priceAudPerBtc: '100000.00', feeBps: 60 });
    await sql(`insert into public.tenant (id, name) values (?, 'Swyftx Sales Pty Ltd')`, [tenantId]);
    orm = await openAppOrm(db.appUrl, treasuryEntities, 4);
    directory = new TenantDirectory(orm);
    await tx(({ em }) => em.execute(`insert into treasury_settings (primary_exchange, failover_exchanges) values ('swyftx', '{}')`));
    // A real exchange: the tenant passed KYB (#11), as treasury's copy of compliance's decision records it.
    await tx(({ em }) => em.execute(`insert into treasury_kyb_status (status, seq, changed_at) values ('VERIFIED', 1, now())`));
    // A 10% rule on a 1,000.00 AUD payment → 100.00 AUD bought on Swyftx → 100,000 sats at 100,000.00.
    const purchaseId = await tx(async (t) => {
      await t.em.execute(`insert into treasury_rule (id, name, type, percentage_bps) values (?, 'ten', 'PERCENTAGE_OF_REVENUE', 1000)`, [randomUUID()]);
      const out = await engine.applyPaymentEvent(t, {
        paymentEventId: randomUUID(),
        provider: 'stripe',
        kind: 'REVENUE',
        amountCents: 100_000n,
        currency: 'AUD',
        providerObjectId: `pi_${randomUUID()}`,
        relatedPaymentId: null,
      });
      return at(out.purchases, 0, 'purchases');
    });
    await new PurchaseExecutor(opts(swyftx())).execute(tenantId, purchaseId, false);
  }, 60_000);
  afterAll(async () => {
    await orm?.close(true);
    await bus.close();
    await sx?.close();
    await db?.drop();
  });

  it('the next worker adopts the lost sell by its BTC quantity and sells nothing more', async () => {
    const [holding] = await sql<{ sats: string }>(`select sats::text from pool.holding where exchange = 'swyftx'`);
    expect(holding?.sats).toBe('100000');
    const { id } = await tx((t) => requestSale(t, { userId, sats: 40_000n, idempotencyKey: 'swyftx-crash-sale-1', at: t.now }));

    // The dying worker: Swyftx takes the order, the connection drops, and the process is gone.
    sx.setMode('drop-after-place');
    const first = swyftx();
    const dying: ExchangeAdapter = {
      name: 'swyftx',
      quote: () => first.quote(),
      health: () => first.health(),
      getOrder: (cid) => first.getOrder(cid),
      placeMarketBuy: () => Promise.reject(new Error('this worker only sells')),
      placeMarketSell: async (cid, sats) => {
        await first.placeMarketSell(cid, sats).catch(() => undefined);
        return new Promise<never>(() => undefined);
      },
    };
    void new SaleExecutor(opts(dying)).execute(tenantId, id, false);
    for (let i = 0; i < 200 && !sx.orders().some((o) => o.side === 'sell'); i++) await new Promise((r) => setTimeout(r, 20));
    expect(sx.orders().filter((o) => o.side === 'sell')).toHaveLength(1);
    const [link] = await sql<{ exchange_order_id: string | null; aud_cents: string; sats: string }>(
      `select exchange_order_id, aud_cents::text, sats::text from public.exchange_order_link where client_order_id like ?`,
      [`%${id}%`],
    );
    // Reserved before the POST (BTC quantity, no AUD), never linked: the response was lost.
    expect(link).toEqual({ exchange_order_id: null, aud_cents: '0', sats: '40000' });

    sx.setMode('normal');
    await new Promise((r) => setTimeout(r, 400)); // its lease lapses
    expect(await new SaleExecutor(opts(swyftx())).execute(tenantId, id, false)).toEqual({ status: 'FILLED', reconciled: true });
    expect(sx.orders().filter((o) => o.side === 'sell')).toHaveLength(1);

    // 40,000 sats at 100,000.00 = 40.00 AUD gross; fee 60 bps = 24 cents.
    const [sale] = await sql<{ status: string; filled_sats: string; proceeds_aud_cents: string; fee_aud_cents: string; exchange: string }>(
      `select status, filled_sats::text, proceeds_aud_cents::text, fee_aud_cents::text, exchange from pool.sale where id = ?`,
      [id],
    );
    expect(sale).toEqual({ status: 'FILLED', filled_sats: '40000', proceeds_aud_cents: '4000', fee_aud_cents: '24', exchange: 'swyftx' });
    const facts = await sql<{ payload: unknown }>(`select payload from pool.outbox where job_name = ? and payload->>'saleId' = ?`, [TAX_DISPOSAL_JOB, id]);
    expect(facts.map((f) => TaxDisposalFactV1.parse(f.payload))).toMatchObject([{ type: 'SALE', sats: '40000', proceedsAudCents: '4000', feeAudCents: '24', exchange: 'swyftx' }]);
    const [after] = await sql<{ sats: string }>(`select sats::text from pool.holding where exchange = 'swyftx'`);
    expect(after?.sats).toBe('60000');
  });

  it('KYB gate (#11): a tenant not VERIFIED cannot sell on a real exchange — FORBIDDEN KYB_NOT_VERIFIED, nothing written', async () => {
    await tx(({ em }) => em.execute(`update treasury_kyb_status set status = 'NEEDS_INFO', seq = seq + 1`));
    try {
      const before = await sql<{ n: number }>(`select count(*)::int as n from pool.sale where tenant_id = ?`, [tenantId]);
      await expect(tx((t) => requestSale(t, { userId: randomUUID(), sats: 1_000n, idempotencyKey: 'swyftx-unverified-sale', at: t.now }))).rejects.toMatchObject({
        code: 'FORBIDDEN',
        extensions: { reason: 'KYB_NOT_VERIFIED' },
      });
      expect(await sql<{ n: number }>(`select count(*)::int as n from pool.sale where tenant_id = ?`, [tenantId])).toEqual(before);
      expect(await sql(`select key from pool.sale_idempotency where key = 'swyftx-unverified-sale'`)).toEqual([]);
    } finally {
      await tx(({ em }) => em.execute(`update treasury_kyb_status set status = 'VERIFIED', seq = seq + 1`));
    }
  });
});
