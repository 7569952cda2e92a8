/**
 * Tenant scale: one database grown 1k → 10k → 100k pooled tenants (each a clone, by set-based SQL as
 * the owner, of a real signed-up tenant: its tenant, user and membership rows, rule, integration,
 * payment events, purchases, published outbox rows, holdings, ledger and audit head), and at each size:
 *   overview   — the dashboard overview through our gateway (as bench:query sends it), from a few
 *                target tenants signed up through the API: p50/p95/p99 of a fixed number of requests;
 *   ingest     — Stripe webhooks to a target tenant's own endpoint: events/s and p99;
 *   relay      — one outbox relay pass (relay role) with pending rows in a few tenants;
 *   scheduler  — one treasury scheduler pass, one withdrawal scheduler pass, one outbound-webhook sweep;
 *   migrate    — re-running the migrations (idempotent) on the seeded database.
 * A per-tenant loop's pass is cut off after BENCH_PASS_TIMEOUT_S: then the tenants it visited (tenant
 * transactions opened) and its ms per tenant are what it reports, marked "(cut off)".
 * Every figure is printed with its ratio to the first (smallest) size of the same run.
 *
 * The load is sent from this process (keep-alive fetch, BENCH_CONCURRENCY in a closed loop): the
 * figures are compared across sizes of one run, not with other benches.
 *
 * Run: npm run bench:tenants
 * Env: BENCH_TENANTS (1000,10000,100000), BENCH_REQUESTS (300 overview requests per size),
 *      BENCH_EVENTS (600 webhooks per size), BENCH_CONCURRENCY (4), BENCH_PAYMENTS (20 per target tenant),
 *      BENCH_PASS_TIMEOUT_S (45).
 */
import 'reflect-metadata';
import Stripe from 'stripe';
import type { MikroORM } from '@mikro-orm/postgresql';
import { InProcessBus } from '../../lib/bus';
import { migrate } from '../../lib/db/migrate';
import { openAppOrm } from '../../lib/db/orm';
import { TenantDirectory } from '../../lib/db/tenant-context';
import { TenantTransactions, type TenantTx, type TenantTxOptions } from '../../lib/db/tenant-tx';
import { OutboxRelay } from '../../lib/outbox';
import { InProcessQueue } from '../../lib/queue';
import { sweepWebhookDeliveries } from '../../subgraphs/tenant/endpoints/webhook-sweeper';
import { TreasuryScheduler } from '../../subgraphs/treasury/jobs/scheduler';
import { WithdrawalScheduler } from '../../subgraphs/treasury/withdrawals/scheduler';
import { signUpMerchant, type Merchant } from '../helpers/roles';
import { startTestPlatform } from '../helpers/platform';
import { at, present } from '../helpers/present';
import { until } from '../helpers/wait';
import { paymentsToPurchases, pct } from './harness';

const SIZES = (process.env.BENCH_TENANTS ?? '1000,10000,100000').split(',').map((s) => Number(s.trim()));
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 300);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 600);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4);
const PAYMENTS = Number(process.env.BENCH_PAYMENTS ?? 20);
const TARGETS = 3;
/** Tenants given pending outbox rows before the relay pass, and how many each. */
const RELAY_TENANTS = 5;
const RELAY_ROWS = 20;
/** A per-tenant loop's pass is cut off after this long: the tenants it visited and ms per tenant are reported instead. */
const PASS_TIMEOUT_MS = Number(process.env.BENCH_PASS_TIMEOUT_S ?? 45) * 1000;

/** The tenant transactions the loops run through, counting how many each pass opens; past `deadline` each refuses. */
class CountingTenants extends TenantTransactions {
  visits = 0;
  deadline = Number.POSITIVE_INFINITY;
  override run<T>(tenantId: string, fn: (tx: TenantTx) => Promise<T>, opts?: TenantTxOptions): Promise<T> {
    if (Date.now() > this.deadline) return Promise.reject(new Error('bench: pass cut off'));
    this.visits++;
    return super.run(tenantId, fn, opts);
  }
}

const PURCHASE_ROW = `id status source amountAudCents satoshis costAudCents spentAudCents feeAudCents averagePrice exchange
  failureReason currentValueAud unrealizedGainAud ruleId createdAt updatedAt`;

/** The dashboard overview as bench:query sends it. */
const OVERVIEW = `query BenchOverview {
  me { id email tenant { id name
    treasuryRules { id name type enabled percentageBps minOrderAudCents version }
    purchases { ${PURCHASE_ROW} }
    holdings { exchange sats costBaseAudCents feesAudCents purchases averagePrice updatedAt } } }
  btcPrice(currency: AUD) { price source at }
}`;

type Figures = Record<string, number>;

