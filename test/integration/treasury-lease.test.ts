import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { InProcessBus } from '../../lib/bus';
import { openAppOrm } from '../../lib/db/orm';
import { TenantDirectory } from '../../lib/db/tenant-context';
import { configureLogger } from '../../lib/logger';
import { TenantTransactions, type TenantTx } from '../../lib/db/tenant-tx';
import { ExchangeError, type ExchangeAdapter, type ExchangeOrder } from '../../subgraphs/treasury/exchanges/exchange.types';
import { treasuryEntities } from '../../subgraphs/treasury';
import { PurchaseExecutor, RetryLater } from '../../subgraphs/treasury/purchases/purchase-executor';
import { PurchaseSource } from '../../subgraphs/treasury/purchases/purchase.entity';
import { RuleEngine } from '../../subgraphs/treasury/rules/rule-engine';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { until } from '../helpers/wait';
import { at } from '../helpers/present';

/**
 * The purchase lease is fenced: each claim gets a random owner, and the executor changes a purchase
 * only while it still owns it (compare-and-set on lease_owner). The lease runs on the database's
 * clock only, so a worker whose clock is wrong can neither stretch nor shorten it.
 */
describe('purchase lease: fencing token and the database clock (real PostgreSQL)', () => {
  let db: TestDatabase;
  let orm: MikroORM;
  let directory: TenantDirectory;
  const bus = new InProcessBus();
  const engine = new RuleEngine({ exchangeMinCents: 500n, manualMaxCents: 10_000_000n });
  const tenantId = randomUUID();
  const tx = <T>(fn: (tx: TenantTx) => Promise<T>): Promise<T> => new TenantTransactions(orm, directory, bus).run(tenantId, fn);
  const sql = <T>(q: string, params: unknown[] = []): Promise<T[]> => db.owner.em.getConnection().execute<T[]>(q, params);
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  /** One exchange shared by two workers: idempotent by clientOrderId; `place` may be held at a gate. */
  function fakeExchange() {
    const orders = new Map<string, ExchangeOrder>();
    const fill = (id: string, cents: bigint): ExchangeOrder => ({
      exchange: 'paper',
      clientOrderId: id,
      exchangeOrderId: `ord-${id.slice(0, 8)}`,
      status: 'FILLED',
      requestedAudCents: cents,
      filledSats: 1_000n,
      spentAudCents: cents,
      feeAudCents: 1n,
      averagePrice: '100000.00',
    });
    const worker = (gate?: { entered: boolean; open: Promise<void>; fail?: boolean }): ExchangeAdapter => ({
      name: 'paper',
      quote: () => Promise.resolve({ exchange: 'paper', bidAudPerBtc: '1', askAudPerBtc: '1', at: new Date() } as never),
      health: () => Promise.resolve({ ok: true }),
      getOrder: (id) => Promise.resolve(orders.get(id) ?? null),
      placeMarketSell: () => Promise.reject(new Error('this test only buys')),
      placeMarketBuy: async (id, cents) => {
        if (gate) {
          gate.entered = true;
          await gate.open;
          if (gate.fail) throw new ExchangeError({ exchange: 'paper', kind: 'UNAVAILABLE', message: 'down' });
        }
        const o = orders.get(id) ?? fill(id, cents);
        orders.set(id, o);
        return o;
      },
    });
    return { orders, worker };
  }
  const gate = (fail = false) => {
    let open!: () => void;
    const g = { entered: false, fail, open: new Promise<void>((r) => (open = r)) };
    return { g, open: () => open() };
  };
  const newPurchase = () =>
    tx((t) => engine.createPurchase(t, { amountCents: 700n, source: PurchaseSource.MANUAL, ruleId: null, requestedBy: null, reason: 'test' }));
  const row = async (id: string) =>
    at(
      await sql<{ status: string; lease_until: Date | null; lease_owner: string | null; filled_sats: string }>(
        `select status, lease_until, lease_owner, filled_sats::text from pool.purchase where id = ?`,
        [id],
      ),
      0,
      `purchase ${id}`,
    );

  beforeAll(async () => {
    configureLogger('silent');
    db = await createTestDatabase();
    await sql(`insert into public.tenant (id, name) values (?, 'Lease Pty Ltd')`, [tenantId]);
    orm = await openAppOrm(db.appUrl, treasuryEntities, 4);
    directory = new TenantDirectory(orm);
  }, 60_000);
  afterAll(async () => {
    await orm?.close(true);
    await bus.close();
    await db?.drop();
  });

  const executor = (adapter: ExchangeAdapter, leaseMs: number, now?: () => Date) =>
    new PurchaseExecutor({ tenants: new TenantTransactions(orm, directory, bus), leaseMs, adapters: { paper: adapter }, now });

  it('a worker whose lease expired cannot settle: its late fill changes nothing; the new owner finishes it', async () => {
    const ex = fakeExchange();
    const id = await newPurchase();
    const a = gate();
    const runA = executor(ex.worker(a.g), 300).execute(tenantId, id, false);
    await until('A to reach the exchange', async () => (a.g.entered ? true : undefined));
    await sleep(450); // A's lease lapses on the database's clock
    const b = gate();
    const runB = executor(ex.worker(b.g), 60_000).execute(tenantId, id, false);
    await until('B to reach the exchange', async () => (b.g.entered ? true : undefined));
    const owned = await row(id);
    expect(owned.status).toBe('SUBMITTED');

    a.open(); // A hears back late and tries to settle
    await expect(runA).rejects.toBeInstanceOf(RetryLater);
    const afterA = await row(id);
    expect(afterA.status).toBe('SUBMITTED');
    expect(afterA.filled_sats).toBe('0');
    expect(afterA.lease_owner).toBe(owned.lease_owner);
    expect(afterA.lease_until).toEqual(owned.lease_until);

    b.open();
    expect((await runB).status).toBe('FILLED');
    expect(await row(id)).toMatchObject({ status: 'FILLED', filled_sats: '1000', lease_owner: null, lease_until: null });
    const transitions = await sql<{ to_status: string }>(`select to_status from pool.purchase_transition where purchase_id = ? order by at, to_status`, [id]);
    expect(transitions.map((t) => t.to_status).filter((s) => s === 'FILLED')).toHaveLength(1);
    expect(ex.orders.size).toBe(1);
  });

  it('a worker whose lease expired cannot release the new owner’s lease', async () => {
    const ex = fakeExchange();
    const id = await newPurchase();
    const a = gate(true);
    const runA = executor(ex.worker(a.g), 300).execute(tenantId, id, false);
    await until('A to reach the exchange', async () => (a.g.entered ? true : undefined));
    await sleep(450);
    const b = gate();
    const runB = executor(ex.worker(b.g), 60_000).execute(tenantId, id, false);
    await until('B to reach the exchange', async () => (b.g.entered ? true : undefined));
    const owned = await row(id);
    expect(owned.lease_until).not.toBeNull();

    a.open(); // A's exchange call fails: it would release the lease and retry
    await expect(runA).rejects.toBeInstanceOf(RetryLater);
    const afterA = await row(id);
    expect(afterA.lease_until).toEqual(owned.lease_until);
    expect(afterA.lease_owner).toBe(owned.lease_owner);

    b.open();
    expect((await runB).status).toBe('FILLED');
  });

  it.each([
    ['an hour fast', 3_600_000],
    ['an hour slow', -3_600_000],
  ])('a worker clock %s neither extends nor shortens the lease: it ends leaseMs after the database’s now', async (_what, skewMs) => {
    const ex = fakeExchange();
    const id = await newPurchase();
    const a = gate();
    const run = executor(ex.worker(a.g), 10_000, () => new Date(Date.now() + skewMs)).execute(tenantId, id, false);
    await until('the worker to reach the exchange', async () => (a.g.entered ? true : undefined));
    const lease = at(await sql<{ left_ms: string }>(
      `select (extract(epoch from lease_until - now()) * 1000)::bigint::text as left_ms from pool.purchase where id = ?`,
      [id],
    ), 0, 'lease');
    expect(Number(lease.left_ms)).toBeGreaterThan(5_000);
    expect(Number(lease.left_ms)).toBeLessThanOrEqual(10_000);
    a.open();
    expect((await run).status).toBe('FILLED');
  });
});
