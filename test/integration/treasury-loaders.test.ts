import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { graphql, type GraphQLSchema } from 'graphql';
import { AccessGate, type Principal } from '../../lib/access';
import { openAppOrm } from '../../lib/db/orm';
import { TenantDirectory } from '../../lib/db/tenant-context';
import { configureLogger } from '../../lib/logger';
import { PurchaseService, RuleEngine, TreasuryRuleService, buildTreasurySchema, treasuryEntities } from '../../subgraphs/treasury';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

/**
 * A page of purchases with their rule, transitions, exchange attempts and funding, and an `_entities`
 * call for many purchases or rules: one query per kind, whatever the page size (DataLoader).
 */
describe('treasury resolvers batch per request (real PostgreSQL, application role)', () => {
  let db: TestDatabase;
  let orm: MikroORM;
  let schema: GraphQLSchema;
  const tenantId = randomUUID();
  const ruleIds = [randomUUID(), randomUUID()];
  const purchaseIds = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
  let statements: string[] = [];
  const engine = new RuleEngine({ exchangeMinCents: 500n, manualMaxCents: 10_000_000n });
  const services = { rules: new TreasuryRuleService(), purchases: new PurchaseService(engine) };

  const run = async (source: string, variableValues?: Record<string, unknown>) => {
    const principal: Principal = { kind: 'user', userId: randomUUID(), tenantId, role: 'OWNER', amr: ['pwd'] };
    const r = await graphql({ schema, source, variableValues, contextValue: { principal, gate: new AccessGate(orm, new TenantDirectory(orm)), services } });
    if (r.errors) throw new Error(JSON.stringify(r.errors));
    return r.data;
  };
  const queriesOf = (table: string): number => statements.filter((s) => new RegExp(`\\bfrom\\s+"?(pool"?\\.)?"?${table}"?(\\s|$)`, 'i').test(s)).length;

  beforeAll(async () => {
    configureLogger('silent');
    db = await createTestDatabase();
    const sql = (q: string, p: unknown[] = []) => db.owner.em.getConnection().execute(q, p);
    await sql(`insert into public.tenant (id, name) values (?, 'Loaders Pty Ltd')`, [tenantId]);
    for (const id of ruleIds) {
      await sql(`insert into pool.treasury_rule (tenant_id, id, name, type, percentage_bps) values (?, ?, ?, 'PERCENTAGE_OF_REVENUE', 1000)`, [tenantId, id, `r-${id.slice(0, 6)}`]);
    }
    for (const [i, id] of purchaseIds.entries()) {
      await sql(
        `insert into pool.purchase (tenant_id, id, rule_id, source, status, amount_aud_cents, client_order_id, created_at) values (?, ?, ?, 'RULE', 'FILLED', 1000, ?, now() - (? * interval '1 minute'))`,
        [tenantId, id, ruleIds[i % 2], id, i],
      );
      await sql(`insert into pool.purchase_transition (tenant_id, id, purchase_id, from_status, to_status, at) values (?, ?, ?, null, 'PENDING', now())`, [tenantId, randomUUID(), id]);
      await sql(`insert into pool.exchange_attempt (tenant_id, id, purchase_id, exchange, operation, outcome, at) values (?, ?, ?, 'paper', 'place', 'OK', now())`, [
        tenantId,
        randomUUID(),
        id,
      ]);
    }
    orm = await openAppOrm(db.appUrl, treasuryEntities, 2);
    const conn = orm.em.getConnection();
    const execute = conn.execute.bind(conn);
    jest.spyOn(conn, 'execute').mockImplementation(((...args: Parameters<typeof execute>) => {
      const [query] = args;
      statements.push(typeof query === 'string' ? query : '<query builder>');
      return execute(...args);
    }) as typeof execute);
    schema = await buildTreasurySchema();
  }, 60_000);
  afterAll(async () => {
    await orm?.close(true);
    await db?.drop();
  });
  beforeEach(() => {
    statements = [];
  });

  it('a page of purchases: one query each for rules, transitions, attempts and funding', async () => {
    const data = (await run(`{ purchases(limit: 10) { id rule { id } transitions { toStatus } exchangeAttempts { exchange } fundedBy { exactAudCents } } }`)) as {
      purchases: { id: string; rule: { id: string }; transitions: unknown[]; exchangeAttempts: unknown[] }[];
    };
    expect(data.purchases.map((p) => p.id)).toEqual(purchaseIds);
    expect(data.purchases.map((p) => p.rule.id)).toEqual(purchaseIds.map((_, i) => ruleIds[i % 2]));
    expect(data.purchases.every((p) => p.transitions.length === 1 && p.exchangeAttempts.length === 1)).toBe(true);
    expect(queriesOf('treasury_rule')).toBe(1);
    expect(queriesOf('purchase_transition')).toBe(1);
    expect(queriesOf('exchange_attempt')).toBe(1);
    expect(queriesOf('accrual_entry')).toBe(1);
  });

  it('_entities for many purchases and rules: one query per type', async () => {
    const reps = [...purchaseIds.map((id) => ({ __typename: 'BitcoinPurchase', id })), ...ruleIds.map((id) => ({ __typename: 'TreasuryRule', id }))];
    const data = (await run(`query ($r: [_Any!]!) { _entities(representations: $r) { ... on BitcoinPurchase { id } ... on TreasuryRule { id } } }`, { r: reps })) as {
      _entities: { id: string }[];
    };
    expect(data._entities.map((e) => e.id)).toEqual([...purchaseIds, ...ruleIds]);
    expect(queriesOf('purchase')).toBe(1);
    expect(queriesOf('treasury_rule')).toBe(1);
  });
});
