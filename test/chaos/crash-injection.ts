/**
 * Crash injection: many purchases against the Kraken API fake with faults on (503, busy, 429,
 * malformed answers, 502 after the order was made, slow answers) while the workers process (BullMQ
 * on Redis, a separate process) is SIGKILLed at random moments and Redis is emptied once. Then it
 * checks what exactly-once promises: every purchase final, one Kraken order per FILLED purchase,
 * none FAILED with an order, none FAILED for an open breaker alone, holdings equal to the exchange,
 * every audit fact in a chain that verifies. Prints the figures. The workers processes are started
 * ahead (test/chaos/workers.entry.ts) so that a killed one is replaced at once.
 *
 *   npm run chaos -- --purchases 80 --kills 25
 *
 * Needs PostgreSQL and Redis as for `npm test` (TEST_DATABASE_URL / TEST_REDIS_URL).
 */
import 'reflect-metadata';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { gql } from 'graphql-request';
import { Redis } from 'ioredis';
import { loadConfig } from '../../lib/config';
import { configureLogger } from '../../lib/logger';
import { startPlatform, type Platform } from '../../ops/platform';
import { textToUnits } from '../../lib/money';
import { FAKE_KRAKEN_FAULTS, startFakeKraken, type FakeKraken, type FakeKrakenFault } from '../fakes/kraken.server';
import { TEST_REDIS_URL, createTestDatabase, type TestDatabase } from '../helpers/db';
import { client, testEnv } from '../helpers/platform';
import { WORKERS_UP } from './markers';
import { at } from '../helpers/present';

const ROOT = join(__dirname, '..', '..');
const FINAL = new Set(['FILLED', 'PARTIALLY_FILLED', 'FAILED', 'CANCELLED']);

export type ChaosOptions = {
  purchases: number;
  /** SIGKILLs of the workers process (at least; the run keeps killing until every purchase was created). */
  kills: number;
  /** Share of Kraken requests that get a random fault. */
  faultProbability: number;
  slowMs: number;
  /** A workers process killed at a random moment dies this long (uniformly random, ms) after it is up. */
  killAfterMs: [number, number];
  /** Share of kills made the moment Kraken executes an order (before the worker hears back), the rest at random moments. */
  killOnAcceptShare: number;
  /** How long to wait, after the last kill, for every purchase and audit fact to settle. */
  settleTimeoutMs: number;
  /** Empty Redis (every key of the run's prefix) after this many kills; 0 = never. */
  flushRedisAfterKill: number;
  log: (line: string) => void;
};

export const DEFAULT_CHAOS: ChaosOptions = {
  purchases: 80,
  kills: 25,
  faultProbability: 0.15,
  slowMs: 700,
  killAfterMs: [300, 6_000],
  killOnAcceptShare: 0.4,
  settleTimeoutMs: 240_000,
  flushRedisAfterKill: 10,
  log: (line) => process.stdout.write(`${line}\n`),
};

