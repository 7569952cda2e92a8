import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { InProcessBus } from '../../lib/bus';
import { openAppOrm } from '../../lib/db/orm';
import { TenantDirectory } from '../../lib/db/tenant-context';
import { TenantTransactions, type TenantTx } from '../../lib/db/tenant-tx';
import { TAX_ACQUISITION_JOB, TaxAcquisitionFactV1, taxFactJobId } from '../../lib/events/tax-facts';
import { configureLogger } from '../../lib/logger';
import { treasuryEntities } from '../../subgraphs/treasury';
import { ExchangeError, type ExchangeAdapter } from '../../subgraphs/treasury/exchanges/exchange.types';
import { PaperExchange } from '../../subgraphs/treasury/exchanges/paper.exchange';
import { PurchaseExecutor } from '../../subgraphs/treasury/purchases/purchase-executor';
import { RuleEngine } from '../../subgraphs/treasury/rules/rule-engine';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

/**
 * A purchase fill writes its parcel (TaxAcquisitionFactV1) to the `tax` queue through the outbox in
 * the fill's own transaction (real PostgreSQL, the paper exchange): one fact per fill with the
 * contract's job id, none for a purchase that failed, and nothing consumes the queue yet.
 */
describe('tax facts from treasury (real PostgreSQL, paper exchange)', () => {
  let db: TestDatabase;
  let orm: MikroORM;
  let directory: TenantDirectory;
  const bus = new InProcessBus();
  const engine = new RuleEngine({ exchangeMinCents: 500n, manualMaxCents: 10_000_000n });
  const tenantId = randomUUID();
  const paper = new PaperExchange({ priceSource: () => Promise.resolve('100000.00'), feeBps: 50 });

  const tx = <T>(fn: (tx: TenantTx) => Promise<T>): Promise<T> => new TenantTransactions(orm, directory, bus).run(tenantId, fn);
  const sql = <T>(q: string, params: unknown[] = []): Promise<T[]> => db.owner.em.getConnection().execute<T[]>(q, params);
  const executor = (adapters: { paper: ExchangeAdapter }) =>
    new PurchaseExecutor({ tenants: new TenantTransactions(orm, directory, bus), leaseMs: 5_000, breaker: { failureThreshold: 100, coolDownMs: 1 }, adapters });

  /** A 10% rule and a 100.00 AUD payment → a 10.00 AUD purchase. */
  async function rulePurchase(): Promise<string> {
    const ruleId = randomUUID();
    return tx(async (t) => {
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
      const [id] = out.purchases;
      if (!id) throw new Error('the rule made no purchase');
      return id;
    });
  }
  const taxRows = (purchaseId: string) =>
    sql<{ id: string; job_name: string; payload: unknown }>(`select id, job_name, payload from pool.outbox where queue = 'tax' and payload->>'purchaseId' = ?`, [purchaseId]);

  beforeAll(async () => {
    configureLogger('silent');
    db = await createTestDatabase();
    await sql(`insert into public.tenant (id, name) values (?, 'Tax Facts Pty Ltd')`, [tenantId]);
    orm = await openAppOrm(db.appUrl, treasuryEntities, 4);
    directory = new TenantDirectory(orm);
    await tx(({ em }) => em.execute(`insert into treasury_settings (primary_exchange, failover_exchanges) values ('paper', '{}')`));
  }, 60_000);
  afterAll(async () => {
    await orm?.close(true);
    await bus.close();
    await db?.drop();
  });

  it('a fill writes one acquisition fact (cost excluding fee, the fee, the sats) with the contract job id, in the fill transaction', async () => {
    const purchaseId = await rulePurchase();
    expect(await executor({ paper }).execute(tenantId, purchaseId, false)).toMatchObject({ status: 'FILLED' });
    const rows = await taxRows(purchaseId);
    expect(rows).toHaveLength(1);
    const [row] = rows;
    expect(row?.job_name).toBe(TAX_ACQUISITION_JOB);
    expect(row?.id).toBe(taxFactJobId(TAX_ACQUISITION_JOB, purchaseId));
    const fact = TaxAcquisitionFactV1.parse(row?.payload);
    // 10.00 AUD at 100000.00 → 10000 sats; fee 50 bps = 5 cents.
    expect(fact).toMatchObject({ kind: 'acquisition', tenantId, id: purchaseId, purchaseId, exchange: 'paper', sats: '10000', costAudCents: '1000', feeAudCents: '5' });
    const [p] = await sql<{ filled_sats: string; exchange_order_id: string }>(`select filled_sats::text, exchange_order_id from pool.purchase where id = ?`, [purchaseId]);
    expect(fact.exchangeOrderId).toBe(p?.exchange_order_id);
    expect(fact.sats).toBe(p?.filled_sats);

    // A second run of the finished purchase writes no second fact.
    await executor({ paper }).execute(tenantId, purchaseId, false);
    expect(await taxRows(purchaseId)).toHaveLength(1);
  });

  it('a purchase that fails writes no fact', async () => {
    const purchaseId = await rulePurchase();
    const refusing: ExchangeAdapter = {
      name: 'paper',
      quote: () => paper.quote(),
      health: () => paper.health(),
      getOrder: () => Promise.resolve(null),
      placeMarketBuy: () => Promise.reject(new ExchangeError({ exchange: 'paper', kind: 'REJECTED', message: 'insufficient funds' })),
      placeMarketSell: () => Promise.reject(new Error('this test only buys')),
    };
    expect(await executor({ paper: refusing }).execute(tenantId, purchaseId, true)).toMatchObject({ status: 'FAILED' });
    expect(await taxRows(purchaseId)).toHaveLength(0);
  });
});
