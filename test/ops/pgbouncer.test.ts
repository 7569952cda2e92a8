import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { gql } from 'graphql-request';
import type { MikroORM } from '@mikro-orm/postgresql';
import { loadConfig } from '../../lib/config';
import { loadOrCreateLocalSecrets } from '../../lib/secrets';
import { openAppOrm } from '../../lib/db/orm';
import { APP_ROLE, RELAY_ROLE } from '../../lib/db/roles';
import { TenantDirectory } from '../../lib/db/tenant-context';
import { TenantTransactions } from '../../lib/db/tenant-tx';
import { configureLogger } from '../../lib/logger';
import { ROLES, startPlatform, type Platform } from '../../ops/platform';
import { TEST_PG_URL, createTestDatabase, eventually, type TestDatabase } from '../helpers/db';
import { client, testEnv } from '../helpers/platform';
import { ROOT } from '../helpers/process';
import { at, present } from '../helpers/present';
import { startPgbouncer, type Pgbouncer } from './pgbouncer.server';

/**
 * The platform behind PgBouncer in transaction mode (ops/pgbouncer/pgbouncer.ini), pool_size 2:
 * every app and relay connection of the platform goes through it, many client connections share
 * two server connections per role, and tenant isolation under RLS still holds, because the tenant
 * (search_path, app.tenant_id) is set per transaction, never per session.
 */

const POOL_SIZE = 2;
const PASSWORD = 'Correct-Horse-42-Battery';
const SIGN_UP = gql`
  mutation SignUp($input: SignUpInput!) {
    signUp(input: $input) {
      accessToken
      tenant {
        id
      }
    }
  }
`;
const CREATE_RULE = gql`
  mutation Create($input: TreasuryRuleInput!) {
    createTreasuryRule(input: $input) {
      id
    }
  }
`;
const RULES = gql`
  query {
    me {
      tenant {
        id
        name
        treasuryRules {
          name
        }
      }
    }
  }
`;
type Rules = { me: { tenant: { id: string; name: string; treasuryRules: { name: string }[] } } };
type Session = { accessToken: string; tenant: { id: string } };

