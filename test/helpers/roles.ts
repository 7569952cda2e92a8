import { createServer } from 'node:net';
import Stripe from 'stripe';
import type { TestDatabase } from './db';
import { testEnv } from './platform';
import { spawnStart, type Started } from './process';

/** The roles a deployment runs as processes of their own (ops/start.ts <role>). */
export const SEPARATE_ROLES = ['tenant', 'treasury', 'market-price', 'compliance', 'workers', 'gateway'] as const;
export type SeparateRole = (typeof SEPARATE_ROLES)[number];

/** A port nothing listens on right now (the OS picks it; the role binds it a moment later). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

const PORT_ENV: Record<Exclude<SeparateRole, 'gateway'>, string> = {
  tenant: 'TENANT_PORT',
  treasury: 'TREASURY_PORT',
  'market-price': 'MARKET_PRICE_PORT',
  compliance: 'COMPLIANCE_PORT',
  workers: 'WORKERS_PORT',
};

/** One role process of a deployment; `instance` tells two gateways apart. */
export type RoleProcess = { role: SeparateRole; instance: number; port: number; url: string; process: Started };

export type Deployment = {
  /** The environment every role of it shares (database, Redis prefix, secrets, ports). */
  env: NodeJS.ProcessEnv;
  /** Running processes, by `role` or `role#instance` (e.g. `gateway#1`). */
  processes: Map<string, RoleProcess>;
  /** Each gateway's `/graphql` URL (two when asked). */
  gateways: () => string[];
  /** Starts one role process (again) on its port and waits until it serves. */
  start: (role: SeparateRole, instance?: number) => Promise<RoleProcess>;
  /** SIGTERMs one role process and waits for its exit: the exit and how long it took. */
  stop: (role: SeparateRole, instance?: number) => Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
  /** SIGKILLs whatever is still running (afterAll / a failed test). */
  kill: () => void;
};

const keyOf = (role: SeparateRole, instance: number): string => (instance === 0 ? role : `${role}#${instance}`);

/**
 * The platform as a deployment runs it: every role its own `node ops/start.ts <role>` process, on
 * ports chosen here (free at the time), talking through the given database and Redis (REDIS_URL and
 * a fresh REDIS_PREFIX from testEnv). The subgraphs and workers start first, then the gateway(s).
 */
export async function startDeployment(
  db: TestDatabase,
  opts: { gateways?: number; env?: NodeJS.ProcessEnv; redis?: boolean } = {},
): Promise<Deployment> {
  const ports: Record<string, number> = {};
  for (const role of Object.keys(PORT_ENV) as (keyof typeof PORT_ENV)[]) ports[role] = await freePort();
  const gatewayCount = opts.gateways ?? 1;
  for (let i = 0; i < gatewayCount; i++) ports[keyOf('gateway', i)] = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...testEnv(db, {
      redis: opts.redis ?? true,
      env: {
        // As a deployment runs: Apollo's behaviour outside `test`, info logs for the assertions below.
        NODE_ENV: 'development',
        LOG_LEVEL: 'info',
        SEED_DEMO: 'false',
        ...Object.fromEntries(Object.entries(PORT_ENV).map(([role, name]) => [name, String(ports[role])])),
        ...opts.env,
      },
    }),
  };
  const processes = new Map<string, RoleProcess>();
  const start = async (role: SeparateRole, instance = 0): Promise<RoleProcess> => {
    const key = keyOf(role, instance);
    const port = ports[key];
    if (port === undefined) throw new Error(`no port for ${key}`);
    const p = spawnStart(role, role === 'gateway' ? { ...env, GATEWAY_PORT: String(port) } : env);
    const rp: RoleProcess = { role, instance, port, url: role === 'workers' ? `http://127.0.0.1:${port}` : `http://127.0.0.1:${port}/graphql`, process: p };
    processes.set(key, rp);
    await p.waitForLine((l) => l.msg === 'started', `${key} to start`, 240_000);
    return rp;
  };
  const stop = async (role: SeparateRole, instance = 0): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> => {
    const rp = processes.get(keyOf(role, instance));
    if (!rp) throw new Error(`${keyOf(role, instance)} is not running`);
    const t0 = Date.now();
    rp.process.child.kill('SIGTERM');
    const exit = await rp.process.exited;
    processes.delete(keyOf(role, instance));
    return { ...exit, ms: Date.now() - t0 };
  };
  const kill = (): void => {
    for (const rp of processes.values()) rp.process.kill();
    processes.clear();
  };
  try {
    await Promise.all((['tenant', 'treasury', 'market-price', 'compliance', 'workers'] as const).map((r) => start(r)));
    for (let i = 0; i < gatewayCount; i++) await start('gateway', i);
  } catch (err) {
    kill();
    throw err;
  }
  const gateways = (): string[] =>
    Array.from({ length: gatewayCount }, (_, i) => `http://127.0.0.1:${ports[keyOf('gateway', i)]}/graphql`);
  return { env, processes, gateways, start, stop, kill };
}

