import { randomUUID } from 'node:crypto';
import { RedisBus } from '../../lib/bus';
import type { PurchaseUpdatedEvent } from '../../lib/events';
import { configureLogger } from '../../lib/logger';
import { TEST_REDIS_URL, createTestDatabase, type TestDatabase } from '../helpers/db';
import { graphqlRequest, postStripePayment, signUpMerchant, startDeployment, type Deployment, type Merchant, type SeparateRole } from '../helpers/roles';
import { until, waitFor } from '../helpers/wait';

const STOP_WITHIN_MS = 10_000;
/** One Stripe payment of $100 every TICK_MS, and a requestPurchase of $10 every fourth tick: modest, the machine is shared. */
const TICK_MS = 400;
const PAYMENT_CENTS = 10_000;
const MANUAL_CENTS = 1_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A rolling deploy: every role its own process (two gateways), webhooks and purchase requests
 * arriving the whole time, each role restarted in turn (SIGTERM, then a new process on its port).
 * Senders retry the way Stripe does (connection refused, 5xx: again, at the other gateway); a
 * purchase request retries with its idempotency key. Nothing is lost or doubled.
 */
describe('rolling restart under load (separate role processes, Redis + PostgreSQL)', () => {
  let db: TestDatabase;
  let d: Deployment | undefined;
  let bus: RedisBus | undefined;
  let merchant: Merchant;
  const published: PurchaseUpdatedEvent[] = [];

  beforeAll(async () => {
    configureLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
    db = await createTestDatabase();
    // Fills take 150 ms at the paper exchange: purchases are in flight when the workers restart.
    d = await startDeployment(db, { gateways: 2, env: { PAPER_LATENCY_MS: '150', PRICE_TICK_MS: '500' } });
    bus = new RedisBus(TEST_REDIS_URL, String(d.env.REDIS_PREFIX));
    await bus.subscribe('tenant.*.purchase', (_channel, e) => void published.push(e));
    merchant = await signUpMerchant(d.gateways()[0]!, 'Rolling Roasters');
  }, 400_000);
  afterAll(async () => {
    d?.kill();
    await bus?.close();
    await db?.drop();
  });

  const sql = <T>(q: string, params: unknown[] = []): Promise<T[]> => db.owner.em.getConnection().execute<T[]>(q, params);

  /** Retries `attempt` on the gateways in turn until it is accepted (Stripe's retry, compressed to 150 ms). */
  const retrying = async <T>(what: string, attempt: (gateway: string) => Promise<T | 'retry'>): Promise<{ value: T; attempts: number }> => {
    const deadline = Date.now() + 120_000;
    for (let n = 0; ; n++) {
      const gateways = d!.gateways();
      const gw = gateways[n % gateways.length]!;
      try {
        const v = await attempt(gw);
        if (v !== 'retry') return { value: v, attempts: n + 1 };
      } catch {
        // Connection refused or reset mid-restart: like a 5xx, try again.
      }
      if (Date.now() > deadline) throw new Error(`${what} was never accepted`);
      await sleep(150);
    }
  };

  const sendWebhook = (id: string): Promise<{ value: number; attempts: number }> =>
    retrying(`webhook ${id}`, async (gw) => {
      const res = await postStripePayment(gw, merchant, id, PAYMENT_CENTS);
      await res.text();
      if (res.status >= 500 || res.status === 429) return 'retry';
      return res.status;
    });

  const requestPurchase = (key: string): Promise<{ value: string; attempts: number }> =>
    retrying(`purchase ${key}`, async (gw) => {
      try {
        const r = await graphqlRequest<{ requestPurchase: { id: string } }>(
          gw,
          'mutation ($k: String!, $c: AudCents!) { requestPurchase(idempotencyKey: $k, amountAudCents: $c) { id } }',
          { k: key, c: String(MANUAL_CENTS) },
          merchant.token,
        );
        return r.requestPurchase.id;
      } catch {
        return 'retry'; // a subgraph restarting: the gateway answers with an error; the key makes the retry safe
      }
    });

  it('restarts every role one by one and loses no webhook, purchase, job or event', async () => {
    const webhooks: Promise<{ id: string; status: number; attempts: number }>[] = [];
    const manual: Promise<{ key: string; id: string; attempts: number }>[] = [];
    let rolling = true;
    const load = (async () => {
      for (let i = 0; rolling; i++) {
        const id = `evt_roll_${String(i).padStart(4, '0')}`;
        webhooks.push(sendWebhook(id).then((r) => ({ id, status: r.value, attempts: r.attempts })));
        if (i % 4 === 0) {
          const key = `roll-${randomUUID()}`;
          manual.push(requestPurchase(key).then((r) => ({ key, id: r.value, attempts: r.attempts })));
        }
        await sleep(TICK_MS);
      }
    })();

    const order: [SeparateRole, number][] = [
      ['tenant', 0],
      ['treasury', 0],
      ['market-price', 0],
      ['compliance', 0],
      ['workers', 0],
      ['gateway', 0],
      ['gateway', 1],
    ];
    const stops: { role: string; code: number | null; inBound: boolean }[] = [];
    await sleep(2_000);
    for (const [role, instance] of order) {
      const exit = await d!.stop(role, instance);
      stops.push({ role: `${role}#${instance}`, code: exit.code, inBound: exit.ms < STOP_WITHIN_MS });
      await d!.start(role, instance);
      await sleep(1_000);
    }
    rolling = false;
    await load;
    const sent = await Promise.all(webhooks);
    const bought = await Promise.all(manual);

    // Every stop was graceful and bounded.
    expect(stops).toEqual(order.map(([r, i]) => ({ role: `${r}#${i}`, code: 0, inBound: true })));
    // Every webhook was accepted (some only after a retry, while a role was down).
    expect(sent.filter((s) => s.status !== 200)).toEqual([]);
    expect(sent.length).toBeGreaterThan(20);

    // Every accepted webhook is exactly one payment event, processed (no job lost).
    const events = await until(
      'every payment event processed',
      async () => {
        const rows = await sql<{ provider_event_id: string; status: string; n: number }>(
          `select provider_event_id, min(status) as status, count(*)::int as n from pool.payment_event group by provider_event_id order by provider_event_id`,
        );
        return rows.length === sent.length && rows.every((r) => r.status === 'PROCESSED') ? rows : undefined;
      },
      120_000,
    );
    expect(events.map((e) => [e.provider_event_id, e.n])).toEqual(sent.map((s) => [s.id, 1]).sort());

    // Every purchase settles (FILLED at the paper exchange); the rule bought exactly 10% of the revenue, each request once.
    const purchases = await until(
      'every purchase filled',
      async () => {
        const rows = await sql<{ id: string; status: string; source: string; amount_aud_cents: string }>(
          `select id, status, source, amount_aud_cents::text from pool.purchase`,
        );
        return rows.every((r) => r.status === 'FILLED') && rows.length > 0 ? rows : undefined;
      },
      120_000,
    );
    const bySource = (manualSide: boolean): bigint =>
      purchases.filter((p) => bought.some((b) => b.id === p.id) === manualSide).reduce((n, p) => n + BigInt(p.amount_aud_cents), 0n);
    expect(bySource(false)).toBe((BigInt(sent.length) * BigInt(PAYMENT_CENTS)) / 10n);
    expect(new Set(bought.map((b) => b.id)).size).toBe(bought.length);
    expect(bySource(true)).toBe(BigInt(bought.length) * BigInt(MANUAL_CENTS));

    // Every fill was published on tenant.<tid>.purchase (the live event reached a subscriber that stayed up).
    const unpublished = (): string[] => {
      const filled = new Set(published.filter((e) => e.status === 'FILLED').map((e) => e.purchaseId));
      return purchases.filter((p) => !filled.has(p.id)).map((p) => p.id);
    };
    await waitFor(() => unpublished().length === 0, 'a FILLED event for every purchase', 10_000).catch(() => undefined);
    expect(unpublished()).toEqual([]);

    // The audit chain holds every transition and verifies.
    const audit = await until('the audit chain to verify', async () => {
      const r = await graphqlRequest<{ verifyAuditChain: { valid: boolean; eventsChecked: number } }>(
        d!.gateways()[0]!,
        '{ verifyAuditChain { valid eventsChecked } }',
        {},
        merchant.token,
      );
      return r.verifyAuditChain.eventsChecked >= purchases.length * 3 ? r.verifyAuditChain : undefined;
    });
    expect(audit.valid).toBe(true);
    const transitions = await sql<{ n: number }>(`select count(*)::int as n from pool.purchase_transition where to_status = 'FILLED'`);
    expect(transitions[0]?.n).toBe(purchases.length);
  }, 1_200_000);
});
