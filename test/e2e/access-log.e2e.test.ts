import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { configureLogger } from '../../lib/logger';
import { startTestPlatform, type TestPlatform } from '../helpers/platform';
import { until } from '../helpers/wait';
import { at } from '../helpers/present';

const PASSWORD = 'Access-Log-42-Battery';

type Line = Record<string, unknown> & { msg: string };

/** pino's output, kept line by line. */
function capture(): { lines: Line[]; text: () => string; stream: Writable } {
  const lines: Line[] = [];
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Line);
      done();
    },
  });
  return { lines, text: () => text, stream };
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

describe('access log: one line per request and per job, with its correlation id, tenant, outcome and duration', () => {
  let t: TestPlatform;
  const out = capture();
  let token: string;
  let tenantId: string;

  beforeAll(async () => {
    t = await startTestPlatform();
    configureLogger('info', out.stream);
    const res = await post(t.gateway, {
      query: 'mutation SignUp($i: SignUpInput!) { signUp(input: $i) { accessToken tenant { id } } }',
      variables: { i: { tenantName: 'Access Log Pty Ltd', email: `log-${randomUUID()}@example.com`, password: PASSWORD } },
    });
    const body = (await res.json()) as { data: { signUp: { accessToken: string; tenant: { id: string } } } };
    token = body.data.signUp.accessToken;
    tenantId = body.data.signUp.tenant.id;
  }, 120_000);
  afterAll(async () => {
    configureLogger('silent');
    await t.stop();
  });

  const requests = (correlationId: string): Line[] => out.lines.filter((l) => l.msg === 'request' && l.correlationId === correlationId);

  it('a GraphQL operation: one line at the gateway and one at each subgraph it called, all with the caller’s correlation id', async () => {
    const correlationId = `test-${randomUUID()}`;
    const res = await post(t.gateway, { query: 'query Me { me { tenant { name } } }', operationName: 'Me' }, {
      authorization: `Bearer ${token}`,
      'x-correlation-id': correlationId,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-correlation-id')).toBe(correlationId);
    await res.json();
    const lines = await until('the access lines', async () => (requests(correlationId).length >= 2 ? requests(correlationId) : undefined));
    const gateway = lines.filter((l) => l.service === 'gateway');
    expect(gateway).toEqual([
      expect.objectContaining({ level: 30, method: 'POST', route: '/graphql', operation: 'Me', status: 200, outcome: 'ok', tenantId }),
    ]);
    expect(typeof at(gateway, 0).durationMs).toBe('number');
    // The subgraph names the fetch the gateway planned for it.
    expect(lines.filter((l) => l.service === 'tenant')).toEqual([
      expect.objectContaining({ route: '/graphql', operation: 'Me__tenant__0', status: 200, outcome: 'ok', tenantId }),
    ]);
  });

  it('an error keeps its code in the line; a request with no correlation id gets a new one, echoed to the client', async () => {
    const res = await post(t.gateway, { query: 'query Me { me { tenant { name } } }' });
    const id = res.headers.get('x-correlation-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    await res.text();
    const atGateway = (cid: string): Line[] | undefined => {
      const found = requests(cid).filter((l) => l.service === 'gateway');
      return found.length ? found : undefined;
    };
    const [line] = await until('the line', async () => atGateway(id!));
    expect(line).toMatchObject({ service: 'gateway', route: '/graphql', operation: 'Me', outcome: 'error', errorCode: 'UNAUTHENTICATED' });
    // Refused at the door (a malformed token, before GraphQL runs): still one line, with its status.
    const refused = await post(t.gateway, { query: '{ me { id } }' }, { authorization: 'Bearer not-a-token' });
    const refusedId = refused.headers.get('x-correlation-id')!;
    await refused.text();
    const [door] = await until('the refusal line', async () => atGateway(refusedId));
    expect(door).toMatchObject({ service: 'gateway', route: '/graphql', status: refused.status, outcome: 'error' });
    expect(refused.status).toBeGreaterThanOrEqual(400);
  });

  it('health, metrics and webhooks are logged too (the webhook fast path included), without their query strings', async () => {
    const workers = t.platform.urls.workers!;
    const tenantBase = t.platform.urls.tenant!.replace(/\/graphql$/, '');
    const ids = [randomUUID(), randomUUID(), randomUUID()] as const;
    await (await fetch(`${workers}/api/health?probe=secret-looking`, { headers: { 'x-correlation-id': ids[0] } })).text();
    await (await fetch(`${workers}/metrics`, { headers: { 'x-correlation-id': ids[1] } })).text();
    const hook = await fetch(`${tenantBase}/webhooks/stripe/${randomUUID()}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': 't=1,v1=00', 'x-correlation-id': ids[2] },
      body: JSON.stringify({ id: 'evt_x', card: '4242424242424242' }),
    });
    expect(hook.status).toBe(404);
    await hook.text();
    const lines = await until('three lines', async () => {
      const found = ids.map((id) => requests(id));
      return found.every((f) => f.length === 1) ? found.map((f) => f[0]) : undefined;
    });
    expect(lines).toEqual([
      expect.objectContaining({ service: 'workers', method: 'GET', route: '/api/health', status: 200, outcome: 'ok' }),
      expect.objectContaining({ service: 'workers', method: 'GET', route: '/metrics', status: 200, outcome: 'ok' }),
      expect.objectContaining({ service: 'tenant', method: 'POST', status: 404, outcome: 'error' }),
    ]);
    expect(String(at(lines, 2).route)).toMatch(/^\/webhooks\/stripe\/[0-9a-f-]{36}$/);
    expect(out.text()).not.toContain('secret-looking');
    expect(out.text()).not.toContain('4242424242424242');
  });

  it('a job logs one line with the correlation id of the request that caused it, its tenant, outcome and duration', async () => {
    const correlationId = `test-${randomUUID()}`;
    const res = await post(
      t.gateway,
      { query: 'mutation Buy { requestPurchase(amountAudCents: "2500", idempotencyKey: "access-log-1") { id } }' },
      { authorization: `Bearer ${token}`, 'x-correlation-id': correlationId },
    );
    const body = (await res.json()) as { data: { requestPurchase: { id: string } } };
    expect(body.data.requestPurchase.id).toBeTruthy();
    const jobs = await until('the purchase job line', async () => {
      const found = out.lines.filter((l) => l.msg === 'job' && l.correlationId === correlationId && l.queue === 'purchases');
      return found.length ? found : undefined;
    });
    expect(jobs).toEqual([expect.objectContaining({ level: 30, tenantId, job: 'execute', outcome: 'ok', attempt: 1 })]);
    expect(typeof at(jobs, 0).durationMs).toBe('number');
    expect(at(jobs, 0).jobId).toBeTruthy();
  });

  it('never logs credentials', () => {
    expect(out.text()).not.toContain(token);
    expect(out.text()).not.toContain(PASSWORD);
  });
});
