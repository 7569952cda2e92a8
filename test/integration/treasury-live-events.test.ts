import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Scope } from '../../lib/access';
import { InProcessBus, type BusEvent } from '../../lib/bus';
import { openAppOrm } from '../../lib/db/orm';
import { TenantDirectory } from '../../lib/db/tenant-context';
import { TenantTransactions } from '../../lib/db/tenant-tx';
import { configureLogger } from '../../lib/logger';
import { PurchaseService, RuleEngine, TreasuryRuleService, treasuryEntities } from '../../subgraphs/treasury';
import { PurchaseSource } from '../../subgraphs/treasury/purchases/purchase.entity';
import { RuleType } from '../../subgraphs/treasury/rules/rule.entity';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { until } from '../helpers/wait';

/**
 * Live events take their tenant from the transaction that wrote the change, never from an argument:
 * the channel is `tenant.<tx tenant>.<topic>` and the payload's tenantId is the transaction's, whatever
 * the publisher put in the event. A rolled-back transaction publishes nothing.
 */
describe('treasury live events: the tenant comes from the transaction (real PostgreSQL)', () => {
  let db: TestDatabase;
  let orm: MikroORM;
  let tenants: TenantTransactions;
  const bus = new InProcessBus();
  const A = randomUUID();
  const B = randomUUID();
  const heard: { channel: string; event: BusEvent }[] = [];
  const engine = new RuleEngine({ exchangeMinCents: 500n, manualMaxCents: 10_000_000n });
  const scope = (tenantId: string): Scope => ({ userId: randomUUID(), tenantId, role: 'OWNER', actor: 'user', amr: ['pwd'], tx: (fn) => tenants.run(tenantId, fn), read: (fn) => tenants.run(tenantId, fn) });
  const sql = (q: string, p: unknown[] = []) => db.owner.em.getConnection().execute(q, p);
  const settle = () => new Promise((r) => setTimeout(r, 50));

  beforeAll(async () => {
    configureLogger('silent');
    db = await createTestDatabase();
    for (const id of [A, B]) await sql(`insert into public.tenant (id, name) values (?, ?)`, [id, `T ${id.slice(0, 6)} Pty Ltd`]);
    orm = await openAppOrm(db.appUrl, treasuryEntities, 2);
    tenants = new TenantTransactions(orm, new TenantDirectory(orm), bus);
    await bus.subscribe('tenant.*', (channel, event) => heard.push({ channel, event }));
  }, 60_000);
  afterAll(async () => {
    await orm?.close(true);
    await bus.close();
    await db?.drop();
  });
  beforeEach(() => {
    heard.length = 0;
  });

  it('a purchase request and a rule change of tenant A are heard on A’s channels only, with A’s tenantId', async () => {
    const p = await new PurchaseService(engine).request(scope(A), 1_000n, `key-${randomUUID()}`);
    const r = await new TreasuryRuleService().create(scope(A), { name: 'Ten', type: RuleType.PERCENTAGE_OF_REVENUE, percentageBps: 1000, enabled: true });
    await until('both events', async () => (heard.length >= 2 ? true : undefined));
    await settle();
    expect(heard).toEqual([
      { channel: `tenant.${A}.purchase`, event: expect.objectContaining({ __typename: 'PurchaseUpdated', purchaseId: p.id, status: 'PENDING', tenantId: A }) },
      { channel: `tenant.${A}.rule`, event: expect.objectContaining({ __typename: 'TreasuryRuleChanged', id: r.id, change: 'CREATED', tenantId: A }) },
    ]);
  });

  it('an event that names another tenant is still published as the transaction’s tenant', async () => {
    await tenants.run(A, async (tx) => {
      tx.publish('purchase', { __typename: 'PurchaseUpdated', version: 1, purchaseId: randomUUID(), status: 'PENDING', tenantId: B, at: new Date().toISOString() });
    });
    await until('the event', async () => (heard.length >= 1 ? true : undefined));
    await settle();
    expect(heard).toHaveLength(1);
    expect(heard[0]?.channel).toBe(`tenant.${A}.purchase`);
    expect(heard[0]?.event).toMatchObject({ tenantId: A });
    expect(heard.some((h) => h.channel.startsWith(`tenant.${B}.`) || ('tenantId' in h.event && h.event.tenantId === B))).toBe(false);
  });

  it('a rolled-back transaction publishes nothing', async () => {
    await expect(
      tenants.run(B, async (tx) => {
        await engine.createPurchase(tx, { amountCents: 700n, source: PurchaseSource.MANUAL, ruleId: null, requestedBy: null, reason: 'rolled back' });
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    await settle();
    expect(heard).toEqual([]);
    expect(await sql(`select id from pool.purchase where tenant_id = ? and amount_aud_cents = 700`, [B])).toEqual([]);
  });
});