describe('PgBouncer in transaction mode in front of PostgreSQL (real pgbouncer, pool_size 2)', () => {
  let db: TestDatabase;
  let bouncer: Pgbouncer;
  let platform: Platform | undefined;
  let gateway: string;
  let appViaBouncer: MikroORM | undefined;
  const ownerPassword = randomBytes(12).toString('hex');
  let a: Session;
  let b: Session;

  /** The owner URL of the test database, through PgBouncer (PgBouncer checks the password; PostgreSQL trusts 127.0.0.1). */
  const ownerViaBouncer = (): string => {
    const u = new URL(bouncer.via(db.ownerUrl));
    u.password = ownerPassword;
    return u.toString();
  };
  const serverConnections = async (user: string): Promise<number> =>
    (await bouncer.show('SERVERS')).filter((s) => s.user === user && s.database === db.name).length;

  beforeAll(async () => {
    configureLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
    db = await createTestDatabase();
    bouncer = await startPgbouncer({
      upstream: TEST_PG_URL,
      users: { [APP_ROLE]: db.rolePassword, [RELAY_ROLE]: db.rolePassword, postgres: ownerPassword },
      poolSize: POOL_SIZE,
    });
    // Migrations ran directly (createTestDatabase); the running platform's every connection goes through PgBouncer.
    const env = testEnv(db, { env: { DATABASE_URL: ownerViaBouncer(), DB_POOL_MAX: '10' } });
    platform = await startPlatform(loadConfig(env), { roles: ROLES, migrate: false });
    gateway = present(platform.gatewayUrl, 'gateway url');
    const signUp = async (tenantName: string, email: string): Promise<Session> =>
      (await client(gateway).request<{ signUp: Session }>(SIGN_UP, { input: { tenantName, email, password: PASSWORD } })).signUp;
    a = await signUp('Alpha via PgBouncer', 'owner@alpha-pgb.example');
    b = await signUp('Bravo via PgBouncer', 'owner@bravo-pgb.example');
    for (const [s, name] of [
      [a, 'Alpha rule'],
      [b, 'Bravo rule'],
    ] as const) {
      await client(gateway, s.accessToken).request(CREATE_RULE, { input: { name, type: 'PERCENTAGE_OF_REVENUE', percentageBps: 500 } });
    }
    appViaBouncer = await openAppOrm(bouncer.via(db.appUrl), [], 20);
  });

  afterAll(async () => {
    await platform?.stop().catch(() => undefined);
    await appViaBouncer?.close(true).catch(() => undefined);
    await bouncer?.stop();
    await db?.drop();
  });

  it('carries the platform: the app role reaches PostgreSQL only through PgBouncer', async () => {
    const pools = await bouncer.show('POOLS');
    const app = present(
      pools.find((p) => p.user === APP_ROLE && p.database === db.name),
      'a PgBouncer pool for the app role',
    );
    expect(app.pool_mode).toBe('transaction');
    // Every app-role backend on the test database was opened by PgBouncer, none by the platform directly.
    const backends = await db.owner.em
      .getConnection()
      .execute<{ n: number }[]>(`select count(*)::int as n from pg_stat_activity where datname = ? and usename = ?`, [db.name, APP_ROLE]);
    expect(at(backends, 0).n).toBeLessThanOrEqual(POOL_SIZE);
    expect(await serverConnections(APP_ROLE)).toBeLessThanOrEqual(POOL_SIZE);
  });

  it('shows each tenant only its own rules through the gateway, under 60 concurrent requests', async () => {
    const ask = (s: Session) => client(gateway, s.accessToken).request<Rules>(RULES);
    const answers = await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? ask(a) : ask(b)).then((r) => ({ i, r }))));
    for (const { i, r } of answers) {
      const mine = i % 2 === 0 ? { id: a.tenant.id, name: 'Alpha via PgBouncer', rule: 'Alpha rule' } : { id: b.tenant.id, name: 'Bravo via PgBouncer', rule: 'Bravo rule' };
      expect(r).toEqual({ me: { tenant: { id: mine.id, name: mine.name, treasuryRules: [{ name: mine.rule }] } } });
    }
  });

  it('keeps A and B apart in 400 interleaved tenant transactions over 20 client connections and 2 server connections', async () => {
    const orm = present(appViaBouncer, 'app ORM via PgBouncer');
    const tenants = new TenantTransactions(orm, new TenantDirectory(orm));
    // PostgreSQL's own view of the app role's backends on this database, sampled while the load runs.
    let peakBackends = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const [row] = await db.owner.em
          .getConnection()
          .execute<{ n: number }[]>(`select count(*)::int as n from pg_stat_activity where datname = ? and usename = ?`, [db.name, APP_ROLE]);
        peakBackends = Math.max(peakBackends, row?.n ?? 0);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    let seen: { tenantId: string; rows: { tenant_id: string; setting: string }[] }[];
    try {
      seen = await Promise.all(
        Array.from({ length: 400 }, async (_, i) => {
          const tenantId = i % 2 === 0 ? a.tenant.id : b.tenant.id;
          return tenants.run(tenantId, async (tx) => {
            // No WHERE clause: RLS decides what this transaction sees; pg_sleep lets transactions queue for the 2 server connections.
            const rows = await tx.em.execute<{ tenant_id: string; setting: string }[]>(
              `select tenant_id::text, current_setting('app.tenant_id') as setting from treasury_rule, pg_sleep(0.002)`,
            );
            return { tenantId, rows };
          });
        }),
      );
    } finally {
      sampling = false;
      await sampler;
    }
    for (const { tenantId, rows } of seen) expect(rows).toEqual([{ tenant_id: tenantId, setting: tenantId }]);
    // 400 transactions of both tenants (and the platform's own) on at most 2 server connections: each was reused across tenants.
    expect(peakBackends).toBeGreaterThan(0);
    expect(peakBackends).toBeLessThanOrEqual(POOL_SIZE);
    expect(await serverConnections(APP_ROLE)).toBeLessThanOrEqual(POOL_SIZE);
  });

  it('leaves no tenant setting on a server connection after the transaction: a following transaction outside any tenant sees no rows', async () => {
    const orm = present(appViaBouncer, 'app ORM via PgBouncer');
    const tenants = new TenantTransactions(orm, new TenantDirectory(orm));
    await Promise.all(Array.from({ length: 20 }, (_, i) => tenants.run(i % 2 ? a.tenant.id : b.tenant.id, async (tx) => tx.em.execute('select 1'))));
    const after = await Promise.all(
      Array.from({ length: 20 }, () =>
        orm.em.fork().transactional(async (em) =>
          em.execute<{ n: number; setting: string | null }[]>(
            `select (select count(*)::int from pool.treasury_rule) as n, nullif(current_setting('app.tenant_id', true), '') as setting`,
          ),
        ),
      ),
    );
    for (const rows of after) expect(rows).toEqual([{ n: 0, setting: null }]);
  });

  it('would leak a session-scoped setting to the next client on the same server connection (why the platform uses set_config(…, true))', async () => {
    // The owner's own pool (database, postgres) so the app pool stays clean: one client sets app.tenant_id for its session...
    const owner = await openAppOrm(ownerViaBouncer(), [], 4);
    try {
      await owner.em.fork().getConnection().execute(`select set_config('app.tenant_id', ?, false)`, [a.tenant.id]);
      // ...and other clients, later, get a server connection that still carries it (transaction pooling: no reset between clients).
      const settings = await Promise.all(
        Array.from({ length: 8 }, () =>
          owner.em.fork().transactional(async (em) => em.execute<{ s: string | null }[]>(`select nullif(current_setting('app.tenant_id', true), '') as s`)),
        ),
      );
      expect(settings.map((r) => at(r, 0).s)).toContain(a.tenant.id);
    } finally {
      await owner.close(true);
    }
  });

  it('runs the relay and workers through it too: audit events written via the outbox reach each tenant chain', async () => {
    const audit = gql`
      query {
        me {
          tenant {
            auditEvents {
              eventType
            }
          }
        }
      }
    `;
    for (const s of [a, b]) {
      const r = await eventually(
        () => client(gateway, s.accessToken).request<{ me: { tenant: { auditEvents: { eventType: string }[] } } }>(audit),
        (x) => x.me.tenant.auditEvents.length >= 2,
      );
      expect(r.me.tenant.auditEvents.map((e) => e.eventType)).toEqual(['tenant.signed_up', 'treasury_rule.created']);
    }
    expect(await serverConnections(RELAY_ROLE)).toBeLessThanOrEqual(POOL_SIZE);
  });
});

