import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gql } from 'graphql-request';
import { openAppOrm } from '../../lib/db/orm';
import { TenantDirectory } from '../../lib/db/tenant-context';
import { TenantTransactions } from '../../lib/db/tenant-tx';
import type { BulkJob, JobQueue, JobPayload } from '../../lib/queue';
import { tenantEntities } from '../../subgraphs/tenant';
import { sweepWebhookDeliveries } from '../../subgraphs/tenant/endpoints/webhook-sweeper';
import { docSnippetVerifier } from '../../subgraphs/tenant/endpoints/webhook-doc-snippet';
import { client, errorCodes, startTestPlatform, type TestPlatform } from '../helpers/platform';
import { until } from '../helpers/wait';

/**
 * Outbound webhooks (#12): a fill in the treasury loop becomes a notice, the webhook sink claims one
 * delivery per subscribed endpoint, and a real local HTTP receiver verifies Liquid-Signature with the
 * snippet published in docs/webhooks-outbound.md. A failing endpoint (500s) is retried and logged while
 * a healthy one gets its delivery at once; replay and rotation work; another tenant sees nothing.
 */

const PASSWORD = 'Correct-Horse-42-Battery';
type Session = { token: string; tenantId: string };
type Received = { path: string; headers: IncomingHttpHeaders; body: string; at: number };
type Delivery = { id: string; eventId: string; status: string; attempts: number; replayOf: string | null; attemptLog: { attempt: number; statusCode: number | null; latencyMs: number; error: string | null }[] };

const CREATE = gql`mutation ($i: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $i) { secret endpoint { id url eventTypes enabled } } }`;
const LIST = gql`query { webhookEndpoints { id url } }`;
const DELIVERIES = gql`query ($e: ID!) { webhookDeliveries(endpointId: $e) { id eventId status attempts replayOf attemptLog { attempt statusCode latencyMs error } } }`;
const REPLAY = gql`mutation ($id: ID!) { replayWebhookDelivery(id: $id) { id replayOf status } }`;
const ROTATE = gql`mutation ($id: ID!) { rotateWebhookEndpointSecret(id: $id) { secret endpoint { previousSecretUntil } } }`;
const BUY = gql`mutation ($a: AudCents!, $k: String!) { requestPurchase(amountAudCents: $a, idempotencyKey: $k) { id } }`;

