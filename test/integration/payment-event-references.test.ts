import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { graphql, type GraphQLSchema } from 'graphql';
import { AccessGate, type Principal } from '../../lib/access';
import { openAppOrm } from '../../lib/db/orm';
import { TenantDirectory } from '../../lib/db/tenant-context';
import { configureLogger } from '../../lib/logger';
import { buildTenantSchema, tenantEntities } from '../../subgraphs/tenant';
import { buildTreasurySchema, treasuryEntities } from '../../subgraphs/treasury';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

/**
 * How the gateway resolves PaymentEvent across subgraphs: one `_entities` call per subgraph with a
 * page of representations. Each subgraph must answer it with one query per batch (DataLoader), not
 * one per event, through the gate and under the caller's row-level security.
 */
describe('PaymentEvent references (real PostgreSQL, application role)', () => {
  let db: TestDatabase;
  let orm: MikroORM;
  let tenantSchema: GraphQLSchema;
  let treasurySchema: GraphQLSchema;
  const tenantId = randomUUID();
  const otherTenant = randomUUID();
  const ruleId = randomUUID();
  const purchaseId = randomUUID();
  const events = [randomUUID(), randomUUID(), randomUUID()];
  let statements: string[] = [];

  const ctx = (tenant: string, role: 'VIEWER' | 'OWNER' = 'VIEWER') => {
    const principal: Principal = { kind: 'user', userId: randomUUID(), tenantId: tenant, role, amr: ['pwd'] };
    return { principal, gate: new AccessGate(orm, new TenantDirectory(orm)), services: {} };
  };
  const entities = async (schema: GraphQLSchema, selection: string, representations: Record<string, unknown>[], context: object) => {
    const r = await graphql({
      schema,
      source: `query ($r: [_Any!]!) { _entities(representations: $r) { ... on PaymentEvent { ${selection} } } }`,
      variableValues: { r: representations },
      contextValue: context,
    });
    if (r.errors) throw new Error(JSON.stringify(r.errors));
    return (r.data as { _entities: unknown[] })._entities;
  };

  beforeAll(async () => {
    configureLogger('silent');
    db = await createTestDatabase();
    const sql = (q: string, p: unknown[] = []) => db.owner.em.getConnection().execute(q, p);
    for (const [id, name] of [
      [tenantId, 'Refs Pty Ltd'],
      [otherTenant, 'Other Pty Ltd'],
    ]) {
      await sql(`insert into public.tenant (id, name) values (?, ?)`, [id, name]);
    }
    await sql(`insert into pool.treasury_rule (tenant_id, id, name, type, percentage_bps) values (?, ?, 'Ten', 'PERCENTAGE_OF_REVENUE', 1000)`, [tenantId, ruleId]);
    await sql(
      `insert into pool.purchase (tenant_id, id, rule_id, source, status, amount_aud_cents, client_order_id) values (?, ?, ?, 'RULE', 'FILLED', 2500, ?)`,
      [tenantId, purchaseId, ruleId, `abt-${purchaseId}`],
    );
    for (const [i, id] of events.entries()) {
      await sql(
        `insert into pool.payment_event (tenant_id, id, integration_id, provider, provider_event_id, event_type, kind, amount_cents, currency, status, raw)
         values (?, ?, ?, 'stripe', ?, 'payment_intent.succeeded', 'REVENUE', ?, 'AUD', 'PROCESSED', '{}')`,
        [tenantId, id, randomUUID(), `evt_${i}`, 10_000 + i],
      );
      await sql(
        `insert into pool.accrual_entry (tenant_id, id, rule_id, kind, amount_e4, payment_event_id, origin_payment_event_id) values (?, ?, ?, 'REVENUE', ?, ?, ?)`,
        [tenantId, randomUUID(), ruleId, (10_000 + i) * 1000, id, id],
      );
      // The ledger links a purchase to each payment it consumed through a PURCHASE entry naming that payment.
      if (i < 2) {
        await sql(
          `insert into pool.accrual_entry (tenant_id, id, rule_id, kind, amount_e4, origin_payment_event_id, purchase_id) values (?, ?, ?, 'PURCHASE', ?, ?, ?)`,
          [tenantId, randomUUID(), ruleId, -(10_000 + i) * 1000, id, purchaseId],
        );
      }
    }
    orm = await openAppOrm(db.appUrl, [...tenantEntities, ...treasuryEntities], 2);
    const conn = orm.em.getConnection();
    const execute = conn.execute.bind(conn);
    jest.spyOn(conn, 'execute').mockImplementation(((...args: Parameters<typeof execute>) => {
      const [query] = args;
      statements.push(typeof query === 'string' ? query : '<query builder>');
      return execute(...args);
    }) as typeof execute);
    [tenantSchema, treasurySchema] = await Promise.all([buildTenantSchema(), buildTreasurySchema()]);
  });
  afterAll(async () => {
    await orm?.close(true);
    await db?.drop();
  });
  beforeEach(() => {
    statements = [];
  });
  const queriesOf = (table: string): number => statements.filter((s) => new RegExp(`\\bfrom\\s+"?(pool"?\\.)?"?${table}\\b`, 'i').test(s)).length;

  it('tenant: a page of events in one query, each as stored', async () => {
    const got = await entities(tenantSchema, 'id providerEventId amount status', events.map((id) => ({ __typename: 'PaymentEvent', id })), ctx(tenantId));
    expect(got).toEqual(events.map((id, i) => ({ id, providerEventId: `evt_${i}`, amount: String(10_000 + i), status: 'PROCESSED' })));
    expect(queriesOf('payment_event')).toBe(1);
  });

  it('treasury: accruals and purchases of a page of events in one ledger query and one purchase query', async () => {
    const reps = events.map((id) => ({ __typename: 'PaymentEvent', id, tenantId }));
    const got = (await entities(treasurySchema, 'id accruals { ruleId kind amountAudCents purchaseId } purchases { id status amountAudCents }', reps, ctx(tenantId))) as {
      accruals: unknown[];
      purchases: unknown[];
    }[];
    expect(got.map((e) => e.accruals)).toEqual(
      events.map((_, i) => [{ ruleId, kind: 'REVENUE', amountAudCents: `${(10_000 + i) / 10}`, purchaseId: i < 2 ? purchaseId : null }]),
    );
    expect(got.map((e) => e.purchases)).toEqual([
      [{ id: purchaseId, status: 'FILLED', amountAudCents: '2500' }],
      [{ id: purchaseId, status: 'FILLED', amountAudCents: '2500' }],
      [],
    ]);
    // One batch: the entries it made and the purchases that consumed its shares (two ledger statements, whatever the page size).
    expect(queriesOf('accrual_entry')).toBe(2);
    expect(queriesOf('purchase')).toBe(1);
  });

  it('another tenant’s caller resolves nothing, whichever tenant the representation names', async () => {
    const theirs = ctx(otherTenant, 'OWNER');
    expect(await entities(tenantSchema, 'id', [{ __typename: 'PaymentEvent', id: events[0] }], theirs)).toEqual([null]);
    // Naming the owning tenant: refused by the gate.
    expect(await entities(treasurySchema, 'id', [{ __typename: 'PaymentEvent', id: events[0], tenantId }], theirs)).toEqual([null]);
    // Naming their own tenant: the reference resolves, but row-level security shows none of the owner's ledger.
    const own = (await entities(treasurySchema, 'accruals { id } purchases { id }', [{ __typename: 'PaymentEvent', id: events[0], tenantId: otherTenant }], theirs));
    expect(own).toEqual([{ accruals: [], purchases: [] }]);
    // No tenant at all, or an id that is not one: null, not an error.
    expect(await entities(treasurySchema, 'id', [{ __typename: 'PaymentEvent', id: events[0] }], ctx(tenantId))).toEqual([null]);
    expect(await entities(tenantSchema, 'id', [{ __typename: 'PaymentEvent', id: 'evt_0' }], ctx(tenantId))).toEqual([null]);
  });
});
