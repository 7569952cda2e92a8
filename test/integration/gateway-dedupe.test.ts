import { randomUUID } from 'node:crypto';
import { currentCorrelationId } from '../../lib/logger';
import { client, startTestPlatform, type TestPlatform } from '../helpers/platform';

/**
 * The gateway shares identical in-flight subgraph queries of one credential (gateway/edge/subgraph-dedupe.ts).
 * Two tenants hammering the dashboard overview with the very same body at the same moment must each
 * get exactly their own rows, every time; and a response carrying a tenant's data is never public.
 */
const OVERVIEW = `query DedupeOverview {
  me { id email tenant { id name
    treasuryRules { id name }
    purchases { id amountAudCents currentValueAud }
    holdings { sats } } }
  btcPrice(currency: AUD) { price source }
}`;

type Overview = {
  me: { id: string; email: string; tenant: { id: string; name: string; treasuryRules: { id: string; name: string }[]; purchases: { id: string; amountAudCents: string; currentValueAud: string | null }[]; holdings: { sats: string }[] } };
  btcPrice: { price: string; source: string } | null;
};
type Tenant = { token: string; tenantId: string; name: string; email: string; ruleNames: string[]; purchaseIds: string[] };

type PgQuery = (this: unknown, ...args: unknown[]) => unknown;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const pgClient = (require('pg') as { Client: { prototype: { query: PgQuery } } }).Client.prototype;

describe('gateway dedupe: concurrent identical dashboard overviews of two tenants (real platform)', () => {
  let t: TestPlatform;
  const tenants: Tenant[] = [];
  const purchaseSelects: string[] = [];
  const originalQuery = pgClient.query;

  const overview = async (who: Tenant, correlationId: string): Promise<{ status: number; cacheControl: string | null; body: { data?: Overview; errors?: unknown[] } }> => {
    const res = await fetch(t.gateway, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${who.token}`, 'x-correlation-id': correlationId, 'apollo-require-preflight': 'true' },
      body: JSON.stringify({ query: OVERVIEW, operationName: 'DedupeOverview' }),
    });
    return { status: res.status, cacheControl: res.headers.get('cache-control'), body: (await res.json()) as { data?: Overview; errors?: unknown[] } };
  };

  beforeAll(async () => {
    t = await startTestPlatform();
    pgClient.query = function (this: unknown, ...args: unknown[]): unknown {
      const first = args[0];
      const text = typeof first === 'string' ? first : typeof (first as { text?: unknown } | null)?.text === 'string' ? (first as { text: string }).text : '';
      if (currentCorrelationId()?.startsWith('dedupe-') && /from\s+"?(pool"?\.)?"?purchase"?\s/i.test(text)) purchaseSelects.push(text);
      return originalQuery.apply(this, args);
    };
    const sql = (q: string, p: unknown[] = []) => t.db.owner.em.getConnection().execute(q, p);
    for (const [label, count] of [['Alpha', 3], ['Bravo', 5]] as const) {
      const email = `dedupe-${label.toLowerCase()}-${randomUUID()}@example.com`;
      const name = `Dedupe ${label} Pty Ltd`;
      const s = await client(t.gateway).request<{ signUp: { accessToken: string; tenant: { id: string } } }>(
        'mutation ($i: SignUpInput!) { signUp(input: $i) { accessToken tenant { id } } }',
        { i: { tenantName: name, email, password: 'Correct-Horse-42-Battery' } },
      );
      const tenantId = s.signUp.tenant.id;
      const ruleId = randomUUID();
      const ruleName = `${label} rule`;
      await sql(`insert into pool.treasury_rule (tenant_id, id, name, type, percentage_bps) values (?, ?, ?, 'PERCENTAGE_OF_REVENUE', 1000)`, [tenantId, ruleId, ruleName]);
      const purchaseIds: string[] = [];
      for (let i = 0; i < count; i++) {
        const id = randomUUID();
        purchaseIds.push(id);
        await sql(
          `insert into pool.purchase (tenant_id, id, rule_id, source, status, amount_aud_cents, client_order_id, exchange, filled_sats, spent_aud_cents, fee_aud_cents, average_price, created_at)
           values (?, ?, ?, 'RULE', 'FILLED', ?, ?, 'paper', 10000, 9900, 100, '99000000', now() - (? * interval '1 minute'))`,
          [tenantId, id, ruleId, 10_000 + i, id, i],
        );
      }
      tenants.push({ token: s.signUp.accessToken, tenantId, name, email, ruleNames: [ruleName], purchaseIds });
    }
  }, 120_000);
  afterAll(async () => {
    pgClient.query = originalQuery;
    await t?.stop();
  });

  it('each of 2 × 12 simultaneous identical requests gets its own tenant’s data, and identical ones were shared', async () => {
    const [a, b] = tenants;
    if (!a || !b) throw new Error('seed failed');
    const callers = Array.from({ length: 24 }, (_, i) => (i % 2 === 0 ? a : b));
    const answers = await Promise.all(callers.map((who) => overview(who, `dedupe-${randomUUID()}`)));
    answers.forEach((res, i) => {
      const who = callers[i] as Tenant;
      expect(res.status).toBe(200);
      expect(res.body.errors).toBeUndefined();
      const tenant = res.body.data?.me.tenant;
      expect(res.body.data?.me.email).toBe(who.email);
      expect(tenant?.id).toBe(who.tenantId);
      expect(tenant?.name).toBe(who.name);
      expect(tenant?.treasuryRules.map((r) => r.name)).toEqual(who.ruleNames);
      expect(tenant?.purchases.map((p) => p.id).sort()).toEqual([...who.purchaseIds].sort());
      expect(tenant?.purchases.every((p) => p.currentValueAud !== null)).toBe(true);
      // A response with a tenant's rows is never marked cacheable for everyone.
      expect(res.cacheControl ?? '').not.toMatch(/public/);
    });
    // 24 requests, two credentials: the purchases were read far fewer than 24 times.
    expect(purchaseSelects.length).toBeGreaterThan(0);
    expect(purchaseSelects.length).toBeLessThan(24);
  }, 60_000);

  it('a tenant’s answer never reaches another tenant afterwards either (nothing private is kept)', async () => {
    const [a, b] = tenants;
    if (!a || !b) throw new Error('seed failed');
    const first = await overview(a, `dedupe-${randomUUID()}`);
    const second = await overview(b, `dedupe-${randomUUID()}`);
    expect(first.body.data?.me.tenant.id).toBe(a.tenantId);
    expect(second.body.data?.me.tenant.id).toBe(b.tenantId);
  });

  it('the public price alone is answered as public for a second, to anyone', async () => {
    const res = await fetch(t.gateway, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'apollo-require-preflight': 'true' },
      body: JSON.stringify({ query: '{ btcPrice(currency: AUD) { price } }' }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('max-age=1, public');
  });
});
