import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { configureLogger } from '../../lib/logger';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { isListening } from '../helpers/process';
import { postStripePayment, signUpMerchant, startDeployment, type Deployment, type Merchant, type SeparateRole } from '../helpers/roles';
import { until, waitFor } from '../helpers/wait';

/** The bound: SIGTERM stops every role of a deployment (Redis and PostgreSQL set) within 10 seconds. */
const STOP_WITHIN_MS = 10_000;

/**
 * Every role as its own `ops/start.ts <role>` process with REDIS_URL and DATABASE_URL, each holding
 * what keeps a naive server up: idle keep-alive sockets, a live graphql-ws subscription (gateway),
 * jobs in flight (workers). Each stops within the bound, exit code 0, its port closed.
 */
describe('graceful shutdown of each role process (Redis + PostgreSQL)', () => {
  let db: TestDatabase;
  let d: Deployment | undefined;
  let merchant: Merchant;
  let ws: Client | undefined;

  beforeAll(async () => {
    configureLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
    db = await createTestDatabase();
    // Paper fills take 400 ms: purchases are in flight when the workers are told to stop.
    d = await startDeployment(db, { env: { PAPER_LATENCY_MS: '400', PRICE_TICK_MS: '200' } });
    merchant = await signUpMerchant(d.gateways()[0]!, 'Shutdown Cafe');
  }, 400_000);
  afterAll(async () => {
    await ws?.dispose();
    d?.kill();
    await db?.drop();
  });

  const sql = <T>(q: string, params: unknown[] = []): Promise<T[]> => db.owner.em.getConnection().execute<T[]>(q, params);

  /** Opens (and leaves open) a keep-alive connection to the role's port. */
  const keepAlive = async (port: number): Promise<void> => {
    const res = await fetch(`http://127.0.0.1:${port}/api/health`, { headers: { connection: 'keep-alive' } });
    expect(res.status).toBe(200);
    await res.text();
  };

  const stopped = async (role: SeparateRole): Promise<void> => {
    const rp = d!.processes.get(role)!;
    await keepAlive(rp.port);
    const exit = await d!.stop(role);
    const lines = rp.process.lines;
    expect({ role, code: exit.code, signal: exit.signal, inBound: exit.ms < STOP_WITHIN_MS, output: exit.code === 0 ? '' : rp.process.output().slice(-3000) }).toEqual({
      role,
      code: 0,
      signal: null,
      inBound: true,
      output: '',
    });
    expect(lines.some((l) => l.msg === 'stopped')).toBe(true);
    expect(lines.some((l) => l.msg === 'shutdown deadline exceeded')).toBe(false);
    expect(await isListening(rp.port)).toBe(false);
  };

  it('the gateway closes its subscriptions with 1001 Going Away and exits 0 within 10 s', async () => {
    const gw = d!.processes.get('gateway')!;
    const closes: number[] = [];
    const ticks: string[] = [];
    ws = createClient({
      url: gw.url.replace('http', 'ws'),
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      on: { closed: (e) => void closes.push((e as { code: number }).code) },
    });
    ws.subscribe<{ btcPrice: { price: string } }>(
      { query: 'subscription { btcPrice(currency: AUD) { price } }' },
      { next: (v) => void (v.data && ticks.push(v.data.btcPrice.price)), error: () => undefined, complete: () => undefined },
    );
    await waitFor(() => ticks.length > 0, 'a live price tick', 30_000);
    await stopped('gateway');
    await waitFor(() => closes.length > 0, 'the socket to be closed', 5_000);
    expect(closes).toEqual([1001]);
  });

  it('the workers, stopped with purchases in flight, exit 0 within 10 s; the jobs they returned finish after a restart', async () => {
    const tenant = d!.processes.get('tenant')!;
    const ids = Array.from({ length: 6 }, (_, i) => `evt_shutdown_${i}`);
    for (const id of ids) expect((await postStripePayment(tenant.url, merchant, id, 10_000)).status).toBe(200);
    // Stop as soon as the first purchase is at the (slow) exchange.
    await until('a purchase in flight', async () => {
      const [row] = await sql<{ n: number }>(`select count(*)::int as n from pool.purchase where status = 'SUBMITTED'`);
      return row && row.n > 0 ? true : undefined;
    });
    await stopped('workers');
    // Nothing was lost: a new workers process settles every payment event and every purchase.
    await d!.start('workers');
    const settled = await until(
      'every payment event and purchase settled',
      async () => {
        const events = await sql<{ provider_event_id: string; status: string }>(`select provider_event_id, status from pool.payment_event order by provider_event_id`);
        const open = await sql<{ n: number }>(`select count(*)::int as n from pool.purchase where status in ('PENDING', 'SUBMITTED')`);
        return events.length === ids.length && events.every((e) => e.status === 'PROCESSED') && open[0]?.n === 0 ? events : undefined;
      },
      60_000,
    );
    expect(settled.map((e) => e.provider_event_id)).toEqual([...ids].sort());
    // 10% of six $100 payments, bought exactly once: every purchase FILLED, $60.00 in all.
    const bought = await sql<{ status: string; cents: string }>(`select status, sum(amount_aud_cents)::text as cents from pool.purchase group by status`);
    expect(bought).toEqual([{ status: 'FILLED', cents: '6000' }]);
  }, 120_000);

  it.each(['workers', 'tenant', 'treasury', 'market-price', 'compliance'] as const)('%s exits 0 within 10 s', async (role) => {
    await stopped(role);
  }, 30_000);
});