/** The tenancy suite's own files, unchanged, with every connection (owner and app role) through PgBouncer. */
const TENANCY_SUITE = ['test/integration/tenant-isolation.test.ts', 'test/integration/tenant-isolation-public.test.ts'];

describe('the tenancy suite, run through PgBouncer in transaction mode (pool_size 2)', () => {
  let bouncer: Pgbouncer | undefined;
  afterAll(async () => {
    await bouncer?.stop();
  });

  it('passes every test of test/integration/tenant-isolation*.test.ts', async () => {
    const rolePassword = loadOrCreateLocalSecrets('.data').appDbPassword;
    const ownerPassword = randomBytes(12).toString('hex');
    bouncer = await startPgbouncer({
      upstream: TEST_PG_URL,
      users: { [APP_ROLE]: rolePassword, [RELAY_ROLE]: rolePassword, postgres: ownerPassword },
      poolSize: POOL_SIZE,
    });
    const url = new URL(bouncer.via(TEST_PG_URL));
    url.username = 'postgres';
    url.password = ownerPassword;
    const report = await promisify(execFile)(
      process.execPath,
      [require.resolve('jest/bin/jest'), '--ci', '--json', '--runInBand', ...TENANCY_SUITE],
      { cwd: ROOT, env: { ...process.env, TEST_DATABASE_URL: url.toString() }, maxBuffer: 64 * 1024 * 1024 },
    ).catch((err: { stdout?: string; stderr?: string }) => ({ stdout: err.stdout ?? '', stderr: err.stderr ?? '' }));
    const result = JSON.parse(report.stdout || '{}') as { numTotalTests?: number; numPassedTests?: number; numFailedTests?: number; success?: boolean };
    if (!result.success) throw new Error(`the tenancy suite failed through PgBouncer:\n${report.stderr.slice(-8000)}`);
    expect(result.numFailedTests).toBe(0);
    expect(result.numPassedTests).toBe(result.numTotalTests);
    expect(result.numPassedTests).toBeGreaterThanOrEqual(30);
    // It really went through PgBouncer: the app role had a pool there.
    const pools = await bouncer.show('STATS');
    expect(pools.some((p) => p.database !== 'pgbouncer' && Number(p.total_xact_count) > 100)).toBe(true);
  }, 300_000);
});
