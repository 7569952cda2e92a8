/**
 * The federated query path: the dashboard's and a partner's real operations at fixed concurrency
 * through three gateways on the same subgraphs, in one run:
 *   ours   — gateway/gateway.ts as `npm start` runs it (edge, safelist, APQ, signing);
 *   stock  — `@apollo/gateway` with default settings, given only what the subgraphs need to accept
 *            it (the caller's Authorization header and the gateway's HMAC signature);
 *   hive   — `@graphql-hive/gateway-runtime` with defaults plus the same two headers, when it loads.
 *
 * One process runs every role and the extra gateways; a forked child generates the load (keep-alive
 * `node:http`, BENCH_CONCURRENCY clients in a closed loop), so its CPU is not charged to the server.
 * Rounds alternate ours → stock → hive per operation, so all see the same machine noise. "CPU" is
 * the server process's CPU (gateway and subgraphs together) per request.
 *
 * Run: npm run bench:query
 * Env: BENCH_SECONDS (per round, 4), BENCH_CONCURRENCY (16), BENCH_ROUNDS (2), BENCH_PAYMENTS (60),
 *      BENCH_CPU_PROF=<file.cpuprofile> (profile the server process during the first overview round of
 *      BENCH_CPU_PROF_GATEWAY: ours, stock or hive; default ours).
 */
import 'reflect-metadata';
import { readFileSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Session } from 'node:inspector';
import type { AddressInfo } from 'node:net';
import { ApolloGateway, RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { GATEWAY_SIGNATURE_HEADER, signGatewayRequest } from '../../lib/auth/gateway-signature';
import { signedBy } from '../../gateway/edge/subgraph-signature';
import { loadManifest } from '../../gateway/edge/manifest';
import { SUPERGRAPH_PATH } from '../../schema/compose';
import { startTestPlatform } from '../helpers/platform';
import { graphqlRequest as gql, signUpMerchant } from '../helpers/roles';
import { at, present } from '../helpers/present';
import { currentCorrelationId } from '../../lib/logger';
import { forkLoadGenerator, paymentsToPurchases, pct, serveLoadGenerator, type LoadGenerator } from './harness';

/** node-postgres' query, patched to count what each request sends (as test/integration/sql-count.test.ts does). */
type PgQuery = (this: unknown, ...args: unknown[]) => unknown;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const pgClient = (require('pg') as { Client: { prototype: { query: PgQuery } } }).Client.prototype;
const statements = new Map<string, string[]>();
const originalQuery = pgClient.query;
pgClient.query = function (this: unknown, ...args: unknown[]): unknown {
  const id = currentCorrelationId();
  if (id?.startsWith('qbench-')) {
    const first = args[0];
    const text = typeof first === 'string' ? first : typeof (first as { text?: unknown } | null)?.text === 'string' ? (first as { text: string }).text : '<query>';
    statements.set(id, [...(statements.get(id) ?? []), text]);
  }
  return originalQuery.apply(this, args);
};

/** The SQL one request through our gateway causes (every subgraph hop), by kind of statement. */
async function sqlOf(url: string, op: { name: string; body: string; authorization: string }): Promise<string> {
  const id = `qbench-${op.name}`;
  statements.delete(id);
  const res = await fetch(url, {
    method: 'POST',
    body: op.body,
    headers: { 'content-type': 'application/json', authorization: op.authorization, 'x-correlation-id': id, 'apollo-require-preflight': 'true' },
  });
  await res.text();
  const texts = statements.get(id) ?? [];
  const kinds = new Map<string, number>();
  for (const t of texts) {
    const k = /^\s*(begin|commit|rollback|set |select set_config|savepoint|release)/i.exec(t)?.[1]?.toLowerCase().trim() ?? 'query';
    kinds.set(k, (kinds.get(k) ?? 0) + 1);
  }
  return `${texts.length} statements (${[...kinds].map(([k, n]) => `${k} ${n}`).join(', ')})`;
}

const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const PAYMENTS = Number(process.env.BENCH_PAYMENTS ?? 60);

const PURCHASE_ROW = `id status source amountAudCents satoshis costAudCents spentAudCents feeAudCents averagePrice exchange
  failureReason currentValueAud unrealizedGainAud ruleId createdAt updatedAt`;

/** The dashboard overview as the issue states it: me → tenant → rules, purchases (valued), holdings; plus the price. */
const OVERVIEW = `query BenchOverview {
  me { id email tenant { id name
    treasuryRules { id name type enabled percentageBps minOrderAudCents version }
    purchases { ${PURCHASE_ROW} }
    holdings { exchange sats costBaseAudCents feesAudCents purchases averagePrice updatedAt } } }
  btcPrice(currency: AUD) { price source at }
}`;

/** The purchases page (web/src/api/operations.ts DashboardPurchases) of 50, with what funded each. */
const PURCHASES_PAGE = `query BenchPurchases($limit: Int!) {
  purchases(limit: $limit) { ${PURCHASE_ROW} rule { id name } fundedBy { kind paymentEventId amountAudCents exactAudCents } }
}`;

type Op = { name: string; body: string };
type Fire = { url: string; seconds: number; concurrency: number; body: string; authorization: string };
type Fired = { requests: number; errors: number; firstError?: string; seconds: number; latencies: number[] };

// ---------------------------------------------------------------------------------------------
// Load generator (child process)
// ---------------------------------------------------------------------------------------------

async function fire(cmd: Fire): Promise<Fired> {
  const url = new URL(cmd.url);
  const agent = new Agent({ keepAlive: true, maxSockets: cmd.concurrency });
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const one = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const t0 = performance.now();
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          agent,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(cmd.body),
            authorization: cmd.authorization,
            'apollo-require-preflight': 'true',
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            latencies.push(performance.now() - t0);
            const text = Buffer.concat(chunks).toString('utf8');
            if (res.statusCode !== 200 || text.includes('"errors"')) {
              errors++;
              firstError ??= `${res.statusCode}: ${text.slice(0, 300)}`;
            }
            resolve();
          });
        },
      );
      req.on('error', reject);
      req.end(cmd.body);
    });
  const started = performance.now();
  const until = started + cmd.seconds * 1000;
  await Promise.all(
    Array.from({ length: cmd.concurrency }, async () => {
      while (performance.now() < until) await one();
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  return { requests: latencies.length, errors, ...(firstError ? { firstError } : {}), seconds, latencies };
}

function runLoadGenerator(): void {
  serveLoadGenerator(fire);
}

function loadGenerator(): LoadGenerator<Fire, Fired> {
  return forkLoadGenerator<Fire, Fired>(__filename);
}

// ---------------------------------------------------------------------------------------------
// The other gateways (this process)
// ---------------------------------------------------------------------------------------------

type Ctx = { authorization?: string };

/** The least a stock gateway needs to be accepted: the caller's credential, as any gateway forwards it. */
class ForwardAuthorization extends RemoteGraphQLDataSource<Ctx> {
  override willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<Ctx>): void {
    const authorization: unknown = context.authorization;
    if (typeof authorization === 'string') request.http?.headers.set('authorization', authorization);
  }
}

async function startStockGateway(sdl: string, urls: Record<string, string>, secret: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const gateway = new ApolloGateway({
    supergraphSdl: sdl,
    buildService: ({ name, url }) => signedBy(secret, name, new ForwardAuthorization({ url: urls[name] ?? url })),
  });
  const server = new ApolloServer<Ctx>({ gateway });
  const { url } = await startStandaloneServer(server, {
    listen: { port: 0, host: '127.0.0.1' },
    context: ({ req }) => Promise.resolve({ ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) }),
  });
  return { url, stop: () => server.stop() };
}

