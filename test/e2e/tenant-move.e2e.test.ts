import { randomUUID } from 'node:crypto';
import Stripe from 'stripe';
import { dedicatedSchemaName } from '../../lib/db/roles';
import { moveTenant, tenantTables } from '../../lib/db/tenant-move';
import { startTestPlatform, type TestPlatform } from '../helpers/platform';
import { until } from '../helpers/wait';
import { present, at } from '../helpers/present';

const STRIPE_SECRET = 'whsec_move_0123456789abcdef';
const PASSWORD = 'Move-Tenant-42-Battery';

type Gql<T> = { data?: T; errors?: { message: string; extensions?: { code?: string } }[] };

/** One tenant with a Stripe integration and a revenue rule, and the traffic it sends. */
type Tenant = { id: string; token: string; hook: string; accepted: Set<string>; failures: string[]; purchases: Set<string> };

describe('moving a tenant between pool and its own schema while it is busy (npm run tenant:isolate / tenant:pool)', () => {
  let t: TestPlatform;
  let a: Tenant;
  let b: Tenant;

  const sql = <T>(q: string, params: unknown[] = []): Promise<T[]> => t.db.owner.em.getConnection().execute<T[]>(q, params);
  const gql = async <T>(query: string, token: string): Promise<Gql<T>> => {
    const res = await fetch(t.gateway, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query }) });
    return (await res.json()) as Gql<T>;
  };

  async function tenant(name: string): Promise<Tenant> {
    const res = await fetch(t.gateway, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query: 'mutation ($i: SignUpInput!) { signUp(input: $i) { accessToken tenant { id } } }',
        variables: { i: { tenantName: name, email: `${randomUUID()}@move.example`, password: PASSWORD } },
      }),
    });
    const s = ((await res.json()) as Gql<{ signUp: { accessToken: string; tenant: { id: string } } }>).data!.signUp;
    await gql(`mutation { createTreasuryRule(input: { name: "10%", type: PERCENTAGE_OF_REVENUE, percentageBps: 1000 }) { id } }`, s.accessToken);
    const c = await gql<{ connectPaymentIntegration: { webhookUrl: string } }>(
      `mutation { connectPaymentIntegration(input: { provider: STRIPE, name: "Stripe", stripeWebhookSecret: "${STRIPE_SECRET}" }) { webhookUrl } }`,
      s.accessToken,
    );
    return { id: s.tenant.id, token: s.accessToken, hook: c.data!.connectPaymentIntegration.webhookUrl, accepted: new Set(), failures: [], purchases: new Set() };
  }

  /** A Stripe delivery, retried on 5xx the way Stripe retries (a move in progress may refuse it once). */
  async function pay(x: Tenant, eventId: string, cents: number): Promise<void> {
    const body = JSON.stringify({
      id: eventId,
      object: 'event',
      created: Math.floor(Date.now() / 1000),
      type: 'payment_intent.succeeded',
      data: { object: { id: `pi_${eventId}`, object: 'payment_intent', amount: cents, amount_received: cents, currency: 'aud', status: 'succeeded' } },
    });
    for (let attempt = 0; attempt < 20; attempt++) {
      const res = await fetch(x.hook, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload: body, secret: STRIPE_SECRET }) },
        body,
      });
      await res.text();
      if (res.status === 200) return void x.accepted.add(eventId);
      if (res.status < 500) return void x.failures.push(`webhook ${eventId}: ${res.status}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    x.failures.push(`webhook ${eventId}: still 5xx`);
  }

  async function buy(x: Tenant, key: string): Promise<void> {
    const r = await gql<{ requestPurchase: { id: string } }>(`mutation { requestPurchase(amountAudCents: "600", idempotencyKey: "${key}") { id } }`, x.token);
    if (r.errors) x.failures.push(`purchase ${key}: ${r.errors.map((e) => `${e.extensions?.code} ${e.message}`).join()}`);
    else x.purchases.add(r.data!.requestPurchase.id);
  }

  async function read(x: Tenant): Promise<void> {
    const r = await gql(`{ purchases { id status } me { tenant { auditEvents { eventType } } } }`, x.token);
    if (r.errors) x.failures.push(`query: ${r.errors.map((e) => e.extensions?.code).join()}`);
  }

  /**
   * Webhooks, purchases and queries for a tenant, concurrently, until stopped (bounded to 400 rounds).
   * Each loop paces itself (25 ms between requests): busy, but not a flood that leaves the workers a
   * backlog of minutes on a loaded CI machine.
   */
  function traffic(x: Tenant, tag: string): { stop: () => Promise<void> } {
    let running = true;
    let i = 0;
    const loop = async (step: (n: number) => Promise<void>): Promise<void> => {
      for (let n = 0; running && n < 400; n++) {
        await step(n);
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    const done = Promise.all([
      loop(() => pay(x, `evt_${tag}_${i++}`, 1000 + i)),
      loop(() => pay(x, `evt_${tag}_${i++}`, 1000 + i)),
      loop((n) => buy(x, `purchase-${tag}-${n}`)),
      loop(() => read(x)),
    ]);
    const handle = {
      stop: async () => {
        running = false;
        await done;
      },
    };
    busy.push(handle);
    return handle;
  }
  const busy: { stop: () => Promise<void> }[] = [];

  /** Waits for the traffic to get somewhere; a request that failed for good fails the test at once, naming it. */
  const progress = (what: string, reached: () => boolean): Promise<true> =>
    until(
      what,
      async () => {
        const failures = [...a.failures, ...b.failures];
        if (failures.length) throw new Error(failures.slice(0, 5).join('; '));
        return reached() ? true : undefined;
      },
      60_000,
    );

  /** Rows of the tenant in each tenant table of a schema (tables from the catalog). */
  async function rowsIn(schema: string, tenantId: string): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    const tables = await tenantTables(t.db.owner.em.fork(), schema);
    for (const table of tables) {
      const [firstRow] = await sql<{ n: number }>(`select count(*)::int as n from "${schema}"."${table}" where tenant_id = ?`, [tenantId]);
      const { n } = present(firstRow, 'the first row');
      if (n > 0) counts[table] = n;
    }
    return counts;
  }

  /**
   * Everything the traffic caused has been processed: payment events settled, purchases filled, the
   * outbox drained. A loaded machine drains the backlog slowly, so this waits as long as the backlog
   * keeps shrinking and fails only when it stops moving for 45 s (stuck work, what the test is for).
   */
  async function settled(x: Tenant, schema: string): Promise<void> {
    const openWork = async (): Promise<{ total: number; what: string }> => {
      const [row] = await sql<{ received: number; open: number; unpublished: number }>(
        `select (select count(*)::int from "${schema}".payment_event where tenant_id = ? and status = 'RECEIVED') as received,
                (select count(*)::int from "${schema}".purchase where tenant_id = ? and status in ('PENDING', 'SUBMITTED')) as open,
                (select count(*)::int from "${schema}".outbox where tenant_id = ? and published_at is null) as unpublished`,
        [x.id, x.id, x.id],
      );
      const { received, open, unpublished } = present(row, 'the counts');
      return { total: received + open + unpublished, what: `${received} payment events RECEIVED, ${open} purchases PENDING/SUBMITTED, ${unpublished} outbox rows unpublished in ${schema}` };
    };
    const stuckAfterMs = 45_000;
    let best = Number.POSITIVE_INFINITY;
    let movedAt = Date.now();
    for (;;) {
      const { total, what } = await openWork();
      if (total === 0) return;
      if (total < best) {
        best = total;
        movedAt = Date.now();
      } else if (Date.now() - movedAt > stuckAfterMs) {
        throw new Error(`the tenant’s work stopped settling for ${stuckAfterMs / 1000} s: ${what}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function verify(x: Tenant): Promise<{ valid: boolean; eventsChecked: number }> {
    const r = await gql<{ verifyAuditChain: { valid: boolean; eventsChecked: number } }>(`{ verifyAuditChain { valid eventsChecked } }`, x.token);
    return r.data!.verifyAuditChain;
  }

  /** What must hold for a tenant after its traffic settled in `schema`. */
  async function expectIntact(x: Tenant, schema: string): Promise<void> {
    expect(x.failures).toEqual([]);
    const events = await sql<{ provider_event_id: string }>(`select provider_event_id from "${schema}".payment_event where tenant_id = ?`, [x.id]);
    expect(events.map((e) => e.provider_event_id).sort()).toEqual([...x.accepted].sort());
    const manual = await sql<{ id: string }>(`select id from "${schema}".purchase where tenant_id = ? and source = 'MANUAL'`, [x.id]);
    expect(manual.map((p) => p.id).sort()).toEqual([...x.purchases].sort());
    // Audit jobs may still be appending: wait until the chain stops growing, then verify all of it.
    const count = async (): Promise<number> =>
      at(await sql<{ n: number }>(`select count(*)::int as n from "${schema}".audit_event where tenant_id = ?`, [x.id]), 0).n;
    let n = -1;
    await until('the audit chain to stop growing', async () => {
      const before = await count();
      await new Promise((r) => setTimeout(r, 500));
      n = await count();
      return n === before ? true : undefined;
    });
    const chain = await verify(x);
    expect(chain.valid).toBe(true);
    // Every event counted (one may have been appended since: the chain is append-only).
    expect(chain.eventsChecked).toBeGreaterThanOrEqual(n);
  }

  beforeAll(async () => {
    t = await startTestPlatform({ redis: true, env: { RATE_LIMITS: 'off' } });
    a = await tenant('Moving Pty Ltd');
    b = await tenant('Staying Pty Ltd');
  }, 120_000);
  afterAll(async () => {
    await Promise.all(busy.map((h) => h.stop()));
    await t?.stop();
  });

  it('isolates a tenant under traffic: every row moves, none is lost or doubled, the chain verifies, the other tenant is untouched; and back to pool', async () => {
    const dedicated = dedicatedSchemaName(a.id);
    const busyA = traffic(a, 'a1');
    const busyB = traffic(b, 'b1');
    await progress('some traffic before the move', () => a.accepted.size >= 10 && a.purchases.size >= 3);

    const report = await moveTenant(t.db.ownerUrl, a.id, 'dedicated', { bus: t.platform.bus });
    expect(report).toMatchObject({ from: 'pool', to: dedicated, changed: true });
    expect(report.moved.audit_event).toBeGreaterThan(0);
    const movedAt = a.accepted.size;
    await progress('traffic after the move', () => a.accepted.size >= movedAt + 10);
    await Promise.all([busyA.stop(), busyB.stop()]);

    await settled(a, dedicated);
    await settled(b, 'pool');
    expect(await rowsIn('pool', a.id)).toEqual({});
    expect(Object.keys(await rowsIn(dedicated, a.id))).toEqual(expect.arrayContaining(['audit_event', 'audit_head', 'payment_event', 'purchase', 'outbox']));
    expect(await sql(`select schema_name, plan from public.tenant where id = ?`, [a.id])).toEqual([{ schema_name: dedicated, plan: 'ISOLATED' }]);
    await expectIntact(a, dedicated);
    await expectIntact(b, 'pool');
    expect(await rowsIn(dedicated, b.id)).toEqual({});

    // Again: a no-op. Then back to the pool, busy again.
    expect(await moveTenant(t.db.ownerUrl, a.id, 'dedicated')).toMatchObject({ changed: false });
    const again = traffic(a, 'a2');
    await progress('traffic before moving back', () => a.accepted.size >= movedAt + 20);
    expect(await moveTenant(t.db.ownerUrl, a.id, 'pool', { bus: t.platform.bus })).toMatchObject({ from: dedicated, to: 'pool', changed: true });
    const backAt = a.accepted.size;
    await progress('traffic after moving back', () => a.accepted.size >= backAt + 10);
    await again.stop();
    await settled(a, 'pool');
    expect(await rowsIn(dedicated, a.id)).toEqual({});
    await expectIntact(a, 'pool');
  }, 600_000);

  it('an unknown tenant is NOT_FOUND and changes nothing', async () => {
    await expect(moveTenant(t.db.ownerUrl, randomUUID(), 'dedicated')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(moveTenant(t.db.ownerUrl, 'not-a-uuid', 'pool')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
