import { randomUUID } from 'node:crypto';
import { gql, GraphQLClient } from 'graphql-request';
import { currentCorrelationId } from '../../lib/logger';
import { client, startTestPlatform, type TestPlatform } from '../helpers/platform';

/**
 * The SQL a page of purchases costs through the gateway (every subgraph hop, `_entities` included),
 * counted at the PostgreSQL driver: every statement any subgraph sends while serving one request
 * (attributed by the correlation id the gateway forwards). It must not grow with the page.
 */
const PAGE = gql`
  query PurchasesPage($limit: Int!) {
    me {
      tenant {
        name
        purchases(limit: $limit) {
          id
          status
          satoshis
          costAudCents
          fundedBy {
            kind
            paymentEventId
            amountAudCents
          }
          rule {
            id
            name
          }
          currentValueAud
          unrealizedGainAud
        }
      }
    }
  }
`;
const ROOT_PAGE = gql`
  query RootPurchases($limit: Int!) {
    purchases(limit: $limit) {
      id
      fundedBy {
        amountAudCents
      }
      currentValueAud
    }
    holdings {
      sats
    }
    btcPrice(currency: AUD) {
      price
    }
  }
`;

type Page = { me: { tenant: { purchases: { id: string; fundedBy: { amountAudCents: string }[]; rule: { id: string } | null; currentValueAud: string | null }[] } } };
/** The node-postgres client every MikroORM pool uses (the package ships no types here). */
type PgQuery = (this: unknown, ...args: unknown[]) => unknown;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const pgClient = (require('pg') as { Client: { prototype: { query: PgQuery } } }).Client.prototype;

type Statement = { correlationId: string; text: string };

describe('SQL per request does not grow with the page (real platform, through the gateway)', () => {
  let t: TestPlatform;
  let token: string;
  const statements: Statement[] = [];
  const originalQuery = pgClient.query;

  const countFor = async (query: string, limit: number): Promise<{ total: number; texts: string[]; data: unknown }> => {
    const correlationId = `sqlcount-${randomUUID()}`;
    const c = new GraphQLClient(t.gateway, { headers: { authorization: `Bearer ${token}`, 'x-correlation-id': correlationId } });
    const data = await c.request<unknown>(query, { limit });
    const texts = statements.filter((s) => s.correlationId === correlationId).map((s) => s.text);
    return { total: texts.length, texts, data };
  };

  beforeAll(async () => {
    t = await startTestPlatform();
    // Every statement any pool sends, tagged with the request (AsyncLocalStorage) that sent it.
    const patched: PgQuery = function (this: unknown, ...args: unknown[]): unknown {
      const first = args[0];
      const text = typeof first === 'string' ? first : typeof (first as { text?: unknown } | null)?.text === 'string' ? (first as { text: string }).text : '<query>';
      const correlationId = currentCorrelationId();
      if (correlationId?.startsWith('sqlcount-')) statements.push({ correlationId, text });
      return originalQuery.apply(this, args);
    };
    pgClient.query = patched;

    const s = await client(t.gateway).request<{ signUp: { accessToken: string; tenant: { id: string } } }>(
      gql`
        mutation ($i: SignUpInput!) {
          signUp(input: $i) {
            accessToken
            tenant {
              id
            }
          }
        }
      `,
      { i: { tenantName: 'Sql Count Pty Ltd', email: `sql-${randomUUID()}@example.com`, password: 'Correct-Horse-42-Battery' } },
    );
    token = s.signUp.accessToken;
    const tenantId = s.signUp.tenant.id;
    const sql = (q: string, p: unknown[] = []) => t.db.owner.em.getConnection().execute(q, p);
    const ruleIds = [randomUUID(), randomUUID()];
    for (const id of ruleIds) {
      await sql(`insert into pool.treasury_rule (tenant_id, id, name, type, percentage_bps) values (?, ?, ?, 'PERCENTAGE_OF_REVENUE', 1000)`, [tenantId, id, `rule ${id.slice(0, 6)}`]);
    }
    for (let i = 0; i < 60; i++) {
      const id = randomUUID();
      const rule = ruleIds[i % 2];
      await sql(
        `insert into pool.purchase (tenant_id, id, rule_id, source, status, amount_aud_cents, client_order_id, exchange, filled_sats, spent_aud_cents, fee_aud_cents, average_price, created_at)
         values (?, ?, ?, 'RULE', 'FILLED', 10000, ?, 'paper', 10000, 9900, 100, '99000000', now() - (? * interval '1 minute'))`,
        [tenantId, id, rule, id, i],
      );
      // Two payments funded each purchase: fundedBy has rows to read.
      for (let k = 0; k < 2; k++) {
        await sql(
          `insert into pool.accrual_entry (tenant_id, id, rule_id, kind, amount_e4, purchase_id, origin_payment_event_id) values (?, ?, ?, 'PURCHASE', -49500000, ?, ?)`,
          [tenantId, randomUUID(), rule, id, randomUUID()],
        );
      }
    }
  }, 120_000);
  afterAll(async () => {
    pgClient.query = originalQuery;
    await t?.stop();
  });

  it('a page of 50 purchases with fundedBy, rule and currentValueAud costs as many statements as a page of 5', async () => {
    await countFor(PAGE, 1); // warm: the first request also fills per-process caches (credentials, tenant directory)
    const five = await countFor(PAGE, 5);
    const fifty = await countFor(PAGE, 50);
    if (process.env.SQL_COUNT_PRINT) console.log(fifty.texts.join('\n'));
    const page = fifty.data as Page;
    expect(page.me.tenant.purchases).toHaveLength(50);
    expect(page.me.tenant.purchases.every((p) => p.fundedBy.length === 2 && p.rule !== null && p.currentValueAud !== null)).toBe(true);
    expect((five.data as Page).me.tenant.purchases).toHaveLength(5);
    // Something real was counted (the purchases' own select at least), and the same count for both pages.
    expect(five.texts.some((s) => /from\s+"?(pool"?\.)?"?purchase"?\s/i.test(s))).toBe(true);
    expect(fifty.total).toBe(five.total);
  });

  it('the root purchases page with holdings and the price: constant too', async () => {
    await countFor(ROOT_PAGE, 1);
    const five = await countFor(ROOT_PAGE, 5);
    const fifty = await countFor(ROOT_PAGE, 50);
    expect((fifty.data as { purchases: unknown[] }).purchases).toHaveLength(50);
    expect(five.total).toBeGreaterThan(0);
    expect(fifty.total).toBe(five.total);
  });
});