/** The supergraph with each subgraph's routing URL replaced by where it runs in this process. */
function routedSupergraph(sdl: string, urls: Record<string, string>): string {
  return sdl.replace(/@join__graph\(name: "([^"]+)", url: "[^"]*"\)/g, (whole, name: string) =>
    urls[name] ? `@join__graph(name: "${name}", url: "${urls[name]}")` : whole,
  );
}

const HIVE_PACKAGE: string = '@graphql-hive/gateway-runtime';

/** The part of @graphql-hive/gateway-runtime's API used here. */
type HiveRuntime = {
  createGatewayRuntime(opts: {
    supergraph: string;
    logging: boolean;
    maskedErrors: boolean;
    plugins: () => { onFetch(payload: HiveFetchHook): void }[];
  }): ((req: IncomingMessage, res: ServerResponse) => void) & { dispose(): Promise<void> | void };
};

type HiveFetchHook = {
  url: string;
  options: { body?: unknown; headers?: Record<string, string> };
  setOptions: (o: { body?: unknown; headers?: Record<string, string> }) => void;
  context?: { request?: { headers: { get(name: string): string | null } } };
};

async function startHiveGateway(
  sdl: string,
  urls: Record<string, string>,
  secret: string,
): Promise<{ url: string; stop: () => Promise<void> } | { unavailable: string }> {
  let runtime: HiveRuntime;
  try {
    // By a name held in a variable: its typings bring @types/node 25 globals, which would clash with ours (Node 20).
    const specifier = HIVE_PACKAGE;
    runtime = (await import(specifier)) as HiveRuntime;
  } catch (err) {
    return { unavailable: `@graphql-hive/gateway-runtime does not load on Node ${process.versions.node}: ${(err as Error).message.split('\n')[0]}` };
  }
  const byUrl = new Map(Object.entries(urls).map(([name, u]) => [u, name]));
  const gw = runtime.createGatewayRuntime({
    supergraph: routedSupergraph(sdl, urls),
    logging: false,
    // Unmasked so a forwarding failure shows its cause in the bench output.
    maskedErrors: false,
    plugins: () => [
      {
        // The same two headers the stock gateway gets: the caller's credential and the HMAC over the exact body.
        onFetch({ url, options, setOptions, context }: HiveFetchHook) {
          const name = byUrl.get(url);
          if (!name) return;
          const body = typeof options.body === 'string' ? options.body : '';
          const authorization = context?.request?.headers.get('authorization');
          setOptions({
            ...options,
            headers: {
              ...options.headers,
              ...(authorization ? { authorization } : {}),
              [GATEWAY_SIGNATURE_HEADER]: signGatewayRequest(secret, name, body),
            },
          });
        },
      },
    ],
  });
  const server: Server = createServer(gw);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    stop: async () => {
      await new Promise<void>((r) => server.close(() => r()));
      await gw.dispose();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

type Row = { op: string; gateway: string; rps: number; p50: number; p95: number; p99: number; cpuMsPerReq: number; errors: number; requests: number };

function summarise(op: string, gateway: string, runs: { fired: Fired; cpuMs: number }[]): Row {
  const lat = runs.flatMap((r) => r.fired.latencies).sort((a, b) => a - b);
  const requests = runs.reduce((s, r) => s + r.fired.requests, 0);
  const seconds = runs.reduce((s, r) => s + r.fired.seconds, 0);
  const cpu = runs.reduce((s, r) => s + r.cpuMs, 0);
  return {
    op,
    gateway,
    rps: requests / seconds,
    p50: pct(lat, 50),
    p95: pct(lat, 95),
    p99: pct(lat, 99),
    cpuMsPerReq: cpu / Math.max(1, requests),
    errors: runs.reduce((s, r) => s + r.fired.errors, 0),
    requests,
  };
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

async function seed(gateway: string): Promise<{ token: string; apiKey: string; purchases: number }> {
  const m = await signUpMerchant(gateway, 'QueryBench');
  await gql(gateway, 'mutation ($i: TreasuryRuleInput!) { createTreasuryRule(input: $i) { id } }', {
    i: { name: '5% of revenue', type: 'PERCENTAGE_OF_REVENUE', percentageBps: 500 },
  }, m.token);
  const purchases = await paymentsToPurchases(gateway, m, 'qbench', PAYMENTS, Math.min(50, PAYMENTS));
  const k = await gql<{ createApiKey: { key: string } }>(
    gateway,
    'mutation ($i: CreateApiKeyInput!) { createApiKey(input: $i) { key } }',
    { i: { name: 'bench partner', scopes: ['read:treasury', 'read:market'] } },
    m.token,
  );
  return { token: `Bearer ${m.token}`, apiKey: `Bearer ${k.createApiKey.key}`, purchases };
}

async function main(): Promise<void> {
  const started = Date.now();
  const tp = await startTestPlatform({ env: { RATE_LIMITS: 'off', PRICE_TICK_MS: '1000' } });
  const gen = loadGenerator();
  const stops: (() => Promise<void>)[] = [];
  try {
    const p = tp.platform;
    const secret = at(present(p.services.keys, 'platform keys').gatewaySecrets, 0, 'gateway secrets');
    const urls = Object.fromEntries(
      (['tenant', 'treasury', 'market-price', 'compliance'] as const).map((n) => [n, present(p.urls[n], `${n} url`)]),
    );
    const sdl = readFileSync(SUPERGRAPH_PATH, 'utf8');
    console.log('seeding: a tenant, two rules, payments → purchases on the paper exchange, an API key …');
    const s = await seed(tp.gateway);
    console.log(`seeded ${s.purchases} purchases`);

    const stock = await startStockGateway(sdl, urls, secret);
    stops.push(stock.stop);
    const hive = await startHiveGateway(sdl, urls, secret);
    if ('stop' in hive) stops.push(hive.stop);
    else console.log(`hive: ${hive.unavailable}`);
    const gateways: { name: string; url: string }[] = [
      { name: 'ours', url: tp.gateway },
      { name: 'stock', url: stock.url },
      ...('url' in hive ? [{ name: 'hive', url: hive.url }] : []),
    ];

    const partner = present(
      loadManifest().operations.find((o) => o.name === 'PartnerTreasuryRules'),
      'PartnerTreasuryRules in the manifest',
    );
    const ops: (Op & { authorization: string })[] = [
      { name: 'overview', body: JSON.stringify({ query: OVERVIEW, operationName: 'BenchOverview' }), authorization: s.token },
      { name: 'purchases-50', body: JSON.stringify({ query: PURCHASES_PAGE, operationName: 'BenchPurchases', variables: { limit: 50 } }), authorization: s.token },
      {
        name: 'partner-rules',
        body: JSON.stringify({
          query: partner.body,
          operationName: partner.name,
          extensions: { persistedQuery: { version: 1, sha256Hash: partner.id } },
        }),
        authorization: s.apiKey,
      },
    ];

    for (const op of ops) await sqlOf(tp.gateway, op); // warm per-process caches
    for (const op of ops) console.log(`SQL per ${op.name} request (ours): ${await sqlOf(tp.gateway, op)}`);

    // Warm every gateway on every operation (query plans, connections, JIT), unmeasured.
    for (const op of ops) for (const g of gateways) await gen.send({ url: g.url, seconds: 0.5, concurrency: 4, body: op.body, authorization: op.authorization });

    const rows: Row[] = [];
    for (const op of ops) {
      const runs = new Map<string, { fired: Fired; cpuMs: number }[]>();
      for (let round = 0; round < ROUNDS; round++) {
        for (const g of gateways) {
          const profile = process.env.BENCH_CPU_PROF && round === 0 && g.name === (process.env.BENCH_CPU_PROF_GATEWAY ?? 'ours') && op.name === 'overview' ? new Session() : undefined;
          if (profile) {
            profile.connect();
            await new Promise<void>((r) => profile.post('Profiler.enable', () => profile.post('Profiler.start', () => r())));
          }
          const cpu = process.cpuUsage();
          const fired = await gen.send({ url: g.url, seconds: SECONDS, concurrency: CONCURRENCY, body: op.body, authorization: op.authorization });
          const used = process.cpuUsage(cpu);
          if (profile) {
            await new Promise<void>((r) =>
              profile.post('Profiler.stop', (err, res) => {
                if (!err) writeFileSync(present(process.env.BENCH_CPU_PROF, 'BENCH_CPU_PROF'), JSON.stringify(res.profile));
                r();
              }),
            );
            profile.disconnect();
          }
          if (fired.firstError) console.log(`  ${g.name} ${op.name}: ${fired.errors} errors, first: ${fired.firstError}`);
          runs.set(g.name, [...(runs.get(g.name) ?? []), { fired, cpuMs: (used.user + used.system) / 1000 }]);
        }
      }
      for (const g of gateways) rows.push(summarise(op.name, g.name, runs.get(g.name) ?? []));
    }

    console.log(`\nQuery path — ${CONCURRENCY} clients, ${ROUNDS}×${SECONDS} s per gateway per operation, alternating; Node ${process.versions.node}`);
    console.log('operation      gateway   req/s    p50 ms   p95 ms   p99 ms   CPU ms/req   errors');
    for (const r of rows) {
      console.log(
        `${r.op.padEnd(14)} ${r.gateway.padEnd(7)} ${r.rps.toFixed(1).padStart(7)} ${r.p50.toFixed(1).padStart(8)} ${r.p95.toFixed(1).padStart(8)} ${r.p99.toFixed(1).padStart(8)} ${r.cpuMsPerReq.toFixed(2).padStart(12)} ${String(r.errors).padStart(8)}`,
      );
    }
    console.log('\nratios (throughput; p99)');
    for (const op of ops) {
      const ours = rows.find((r) => r.op === op.name && r.gateway === 'ours');
      if (!ours) continue;
      for (const other of ['stock', 'hive']) {
        const o = rows.find((r) => r.op === op.name && r.gateway === other);
        if (o) console.log(`${op.name.padEnd(14)} ours/${other.padEnd(5)} ${(ours.rps / o.rps).toFixed(2)}× req/s; p99 ${(ours.p99 / o.p99).toFixed(2)}×`);
      }
    }
    console.log(`\n(${((Date.now() - started) / 1000).toFixed(0)} s in all)`);
  } finally {
    gen.child.kill();
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await tp.stop();
  }
}

if (process.argv.includes('--load-generator')) runLoadGenerator();
else
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
