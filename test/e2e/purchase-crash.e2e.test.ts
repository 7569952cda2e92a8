import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { gql } from 'graphql-request';
import { loadConfig } from '../../lib/config';
import { configureLogger } from '../../lib/logger';
import { startPlatform, type Platform } from '../../ops/platform';
import { startFakeKraken, type FakeKraken } from '../fakes/kraken.server';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { until } from '../helpers/wait';
import { client, testEnv } from '../helpers/platform';

const ROOT = join(__dirname, '..', '..');


/**
 * Exactly once across a crash: the workers process is SIGKILLed after Kraken accepted the order
 * and before the database recorded it. A new workers process reconciles by clientOrderId and
 * finishes the purchase; Kraken holds exactly one order.
 */
describe('a worker killed mid-purchase (separate process, BullMQ on Redis, Kraken API fake)', () => {
  let db: TestDatabase;
  let kraken: FakeKraken;
  let platform: Platform;
  const children: ChildProcess[] = [];
  let env: NodeJS.ProcessEnv;

  const startWorkers = (): ChildProcess => {
    const child = spawn(process.execPath, ['-r', '@swc-node/register', 'ops/start.ts', 'workers'], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const echo = (d: Buffer): void => void (process.env.TEST_LOG_LEVEL && process.stderr.write(d));
    child.stdout?.on('data', echo);
    child.stderr?.on('data', echo);
    children.push(child);
    return child;
  };

  beforeAll(async () => {
    configureLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
    db = await createTestDatabase();
    kraken = await startFakeKraken({ priceAudPerBtc: '150000.00' });
    env = {
      ...process.env,
      ...testEnv(db, {
        redis: true,
        env: {
          LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
          SEED_DEMO: 'false',
          KRAKEN_API_KEY: kraken.apiKey,
          KRAKEN_API_SECRET: kraken.apiSecret,
          KRAKEN_BASE_URL: kraken.url,
          PURCHASE_LEASE_MS: '1500',
          PURCHASE_STALE_MS: '500',
          SCHEDULER_INTERVAL_MS: '200',
        },
      }),
    };
    platform = await startPlatform(loadConfig(env), { roles: ['tenant', 'treasury', 'market-price', 'compliance', 'gateway'], migrate: false });
  }, 60_000);

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await platform?.stop();
    await kraken?.close();
    await db?.drop();
  });

  it('reconciles instead of buying twice, and ends FILLED', async () => {
    const gw = platform.gatewayUrl!;
    const s = await client(gw).request<{ signUp: { accessToken: string } }>(
      gql`mutation ($i: SignUpInput!) { signUp(input: $i) { accessToken } }`,
      { i: { tenantName: 'Crash Test Pty Ltd', email: 'crash@x.example', password: 'Correct-Horse-42-Battery' } },
    );
    const c = client(gw, s.signUp.accessToken);
    await c.request(gql`mutation { updateTreasurySettings(patch: { primaryExchange: "kraken", failoverExchanges: [] }) { primaryExchange } }`);

    kraken.swallowAddOrderResponses(true);
    const first = startWorkers();
    const { requestPurchase } = await c.request<{ requestPurchase: { id: string } }>(
      gql`mutation ($k: String!) { requestPurchase(amountAudCents: "2500", idempotencyKey: $k) { id } }`,
      { k: `crash-${randomUUID()}` },
    );
    // Kraken has executed the order; our worker is still waiting for the answer. Kill it now.
    await until('Kraken to accept the order', async () => (kraken.orders().length === 1 ? true : undefined)).catch(async (err: Error) => {
      const conn = db.owner.em.getConnection();
      const state = {
        purchase: await conn.execute(`select status, exchange, lease_until, failure_reason from pool.purchase`),
        attempts: await conn.execute(`select exchange, operation, outcome, detail from pool.exchange_attempt`),
        settings: await conn.execute(`select * from pool.treasury_settings`),
      };
      throw new Error(`${err.message}; ${JSON.stringify(state)}`);
    });
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const mid = await db.owner.em.getConnection().execute<{ status: string; exchange_order_id: string | null }[]>(
      `select status, exchange_order_id from pool.purchase where id = ?`,
      [requestPurchase.id],
    );
    expect(mid).toEqual([{ status: 'SUBMITTED', exchange_order_id: null }]);

    kraken.swallowAddOrderResponses(false);
    startWorkers();
    const done = await until(
      'the purchase to finish',
      async () => {
        const r = await c.request<{
          purchase: {
            status: string;
            exchange: string;
            exchangeOrderId: string;
            satoshis: string;
            transitions: { toStatus: string; reason: string | null }[];
            exchangeAttempts: { exchange: string; operation: string; outcome: string }[];
          };
        }>(
          gql`query ($id: ID!) { purchase(id: $id) { status exchange exchangeOrderId satoshis transitions { toStatus reason } exchangeAttempts { exchange operation outcome } } }`,
          { id: requestPurchase.id },
        );
        return r.purchase.status === 'FILLED' ? r.purchase : undefined;
      },
      45_000,
    );
    const orders = kraken.orders();
    expect(orders).toHaveLength(1);
    expect(orders[0].info.cl_ord_id).toBe(requestPurchase.id);
    expect(done.exchange).toBe('kraken');
    expect(done.exchangeOrderId).toBe(orders[0].txid);
    // 25.00 AUD at 150,000 AUD/BTC = 16,666 sats (rounded down).
    expect(done.satoshis).toBe('16666');
    expect(done.transitions.map((t) => t.toStatus)).toEqual(['PENDING', 'SUBMITTED', 'FILLED']);
    expect(done.transitions[2].reason).toMatch(/reconciled/);
    expect(done.exchangeAttempts).toContainEqual({ exchange: 'kraken', operation: 'lookup', outcome: 'FOUND_EXISTING' });
    expect(kraken.requests().filter((r) => r.path === '/0/private/AddOrder')).toHaveLength(1);
  }, 90_000);
});