export type ChaosReport = {
  purchases: number;
  kills: number;
  killsOnAccept: number;
  /** Purchases already final when the last kill happened. */
  finalDuringKills: number;
  redisFlushes: number;
  /** requestPurchase calls sent again (same idempotency key) after a transient error. */
  requestRetries: number;
  byStatus: Record<string, number>;
  reconciled: number;
  failedReasons: Record<string, number>;
  krakenOrders: number;
  addOrderRequests: number;
  faults: Record<FakeKrakenFault, number>;
  attemptOutcomes: Record<string, number>;
  holdingsSats: string;
  exchangeSats: string;
  auditFacts: number;
  auditEvents: number;
  auditChainValid: boolean;
  durationMs: number;
  /** Every broken promise, by purchase; empty when the run passed. */
  problems: string[];
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const between = ([lo, hi]: [number, number]): number => lo + Math.floor(Math.random() * (hi - lo + 1));

type PurchaseRow = { id: string; status: string; exchange_order_id: string | null; filled_sats: string; failure_reason: string | null };

export async function runCrashInjection(partial: Partial<ChaosOptions> = {}): Promise<ChaosReport> {
  const o: ChaosOptions = { ...DEFAULT_CHAOS, ...partial };
  const started = Date.now();
  configureLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
  let db: TestDatabase | undefined;
  let kraken: FakeKraken | undefined;
  let platform: Platform | undefined;
  let child: ChildProcess | undefined;
  const spares: ChildProcess[] = [];
  let redis: Redis | undefined;
  let prefix = '';
  try {
    db = await createTestDatabase();
    kraken = await startFakeKraken({ priceAudPerBtc: '150000.00' });
    kraken.setFaults({ probability: o.faultProbability, faults: FAKE_KRAKEN_FAULTS, slowMs: o.slowMs });
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...testEnv(db, {
        redis: true,
        env: {
          LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
          SEED_DEMO: 'false',
          RATE_LIMITS: 'off',
          KRAKEN_API_KEY: kraken.apiKey,
          KRAKEN_API_SECRET: kraken.apiSecret,
          KRAKEN_BASE_URL: kraken.url,
          PURCHASE_LEASE_MS: '4000',
          PURCHASE_STALE_MS: '1000',
          SCHEDULER_INTERVAL_MS: '300',
          EXCHANGE_BREAKER_COOLDOWN_MS: '1500',
        },
      }),
    };
    prefix = env.REDIS_PREFIX!;
    redis = new Redis(TEST_REDIS_URL);
    platform = await startPlatform(loadConfig({ ...env, LOG_LEVEL: 'silent' }), {
      roles: ['tenant', 'treasury', 'market-price', 'compliance', 'gateway'],
      migrate: false,
    });
    const gw = platform.gatewayUrl!;
    o.log(`${((Date.now() - started) / 1000).toFixed(1)} s: platform up`);
    const s = await client(gw).request<{ signUp: { accessToken: string } }>(
      gql`mutation ($i: SignUpInput!) { signUp(input: $i) { accessToken } }`,
      { i: { tenantName: 'Chaos Pty Ltd', email: `chaos-${randomUUID().slice(0, 8)}@x.example`, password: 'Correct-Horse-42-Battery' } },
    );
    const c = client(gw, s.signUp.accessToken);
    await c.request(gql`mutation { updateTreasurySettings(patch: { primaryExchange: "kraken", failoverExchanges: [] }) { primaryExchange } }`);
    // Real exchanges need a verified business (KYB gate, #11): the officer's decision, seeded in treasury's copy.
    await db.owner.em.getConnection().execute(`insert into pool.treasury_kyb_status (tenant_id, status, seq, changed_at) select id, 'VERIFIED', 1, now() from public.tenant on conflict do nothing`);
    const sql = <T>(q: string, params: unknown[] = []): Promise<T[]> => db!.owner.em.getConnection().execute<T[]>(q, params);

    /** A workers process, modules loaded, waiting to start: `go` starts it and resolves once it is up. */
    const standby = (): { process: ChildProcess; go(): Promise<ChildProcess> } => {
      const p = spawn(process.execPath, ['-r', '@swc-node/register', 'test/chaos/workers.entry.ts'], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
      let seen = '';
      const up = new Promise<ChildProcess>((resolve, reject) => {
        p.stdout?.on('data', (d: Buffer) => {
          if (process.env.TEST_LOG_LEVEL) process.stderr.write(d);
          seen = (seen + d.toString()).slice(-4096);
          if (seen.includes(WORKERS_UP)) resolve(p);
        });
        p.stderr?.on('data', (d: Buffer) => void (process.env.TEST_LOG_LEVEL && process.stderr.write(d)));
        p.once('exit', (code, signal) => reject(new Error(`workers exited before they were up (${code ?? signal}): ${seen.slice(-500)}`)));
      });
      up.catch(() => undefined);
      spares.push(p);
      return {
        process: p,
        go: () => {
          p.stdin?.write('go\n');
          return up;
        },
      };
    };
    const kill = async (p: ChildProcess): Promise<void> => {
      if (p.exitCode !== null || p.signalCode !== null) return;
      const gone = new Promise((r) => p.once('exit', r));
      p.kill('SIGKILL');
      await gone;
    };
    let requestRetries = 0;
    /** Like a real client: a failed request is sent again with the same idempotency key (same purchase). */
    const request = async (cents: number): Promise<string> => {
      const k = `chaos-${randomUUID()}`;
      for (let attempt = 1; ; attempt++) {
        try {
          const r = await c.request<{ requestPurchase: { id: string } }>(
            gql`mutation ($a: AudCents!, $k: String!) { requestPurchase(amountAudCents: $a, idempotencyKey: $k) { id } }`,
            { a: String(cents), k },
          );
          return r.requestPurchase.id;
        } catch (err) {
          if (attempt >= 5) throw err;
          requestRetries += 1;
          o.log(`requestPurchase failed (${(err as Error).message.slice(0, 120)}); retrying with the same key`);
          await sleep(500 * attempt);
        }
      }
    };

    // Kill phase: each workers process gets a share of new purchases, then dies at a random moment.
    const ids: string[] = [];
    let kills = 0;
    let killsOnAccept = 0;
    let flushes = 0;
    // Two loaded spares ahead, so a killed process is replaced without waiting for module loading.
    const queue = [standby(), standby()];
    const nextUp = async (): Promise<ChildProcess> => {
      const current = queue.shift()!;
      queue.push(standby());
      return current.go();
    };
    while (kills < o.kills || ids.length < o.purchases) {
      const going = Date.now();
      child = await nextUp();
      o.log(`${((Date.now() - started) / 1000).toFixed(1)} s: workers up ${Date.now() - going} ms after go`);
      const share = Math.ceil((o.purchases - ids.length) / Math.max(1, o.kills - kills));
      const batch = await Promise.all(Array.from({ length: Math.min(share, o.purchases - ids.length) }, () => request(500 + Math.floor(Math.random() * 4_500))));
      ids.push(...batch);
      if (Math.random() < o.killOnAcceptShare) {
        // The window: Kraken has accepted the order and the worker has not recorded it.
        let unsubscribe = (): void => undefined;
        const accepted = await Promise.race([
          new Promise<boolean>((resolve) => (unsubscribe = kraken!.onOrderCreated(() => resolve(true)))),
          sleep(2 * o.killAfterMs[1]).then(() => false),
        ]);
        unsubscribe();
        if (accepted) killsOnAccept += 1;
      } else {
        await sleep(between(o.killAfterMs));
      }
      await kill(child);
      kills += 1;
      if (o.flushRedisAfterKill > 0 && kills === o.flushRedisAfterKill) {
        // Redis restarted empty: every queued and in-flight job is gone.
        const keys = await redis.keys(`${prefix}:*`);
        if (keys.length > 0) await redis.del(...keys);
        flushes += 1;
      }
      const open = await sql<{ n: string }>(`select count(*)::text as n from pool.purchase where status in ('PENDING', 'SUBMITTED')`);
      o.log(`${((Date.now() - started) / 1000).toFixed(1)} s: kill ${kills}: ${ids.length}/${o.purchases} purchases requested, ${at(open, 0).n} not final yet`);
    }

    const [beforeSettle] = await sql<{ n: string }>(`select count(*)::text as n from pool.purchase where status not in ('PENDING', 'SUBMITTED')`);
    if (!beforeSettle) throw new Error('expected beforeSettle to be present');

    // Settle: one last workers process, faults still on, until every purchase and audit fact is done.
    child = await nextUp();
    for (const spare of queue) spare.process.kill('SIGKILL');
    const deadline = Date.now() + o.settleTimeoutMs;
    for (;;) {
      const [r] = await sql<{ open: string; pending: string }>(
        `select (select count(*) from pool.purchase where status in ('PENDING', 'SUBMITTED'))::text as open,
                (select count(*) from pool.outbox o where o.queue = 'audit' and not exists (select 1 from pool.audit_event a where a.id = o.id))::text as pending`,
      );
      if (!r) throw new Error('expected r to be present');
      if (r.open === '0' && r.pending === '0') {
        o.log(`${((Date.now() - started) / 1000).toFixed(1)} s: settled`);
        break;
      }
      if (Date.now() > deadline) {
        o.log(`settle timed out: ${r.open} purchases not final, ${r.pending} audit facts not in the chain`);
        break;
      }
      await sleep(250);
    }

    // The checks.
    const problems: string[] = [];
    const purchases = await sql<PurchaseRow>(`select id, status, exchange_order_id, filled_sats::text, failure_reason from pool.purchase`);
    const orders = kraken.orders();
    const ordersFor = new Map<string, typeof orders>();
    for (const ord of orders) ordersFor.set(ord.info.cl_ord_id ?? '', [...(ordersFor.get(ord.info.cl_ord_id ?? '') ?? []), ord]);
    const known = new Set(purchases.map((p) => p.id));
    for (const p of purchases) {
      const mine = ordersFor.get(p.id) ?? [];
      if (!FINAL.has(p.status)) problems.push(`${p.id}: not final (${p.status})`);
      if (p.status === 'FILLED' || p.status === 'PARTIALLY_FILLED') {
        if (mine.length !== 1) problems.push(`${p.id}: ${p.status} with ${mine.length} Kraken orders`);
        else {
          if (p.exchange_order_id !== at(mine, 0).txid) problems.push(`${p.id}: records order ${p.exchange_order_id}, Kraken holds ${at(mine, 0).txid}`);
          const sats = textToUnits(at(mine, 0).info.vol_exec, 8, 'exact');
          if (BigInt(p.filled_sats) !== sats) problems.push(`${p.id}: ${p.filled_sats} sats recorded, Kraken filled ${sats}`);
        }
      }
      if (p.status === 'FAILED' && mine.length > 0) problems.push(`${p.id}: FAILED with ${mine.length} Kraken order(s) (${p.failure_reason})`);
      // Kraken is configured: the only way to "no route" is an open breaker, which means later, not never.
      if (p.status === 'FAILED' && /^(NO_ROUTE|CIRCUIT_OPEN|OUTCOME_UNKNOWN)\b/.test(p.failure_reason ?? '')) {
        problems.push(`${p.id}: FAILED without a refusal from Kraken (${p.failure_reason})`);
      }
      if (p.status === 'CANCELLED' && mine.length > 0) problems.push(`${p.id}: CANCELLED with a Kraken order`);
    }
    for (const ord of orders) if (!known.has(ord.info.cl_ord_id ?? '')) problems.push(`Kraken order ${ord.txid} belongs to no purchase`);
    const exchangeSats = orders.reduce((sum, ord) => sum + textToUnits(ord.info.vol_exec, 8, 'exact'), 0n);
    const [h] = await sql<{ sats: string }>(`select coalesce(sum(sats), 0)::text as sats from pool.holding where exchange = 'kraken'`);
    if (!h) throw new Error('expected h to be present');
    if (BigInt(h.sats) !== exchangeSats) problems.push(`holdings ${h.sats} sats, Kraken filled ${exchangeSats} sats`);
    const [audit] = await sql<{ facts: string; events: string }>(
      `select (select count(*) from pool.outbox where queue = 'audit')::text as facts, (select count(*) from pool.audit_event)::text as events`,
    );
    if (!audit) throw new Error('expected audit to be present');
    if (audit.facts !== audit.events) problems.push(`${audit.facts} audit facts recorded, ${audit.events} in the chain`);
    const verification = await c.request<{ verifyAuditChain: { valid: boolean } }>(gql`{ verifyAuditChain { valid } }`);
    if (!verification.verifyAuditChain.valid) problems.push('the audit chain does not verify');

    const count = <T>(rows: T[], key: (r: T) => string): Record<string, number> =>
      rows.reduce<Record<string, number>>((acc, r) => ({ ...acc, [key(r)]: (acc[key(r)] ?? 0) + 1 }), {});
    const reconciled = await sql<{ n: string }>(
      `select count(distinct purchase_id)::text as n from pool.purchase_transition where reason like 'reconciled%'`,
    );
    const attempts = await sql<{ k: string; n: string }>(
      `select operation || ':' || outcome as k, count(*)::text as n from pool.exchange_attempt group by 1 order by 1`,
    );
    return {
      purchases: purchases.length,
      kills,
      killsOnAccept,
      finalDuringKills: Number(beforeSettle.n),
      redisFlushes: flushes,
      requestRetries,
      byStatus: count(purchases, (p) => p.status),
      reconciled: Number(at(reconciled, 0).n),
      failedReasons: count(
        purchases.filter((p) => p.status === 'FAILED'),
        (p) => at((p.failure_reason ?? '').split(':'), 0),
      ),
      krakenOrders: orders.length,
      addOrderRequests: kraken.requests().filter((r) => r.path === '/0/private/AddOrder').length,
      faults: kraken.faultCounts(),
      attemptOutcomes: Object.fromEntries(attempts.map((a) => [a.k, Number(a.n)])),
      holdingsSats: h.sats,
      exchangeSats: exchangeSats.toString(),
      auditFacts: Number(audit.facts),
      auditEvents: Number(audit.events),
      auditChainValid: verification.verifyAuditChain.valid,
      durationMs: Date.now() - started,
      problems,
    };
  } finally {
    for (const p of [child, ...spares]) if (p && p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    await platform?.stop();
    await kraken?.close();
    if (redis) {
      const keys = prefix ? await redis.keys(`${prefix}:*`) : [];
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    }
    await db?.drop();
  }
}

export function formatReport(r: ChaosReport): string {
  const kv = (o: Record<string, number>): string =>
    Object.entries(o)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') || 'none';
  return [
    `crash injection: ${r.purchases} purchases, ${r.kills} SIGKILLs of the workers process (${r.killsOnAccept} the moment Kraken executed an order), Redis emptied ${r.redisFlushes}x, ${(r.durationMs / 1000).toFixed(0)} s`,
    `  final before the last kill: ${r.finalDuringKills}; the rest settled afterwards (faults still on); requestPurchase retried ${r.requestRetries}x`,
    `  final states:      ${kv(r.byStatus)} (reconciled with an existing order after a crash or lost answer: ${r.reconciled})`,
    `  FAILED reasons:    ${kv(r.failedReasons)}`,
    `  Kraken:            ${r.krakenOrders} orders from ${r.addOrderRequests} AddOrder requests; faults injected: ${kv(r.faults)}`,
    `  attempts:          ${kv(r.attemptOutcomes)}`,
    `  holdings:          ${r.holdingsSats} sats; Kraken filled ${r.exchangeSats} sats`,
    `  audit:             ${r.auditEvents} of ${r.auditFacts} facts in the chain; chain ${r.auditChainValid ? 'verifies' : 'DOES NOT VERIFY'}`,
    r.problems.length === 0 ? '  PASS: every purchase final, one order per FILLED purchase, none FAILED with an order, holdings = exchange' : `  FAIL (${r.problems.length}):\n    ${r.problems.join('\n    ')}`,
  ].join('\n');
}

function parseArgs(argv: string[]): Partial<ChaosOptions> {
  const out: Partial<ChaosOptions> = {};
  for (let i = 0; i < argv.length; i += 2) {
    const v = Number(argv[i + 1]);
    if (!Number.isFinite(v)) throw new Error(`${argv[i]} needs a number`);
    if (argv[i] === '--purchases') out.purchases = v;
    else if (argv[i] === '--kills') out.kills = v;
    else if (argv[i] === '--fault-probability') out.faultProbability = v;
    else if (argv[i] === '--flush-redis-after-kill') out.flushRedisAfterKill = v;
    else throw new Error(`unknown option ${argv[i]} (--purchases N --kills N --fault-probability P --flush-redis-after-kill N)`);
  }
  return out;
}

if (require.main === module) {
  runCrashInjection(parseArgs(process.argv.slice(2))).then(
    (r) => {
      process.stdout.write(`${formatReport(r)}\n`);
      process.exit(r.problems.length === 0 ? 0 : 1);
    },
    (err: Error) => {
      process.stderr.write(`crash injection could not run: ${err.stack ?? err.message}\n`);
      process.exit(2);
    },
  );
}