/** `count` calls of `one` from `concurrency` loops; ascending latencies (ms) and the elapsed seconds. */
async function closedLoop(count: number, concurrency: number, one: (i: number) => Promise<void>): Promise<{ latencies: number[]; seconds: number }> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        const t0 = performance.now();
        await one(i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return { latencies: latencies.sort((a, b) => a - b), seconds: (performance.now() - started) / 1000 };
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** A signed-up tenant with `payments` payments turned into filled purchases. */
async function seedMerchant(gateway: string, name: string, payments: number): Promise<Merchant> {
  const m = await signUpMerchant(gateway, name);
  await paymentsToPurchases(gateway, m, name, payments);
  return m;
}

type Column = { name: string };

/** The tenant tables of `pool` (not partitions) and their insertable columns. */
async function poolTables(owner: MikroORM): Promise<Map<string, Column[]>> {
  const rows = await owner.em.getConnection().execute<{ table: string; column: string }[]>(
    `select c.relname as "table", a.attname as "column"
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
       join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped and a.attgenerated = ''
      where n.nspname = 'pool' and c.relkind in ('r', 'p') and not c.relispartition
        and exists (select 1 from pg_attribute t where t.attrelid = c.oid and t.attname = 'tenant_id')
      order by c.relname, a.attnum`,
  );
  const out = new Map<string, Column[]>();
  for (const r of rows) out.set(r.table, [...(out.get(r.table) ?? []), { name: r.column }]);
  return out;
}

/**
 * Tenants [from, to) as clones of `template`, in one owner transaction without triggers (the rows are
 * copies of rows the app wrote, so the checks they would run have run): public tenant, app_user and
 * membership rows, then every pool table's rows of the template under the new tenant id.
 */
async function cloneTenants(owner: MikroORM, template: string, from: number, to: number): Promise<void> {
  const tables = await poolTables(owner);
  const q = (c: string): string => `"${c}"`;
  await owner.em.fork().transactional(async (em) => {
    const x = (sql: string, params: unknown[] = []): Promise<unknown> => em.getConnection().execute(sql, params, 'run', em.getTransactionContext());
    await x(`set local session_replication_role = replica`);
    await x(`create temp table bench_new on commit drop as select gen_random_uuid() as id, g as n from generate_series(?::int, ?::int) g`, [from, to - 1]);
    await x(
      `insert into public.tenant (id, name, plan, schema_name, timezone, created_at, require_mfa_for_admins)
       select n.id, 'Scale ' || n.n, t.plan, t.schema_name, t.timezone, t.created_at, t.require_mfa_for_admins
         from public.tenant t, bench_new n where t.id = ?`,
      [template],
    );
    await x(
      `insert into public.app_user (id, email, password_hash, created_at)
       select n.id, 'scale' || n.n || '@x.example', u.password_hash, u.created_at
         from public.app_user u join public.membership m on m.user_id = u.id and m.tenant_id = ?, bench_new n`,
      [template],
    );
    await x(
      `insert into public.membership (tenant_id, user_id, role, created_at)
       select n.id, n.id, m.role, m.created_at from public.membership m, bench_new n where m.tenant_id = ?`,
      [template],
    );
    for (const [table, cols] of tables) {
      const list = cols.map((c) => q(c.name)).join(', ');
      const values = cols.map((c) => (c.name === 'tenant_id' ? 'n.id' : `t.${q(c.name)}`)).join(', ');
      await x(`insert into pool.${q(table)} (${list}) select ${values} from pool.${q(table)} t, bench_new n where t.tenant_id = ?`, [template]);
    }
  });
  await owner.em.getConnection().execute(`analyze`);
}

/** Pending outbox rows (copies of the template's audit facts, unpublished) in `tenants` tenants other than the targets. */
async function pendingOutbox(owner: MikroORM, template: string, tenants: number, rows: number): Promise<number> {
  const cols = at([...(await poolTables(owner))].filter(([t]) => t === 'outbox'), 0, 'pool.outbox')[1].map((c) => c.name);
  const list = cols.map((c) => `"${c}"`).join(', ');
  const values = cols
    .map((c) => (c === 'tenant_id' ? 'n.id' : c === 'id' ? 'gen_random_uuid()' : c === 'published_at' || c === 'appended_at' ? 'null' : c === 'created_at' ? 'now()' : `o."${c}"`))
    .join(', ');
  const res = await owner.em.getConnection().execute<{ n: string }[]>(
    `with n as (select id from public.tenant where name like 'Scale %' order by id limit ?),
          src as (select * from pool.outbox where tenant_id = ? order by created_at limit ?),
          ins as (insert into pool.outbox (${list}) select ${values} from src o, n returning 1)
     select count(*)::text as n from ins`,
    [tenants, template, rows],
  );
  return Number(at(res, 0).n);
}

async function main(): Promise<void> {
  const started = Date.now();
  const tp = await startTestPlatform({
    // The platform's own periodic passes stay out of the measured windows: the bench runs them itself.
    env: { RATE_LIMITS: 'off', SCHEDULER_INTERVAL_MS: String(24 * 3600_000), OUTBOX_POLL_MS: String(3600_000) },
  });
  const conn = tp.db.owner.em.getConnection();
  const app = await openAppOrm(tp.db.appUrl, [], 4);
  const relayOrm = await openAppOrm(tp.db.relayUrl, [], 1);
  const queue = new InProcessQueue();
  const bus = new InProcessBus();
  const tenants = new CountingTenants(app, new TenantDirectory(app));
  const relay = new OutboxRelay(relayOrm, queue, bus, 3600_000);
  const scheduler = new TreasuryScheduler({ orm: app, tenants, queue, intervalMs: 3600_000, staleMs: 60_000 });
  const withdrawals = new WithdrawalScheduler({ orm: app, tenants, queue, intervalMs: 3600_000, staleMs: 60_000 });
  try {
    console.log(`seeding: a template tenant (3 payments) and ${TARGETS} target tenants (${PAYMENTS} payments each) through the API …`);
    const template = await seedMerchant(tp.gateway, 'ScaleTemplate', 3);
    const targets: Merchant[] = [];
    for (let i = 0; i < TARGETS; i++) targets.push(await seedMerchant(tp.gateway, `ScaleTarget${i}`, PAYMENTS));
    const perTenant = await conn.execute<{ n: string }[]>(
      `select (select count(*) from pool.purchase where tenant_id = ?) + (select count(*) from pool.payment_event where tenant_id = ?)
              + (select count(*) from pool.outbox where tenant_id = ?) as n`,
      [template.tenantId, template.tenantId, template.tenantId],
    );
    console.log(`template tenant: ${at(perTenant, 0).n} purchase + payment_event + outbox rows`);
    const hookBase = present(tp.platform.urls.tenant, 'tenant url').replace(/\/graphql$/, '');
    const overviewBody = JSON.stringify({ query: OVERVIEW, operationName: 'BenchOverview' });
    const sizes: { size: number; f: Figures }[] = [];
    let have = 1 + TARGETS;
    let ingestRound = 0;

    for (const size of SIZES) {
      const seedMs = await timed(() => cloneTenants(tp.db.owner, template.tenantId, have, size));
      have = size;
      const count = Number(at(await conn.execute<{ n: string }[]>(`select count(*) as n from public.tenant`), 0).n);
      const dbBytes = Number(at(await conn.execute<{ n: string }[]>(`select pg_database_size(current_database()) as n`), 0).n);
      console.log(`\n${count} tenants (seeded in ${(seedMs / 1000).toFixed(1)} s; database ${(dbBytes / 2 ** 20).toFixed(0)} MiB)`);
      const f: Figures = {};

      // Overview: warm, then REQUESTS requests spread over the target tenants.
      const ask = async (i: number): Promise<void> => {
        const res = await fetch(tp.gateway, {
          method: 'POST',
          body: overviewBody,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${at(targets, i % TARGETS).token}`, 'apollo-require-preflight': 'true' },
        });
        const text = await res.text();
        if (res.status !== 200 || text.includes('"errors"')) throw new Error(`overview: ${res.status} ${text.slice(0, 300)}`);
      };
      await closedLoop(30, CONCURRENCY, ask);
      const ov = await closedLoop(REQUESTS, CONCURRENCY, ask);
      f['overview p50 ms'] = pct(ov.latencies, 50);
      f['overview p95 ms'] = pct(ov.latencies, 95);
      f['overview p99 ms'] = pct(ov.latencies, 99);

      // Ingest: EVENTS distinct Stripe events to the first target's own endpoint, signed up front.
      const m = at(targets, 0);
      const round = ingestRound++;
      const signed = Array.from({ length: EVENTS }, (_, i) => {
        const body = JSON.stringify({
          id: `evt_scale_${round}_${i}`,
          object: 'event',
          created: Math.floor(Date.now() / 1000),
          type: 'payment_intent.succeeded',
          data: { object: { id: `pi_scale_${round}_${i}`, object: 'payment_intent', amount: 1000 + i, amount_received: 1000 + i, currency: 'aud', status: 'succeeded' } },
        });
        return { body, signature: Stripe.webhooks.generateTestHeaderString({ payload: body, secret: m.stripeSecret }) };
      });
      const ing = await closedLoop(EVENTS, CONCURRENCY, async (i) => {
        const e = at(signed, i);
        const res = await fetch(`${hookBase}${m.stripePath}`, { method: 'POST', body: e.body, headers: { 'content-type': 'application/json', 'stripe-signature': e.signature } });
        await res.text();
        if (!res.ok) throw new Error(`webhook: ${res.status}`);
      });
      f['ingest events/s'] = EVENTS / ing.seconds;
      f['ingest p99 ms'] = pct(ing.latencies, 99);
      // Let the events' processing (purchases) finish before the passes are timed.
      await until(
        'ingested events processed',
        async () => {
          const r = await conn.execute<{ n: string }[]>(`select count(*) as n from pool.payment_event where tenant_id = ? and status = 'RECEIVED'`, [m.tenantId]);
          return Number(at(r, 0).n) === 0 ? true : undefined;
        },
        300_000,
      );

      // One relay pass with pending rows in a few tenants.
      await relay.drain();
      const pending = await pendingOutbox(tp.db.owner, template.tenantId, RELAY_TENANTS, RELAY_ROWS);
      let relayed = 0;
      f['relay pass ms'] = await timed(async () => {
        relayed = await relay.drain();
      });
      // The platform's own relay (kicked by the app's writes) may take some of them first.
      f['relay pass rows'] = relayed;
      if (relayed < pending) console.log(`  relay pass enqueued ${relayed} of ${pending} pending rows (the platform's relay took the rest)`);
      f['relay idle pass ms'] = await timed(() => relay.drain());

      f['migrate (re-run) ms'] = await timed(() => migrate(tp.db.ownerUrl, tp.db.rolePassword));

      /** One pass of a per-tenant loop: its time and transactions; cut off after PASS_TIMEOUT_MS. */
      const loopPass = async (name: string, pass: () => Promise<unknown>): Promise<void> => {
        tenants.visits = 0;
        tenants.deadline = Date.now() + PASS_TIMEOUT_MS;
        let cut = false;
        const ms = await timed(() => pass().catch((err: Error) => (cut = err.message.includes('cut off'))));
        cut ||= Date.now() > tenants.deadline;
        tenants.deadline = Number.POSITIVE_INFINITY;
        f[`${name} ms`] = ms;
        f[`${name} tenant txs`] = tenants.visits;
        f[`${name} ms/tenant tx`] = ms / Math.max(1, tenants.visits);
        // A cut-off pass: its ms is a lower bound; the full pass at this rate would take this long.
        if (cut) f[`${name} ms (projected, cut off)`] = (ms / Math.max(1, tenants.visits)) * count;
        if (cut) console.log(`  ${name}: cut off after ${PASS_TIMEOUT_MS / 1000} s having visited ${tenants.visits} of ${count} tenants`);
      };
      await loopPass('treasury scheduler pass', () => scheduler.tick());
      await loopPass('withdrawal scheduler pass', () => withdrawals.tick());
      await loopPass('webhook sweep', () => sweepWebhookDeliveries(app, tenants, queue));

      for (const [k, v] of Object.entries(f)) console.log(`  ${k.padEnd(36)} ${v.toFixed(1).padStart(10)}`);
      sizes.push({ size: count, f });
    }

    const base = at(sizes, 0);
    console.log(`\nTenant scale — ratios to ${base.size} tenants (same run; Node ${process.versions.node})`);
    console.log(`${'figure'.padEnd(36)} ${sizes.map((s) => String(s.size).padStart(10)).join(' ')}  ${sizes.slice(1).map((s) => `${s.size}/${base.size}`.padStart(12)).join(' ')}`);
    const keys = [...new Set(sizes.flatMap((s) => Object.keys(s.f)))];
    const cell = (v: number | undefined): string => (v === undefined ? '—' : v.toFixed(1)).padStart(10);
    for (const k of keys) {
      const b = base.f[k];
      console.log(
        `${k.padEnd(36)} ${sizes.map((s) => cell(s.f[k])).join(' ')}  ${sizes
          .slice(1)
          .map((s) => {
            const v = s.f[k];
            return (b === undefined || v === undefined ? '—' : `${(v / b).toFixed(2)}×`).padStart(12);
          })
          .join(' ')}`,
      );
    }
    console.log(`\n(${((Date.now() - started) / 1000).toFixed(0)} s in all)`);
  } finally {
    await scheduler.stop().catch(() => undefined);
    await withdrawals.stop().catch(() => undefined);
    await queue.close().catch(() => undefined);
    await relayOrm.close(true);
    await app.close(true);
    // The platform's background work (e.g. AML checks behind the ingest) can outlast the run at 100k:
    // stop it for at most 30 s, then drop the bench's database regardless (drop … with (force)).
    await Promise.race([tp.platform.stop(), new Promise((r) => setTimeout(r, 30_000).unref())]);
    await tp.db.drop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