describe('outbound webhooks: signed deliveries to a real HTTP receiver (real PostgreSQL)', () => {
  let t: TestPlatform;
  let receiver: Server;
  let base: string;
  const received: Received[] = [];
  let a: Session;
  let b: Session;
  const verify = docSnippetVerifier();

  const signUp = async (tenantName: string, email: string): Promise<Session> => {
    const r = await client(t.gateway).request<{ signUp: { accessToken: string; tenant: { id: string } } }>(
      gql`mutation ($i: SignUpInput!) { signUp(input: $i) { accessToken tenant { id } } }`,
      { i: { tenantName, email, password: PASSWORD } },
    );
    return { token: r.signUp.accessToken, tenantId: r.signUp.tenant.id };
  };
  const create = async (s: Session, path: string): Promise<{ id: string; secret: string }> => {
    const r = await client(t.gateway, s.token).request<{ createWebhookEndpoint: { secret: string; endpoint: { id: string } } }>(CREATE, {
      i: { url: `${base}${path}`, eventTypes: ['purchase.filled', 'purchase.failed'] },
    });
    return { id: r.createWebhookEndpoint.endpoint.id, secret: r.createWebhookEndpoint.secret };
  };
  const deliveries = async (s: Session, endpointId: string): Promise<Delivery[]> =>
    (await client(t.gateway, s.token).request<{ webhookDeliveries: Delivery[] }>(DELIVERIES, { e: endpointId })).webhookDeliveries;
  const at = (path: string): Received[] => received.filter((r) => r.path === path);

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
        res.statusCode = req.url === '/failing' ? 500 : 204;
        res.end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    t = await startTestPlatform();
    a = await signUp('Hooks A Pty Ltd', 'owner@a.hooks.example');
    b = await signUp('Hooks B Pty Ltd', 'owner@b.hooks.example');
  }, 120_000);
  afterAll(async () => {
    await t?.stop();
    await new Promise((r) => receiver?.close(r));
  });

  it('refuses a non-https URL and an unknown event type, storing nothing', async () => {
    const c = client(t.gateway, a.token);
    expect(await errorCodes(c.request(CREATE, { i: { url: 'http://example.com/hook', eventTypes: ['purchase.filled'] } }))).toEqual(['BAD_USER_INPUT']);
    expect(await errorCodes(c.request(CREATE, { i: { url: 'https://example.com/hook', eventTypes: ['purchase.exploded'] } }))).toEqual(['BAD_USER_INPUT']);
    expect(await errorCodes(c.request(CREATE, { i: { url: 'not a url', eventTypes: ['purchase.filled'] } }))).toEqual(['BAD_USER_INPUT']);
    expect((await c.request<{ webhookEndpoints: unknown[] }>(LIST)).webhookEndpoints).toEqual([]);
  });

  it('a fill is delivered signed to the healthy endpoint at once, while the failing one is retried and logged; replay, rotation and isolation hold', async () => {
    const healthy = await create(a, '/healthy');
    const failing = await create(a, '/failing');
    expect(healthy.secret).toMatch(/^whsec_/);

    const { requestPurchase } = await client(t.gateway, a.token).request<{ requestPurchase: { id: string } }>(BUY, { a: '25000', k: `hooks-${randomUUID()}` });
    const got = await until('the healthy delivery', () => Promise.resolve(at('/healthy')[0]), 60_000);
    const body = JSON.parse(got.body) as { type: string; subjectId: string };
    expect(body).toMatchObject({ type: 'purchase.filled', subjectId: requestPurchase.id });
    const sig = String(got.headers['liquid-signature']);
    expect(verify(sig, got.body, healthy.secret)).toBe(true);
    expect(verify(sig, got.body, failing.secret)).toBe(false);
    expect(got.headers['liquid-event-id']).toBeDefined();
    // The failing endpoint's first attempt happened too, and did not hold the healthy one up.
    const firstFail = await until('the first failing attempt', () => Promise.resolve(at('/failing')[0]), 30_000);
    expect(Math.abs(firstFail.at - got.at)).toBeLessThan(10_000);
    const [hd] = await deliveries(a, healthy.id);
    expect(hd).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
    expect(hd?.attemptLog[0]).toMatchObject({ attempt: 1, statusCode: 204, error: null });

    // The retry (30 s later under the production schedule) is logged with its attempt number and error.
    const retried = await until(
      'the failing endpoint retried',
      async () => {
        const [d] = await deliveries(a, failing.id);
        return d && d.attemptLog.length >= 2 ? d : undefined;
      },
      60_000,
    );
    expect(retried.status).toBe('RETRYING');
    expect(retried.attemptLog.map((x) => [x.attempt, x.statusCode, x.error])).toEqual([
      [1, 500, 'HTTP 500'],
      [2, 500, 'HTTP 500'],
    ]);
    expect(at('/failing').every((r) => verify(String(r.headers['liquid-signature']), r.body, failing.secret))).toBe(true);

    // Another tenant can neither list, read nor replay any of it.
    expect((await client(t.gateway, b.token).request<{ webhookEndpoints: unknown[] }>(LIST)).webhookEndpoints).toEqual([]);
    expect(await errorCodes(client(t.gateway, b.token).request(DELIVERIES, { e: healthy.id }))).toEqual(['NOT_FOUND']);
    expect(await errorCodes(client(t.gateway, b.token).request(REPLAY, { id: hd!.id }))).toEqual(['NOT_FOUND']);

    // Rotation: a replay during the overlap carries two v1= and verifies with both secrets.
    const { rotateWebhookEndpointSecret: rot } = await client(t.gateway, a.token).request<{ rotateWebhookEndpointSecret: { secret: string; endpoint: { previousSecretUntil: string } } }>(ROTATE, { id: healthy.id });
    expect(rot.secret).not.toBe(healthy.secret);
    expect(new Date(rot.endpoint.previousSecretUntil).getTime()).toBeGreaterThan(Date.now() + 23 * 3600_000);
    const { replayWebhookDelivery: rep } = await client(t.gateway, a.token).request<{ replayWebhookDelivery: { id: string; replayOf: string } }>(REPLAY, { id: hd!.id });
    expect(rep.replayOf).toBe(hd!.id);
    const again = await until('the replayed delivery', () => Promise.resolve(at('/healthy').find((r) => r.headers['liquid-delivery-id'] === rep.id)), 30_000);
    expect(again.body).toBe(got.body);
    expect(again.headers['liquid-event-id']).toBe(got.headers['liquid-event-id']);
    const rsig = String(again.headers['liquid-signature']);
    expect(rsig.split(',').filter((p) => p.startsWith('v1='))).toHaveLength(2);
    expect(verify(rsig, again.body, rot.secret)).toBe(true);
    expect(verify(rsig, again.body, healthy.secret)).toBe(true);
  }, 180_000);

  it('the sweeper re-enqueues a delivery whose next attempt is overdue (its job was lost), and nothing else', async () => {
    const sql = <T>(q: string, params: unknown[] = []): Promise<T[]> => t.db.owner.em.getConnection().execute<T[]>(q, params);
    const [d] = await sql<{ id: string; attempts: number }>(`select id::text as id, attempts from pool.webhook_delivery where tenant_id = ? and status = 'RETRYING' limit 1`, [a.tenantId]);
    expect(d).toBeDefined();
    await sql(`update pool.webhook_delivery set next_attempt_at = now() - interval '1 hour' where tenant_id = ? and id = ?`, [a.tenantId, d!.id]);
    const added: { name: string; data: JobPayload; jobId: string }[] = [];
    const queue: JobQueue = {
      kind: 'in-process',
      add: (_q, name, data, opts) => Promise.resolve(void added.push({ name, data, jobId: opts.jobId })),
      addBulk: (jobs: BulkJob[]) => Promise.resolve(void jobs.forEach((j) => added.push({ name: j.name, data: j.data, jobId: j.opts.jobId }))),
      process: () => undefined,
      close: () => Promise.resolve(),
    };
    const orm = await openAppOrm(t.db.appUrl, tenantEntities, 2);
    try {
      expect(await sweepWebhookDeliveries(orm, new TenantTransactions(orm, new TenantDirectory(orm)), queue)).toBe(1);
    } finally {
      await orm.close(true);
    }
    expect(added).toEqual([{ name: 'webhook.attempt', data: { tenantId: a.tenantId, deliveryId: d!.id, attempt: d!.attempts + 1 }, jobId: `${d!.id}.${d!.attempts + 1}.swept` }]);
  });
});