/** A merchant signed up through a gateway: a 10%-of-revenue rule and a Stripe integration. */
export type Merchant = { token: string; tenantId: string; stripePath: string; stripeSecret: string };

async function gql<T>(url: string, query: string, variables: Record<string, unknown>, token?: string): Promise<T> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: T; errors?: { message: string }[] };
  if (!body.data || body.errors) throw new Error(`GraphQL ${res.status}: ${JSON.stringify(body.errors)}`);
  return body.data;
}

export async function signUpMerchant(gateway: string, name: string): Promise<Merchant> {
  const stripeSecret = `whsec_${name.replace(/\W/g, '')}_0123456789abcdef`;
  const s = await gql<{ signUp: { accessToken: string; tenant: { id: string } } }>(
    gateway,
    'mutation ($i: SignUpInput!) { signUp(input: $i) { accessToken tenant { id } } }',
    { i: { tenantName: `${name} Pty Ltd`, email: `${name.toLowerCase().replace(/\W/g, '')}@x.example`, password: 'Correct-Horse-42-Battery' } },
  );
  const token = s.signUp.accessToken;
  await gql(gateway, 'mutation ($i: TreasuryRuleInput!) { createTreasuryRule(input: $i) { id } }', {
    i: { name: '10% of revenue', type: 'PERCENTAGE_OF_REVENUE', percentageBps: 1000 },
  }, token);
  const c = await gql<{ connectPaymentIntegration: { webhookUrl: string } }>(
    gateway,
    'mutation ($input: ConnectPaymentIntegrationInput!) { connectPaymentIntegration(input: $input) { webhookUrl } }',
    { input: { provider: 'STRIPE', name: 'Stripe AU', stripeWebhookSecret: stripeSecret } },
    token,
  );
  return { token, tenantId: s.signUp.tenant.id, stripePath: new URL(c.connectPaymentIntegration.webhookUrl).pathname, stripeSecret };
}

export { gql as graphqlRequest };

/** A Stripe `payment_intent.succeeded` of `cents` AUD, signed as Stripe signs it, POSTed to `base` + the merchant's webhook path. */
export function postStripePayment(base: string, m: Merchant, eventId: string, cents: number): Promise<Response> {
  const text = JSON.stringify({
    id: eventId,
    object: 'event',
    created: Math.floor(Date.now() / 1000),
    type: 'payment_intent.succeeded',
    data: { object: { id: `pi_${eventId}`, object: 'payment_intent', amount: cents, amount_received: cents, currency: 'aud', status: 'succeeded' } },
  });
  return fetch(new URL(m.stripePath, base), {
    method: 'POST',
    body: text,
    headers: { 'content-type': 'application/json', 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload: text, secret: m.stripeSecret }) },
  });
}
