import { randomBytes } from 'node:crypto';
import { openOwnerOrm } from '../../lib/db/migrate';
import { configureLogger } from '../../lib/logger';
import { TEST_PG_URL, createTestDatabase, type TestDatabase } from '../helpers/db';
import { testEnv } from '../helpers/platform';
import { isListening, listeningPorts, spawnProcess, spawnStart, type Started } from '../helpers/process';
import { at } from '../helpers/present';

/** The bound: SIGINT (Ctrl-C) or SIGTERM stops every role of a process within 10 seconds. */
const STOP_WITHIN_MS = 10_000;

const ROLE_COUNT = { all: 6, gateway: 1, tenant: 1, workers: 1 } as const;

/** Waits for the exit, at most `ms`; undefined when the process is still running then. */
async function exitWithin(p: Started, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null } | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([p.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Opens a keep-alive connection to every port (a client left connected must not hold the stop up). */
async function touch(ports: number[]): Promise<void> {
  for (const port of ports) {
    const res = await fetch(`http://127.0.0.1:${port}/api/health`);
    expect(res.status).toBe(200);
    await res.text();
  }
}

describe('one start and one stop of ops/start.ts (its own process)', () => {
  let db: TestDatabase;
  const running: Started[] = [];

  beforeAll(async () => {
    configureLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
    db = await createTestDatabase();
  });
  afterEach(() => {
    for (const p of running.splice(0)) p.kill();
  });
  afterAll(async () => {
    await db.drop();
  });

  const env = (redis: boolean, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
    ...process.env,
    // NODE_ENV as `npm start` has it: Apollo only installs its own signal handlers outside `test`.
    ...testEnv(db, { redis, env: { NODE_ENV: 'development', LOG_LEVEL: 'info', SEED_DEMO: 'false', ...extra } }),
  });

  it.each([
    ['every role, single-node mode', 'all', false],
    ['every role, Redis mode', 'all', true],
    ['the gateway alone', 'gateway', false],
    ['the gateway alone, Redis mode', 'gateway', true],
    ['the tenant role alone', 'tenant', false],
    ['the workers alone, Redis mode', 'workers', true],
  ] as const)('%s: SIGINT stops it within 10 s, exit code 0, every port closed', async (_what, role, redis) => {
    const p = spawnStart(role === 'all' ? undefined : role, env(redis));
    running.push(p);
    await p.waitForLine(() => listeningPorts(p.lines).length === ROLE_COUNT[role], `${ROLE_COUNT[role]} listening role(s)`);
    const ports = listeningPorts(p.lines);
    await touch(ports);

    p.child.kill('SIGINT');
    const exit = await exitWithin(p, STOP_WITHIN_MS);
    expect({ exit, output: exit?.code === 0 ? '' : p.output().slice(-3000) }).toEqual({ exit: { code: 0, signal: null }, output: '' });
    for (const port of ports) expect([port, await isListening(port)]).toEqual([port, false]);
    expect(p.lines.some((l) => l.msg === 'stopped')).toBe(true);
  });

  it('SIGTERM (an orchestrator stopping the container) stops every role within 10 s too', async () => {
    const p = spawnStart(undefined, env(false));
    running.push(p);
    await p.waitForLine(() => listeningPorts(p.lines).length === ROLE_COUNT.all, 'every role listening');
    p.child.kill('SIGTERM');
    expect(await exitWithin(p, STOP_WITHIN_MS)).toEqual({ code: 0, signal: null });
  });

  it('a stop that overruns SHUTDOWN_TIMEOUT_MS exits non-zero and says so, instead of hanging', async () => {
    const p = spawnStart('tenant', env(false, { SHUTDOWN_TIMEOUT_MS: '1' }));
    running.push(p);
    await p.waitForLine(() => listeningPorts(p.lines).length === 1, 'the tenant role listening');
    p.child.kill('SIGINT');
    const exit = await exitWithin(p, STOP_WITHIN_MS);
    expect(exit?.code).toBe(1);
    expect(p.lines.find((l) => l.msg === 'shutdown deadline exceeded')).toMatchObject({ level: 60, timeoutMs: 1 });
  });

  it('`npm run start:tenant` works alone on a database nothing has migrated yet, and Ctrl-C stops it', async () => {
    const name = `abt_test_${randomBytes(6).toString('hex')}`;
    const admin = await openOwnerOrm(TEST_PG_URL);
    await admin.em.getConnection().execute(`create database ${name}`);
    const url = new URL(TEST_PG_URL);
    url.pathname = `/${name}`;
    try {
      // Detached: its own process group, so the signal below reaches npm and node the way Ctrl-C does.
      const p = spawnProcess('npm', ['run', 'start:tenant'], { ...env(false), DATABASE_URL: url.toString() }, { detached: true });
      running.push(p);
      await p.waitForLine(() => listeningPorts(p.lines).length === 1, 'the tenant role listening');
      const port = at(listeningPorts(p.lines), 0, 'listening ports');
      const ready = await fetch(`http://127.0.0.1:${port}/api/ready`);
      expect([ready.status, await ready.json()]).toEqual([200, { status: 'ready', service: 'tenant', checks: { database: 'ok' } }]);
      // Its tables exist: a login for nobody is an ordinary INVALID_CREDENTIALS, not a masked SQL error.
      const login = await fetch(`http://127.0.0.1:${port}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: 'mutation { login(input: { email: "nobody@example.com", password: "Wrong-password-1" }) { accessToken } }' }),
      });
      const body = (await login.json()) as { errors?: { extensions?: { code?: string } }[] };
      expect(body.errors?.map((e) => e.extensions?.code)).toEqual(['INVALID_CREDENTIALS']);

      process.kill(-p.child.pid!, 'SIGINT');
      const exit = await exitWithin(p, STOP_WITHIN_MS);
      // npm passes the signal on to node, waits for it, then ends itself by that same signal, as a shell does.
      expect({ stopped: exit !== undefined, enoent: /enoent/i.test(p.output()) }).toEqual({ stopped: true, enoent: false });
      expect(p.lines.some((l) => l.msg === 'stopped')).toBe(true);
      expect(await isListening(port)).toBe(false);
    } finally {
      await admin.em.getConnection().execute(`drop database if exists ${name} with (force)`);
      await admin.close(true);
    }
  });
});
