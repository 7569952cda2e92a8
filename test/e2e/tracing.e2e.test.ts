import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import Stripe from 'stripe';
import { configureLogger } from '../../lib/logger';
import { CORRELATION_ATTRIBUTE } from '../../lib/tracing';
import { startFakeOtlp, type FakeOtlp, type ReceivedSpan } from '../fakes/otlp.server';
import { startTestPlatform, type TestPlatform } from '../helpers/platform';
import { until } from '../helpers/wait';

/**
 * OpenTelemetry end to end (#15): with OTEL_EXPORTER_OTLP_ENDPOINT pointing at a real OTLP/HTTP
 * receiver, one purchase requested through the gateway yields one trace: the gateway's operation, its
 * fetch of the treasury subgraph, the treasury's handling (a child of the propagated traceparent),
 * the outbox relay's publish and the workers' BullMQ job, each under its role's service.name, with
 * the request's correlation id; log lines carry the same trace id; no credential is in any span.
 */

const PASSWORD = 'Tracing-42-Battery-Staple';
const STRIPE_SECRET = `whsec_${randomUUID().replace(/-/g, '')}`;
const SERVER = 2;
const CLIENT = 3;
const PRODUCER = 4;
const CONSUMER = 5;

type Line = Record<string, unknown> & { msg: string };

function capture(): { lines: Line[]; stream: Writable } {
  const lines: Line[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Line);
      done();
    },
  });
  return { lines, stream };
}

async function gql<T>(url: string, query: string, variables: Record<string, unknown>, headers: Record<string, string> = {}): Promise<T> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query, variables }) });
  const body = (await res.json()) as { data?: T; errors?: unknown[] };
  if (!body.data || body.errors) throw new Error(`GraphQL failed: ${JSON.stringify(body.errors)}`);
  return body.data;
}

describe('tracing: gateway → subgraph → outbox → BullMQ job in one trace (real OTLP/HTTP receiver, PostgreSQL, Redis)', () => {
  let otlp: FakeOtlp;
  let t: TestPlatform;
  const out = capture();

  beforeAll(async () => {
    // Exported every 200 ms (read by the SDK from the process environment), so spans can be awaited while it runs.
    process.env.OTEL_BSP_SCHEDULE_DELAY = '200';
    otlp = await startFakeOtlp();
    t = await startTestPlatform({ redis: true, env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url } });
    configureLogger('info', out.stream);
  }, 120_000);
  afterAll(async () => {
    configureLogger('silent');
    delete process.env.OTEL_BSP_SCHEDULE_DELAY;
    await t?.stop();
    await otlp?.close();
  });

  it('a signed Stripe webhook relayed by the gateway is one trace with its payment-events job, and no signature in any span', async () => {
    const { signUp } = await gql<{ signUp: { accessToken: string } }>(
      t.gateway,
      'mutation SignUp($i: SignUpInput!) { signUp(input: $i) { accessToken } }',
      { i: { tenantName: 'Webhook Trace Pty Ltd', email: `hook-${randomUUID()}@example.com`, password: PASSWORD } },
    );
    const { connectPaymentIntegration: integration } = await gql<{ connectPaymentIntegration: { webhookUrl: string } }>(
      t.gateway,
      'mutation Connect($s: String!) { connectPaymentIntegration(input: { provider: STRIPE, name: "Stripe AU", stripeWebhookSecret: $s }) { webhookUrl } }',
      { s: STRIPE_SECRET },
      { authorization: `Bearer ${signUp.accessToken}` },
    );
    expect(new URL(integration.webhookUrl).origin).toBe(new URL(t.gateway).origin);
    const body = JSON.stringify({
      id: `evt_${randomUUID().replace(/-/g, '')}`,
      object: 'event',
      type: 'payment_intent.succeeded',
      created: Math.floor(Date.now() / 1000),
      data: { object: { id: 'pi_trace', object: 'payment_intent', amount: 4200, amount_received: 4200, currency: 'aud', status: 'succeeded' } },
    });
    const signature = Stripe.webhooks.generateTestHeaderString({ payload: body, secret: STRIPE_SECRET });
    const correlationId = `hook-${randomUUID()}`;
    const res = await fetch(integration.webhookUrl, { method: 'POST', body, headers: { 'content-type': 'application/json', 'stripe-signature': signature, 'x-correlation-id': correlationId } });
    expect(res.status).toBe(200);

    const root = await until('the gateway span of the delivery', () =>
      Promise.resolve(otlp.spans().find((s) => s.service === 'gateway' && s.kind === SERVER && s.attributes[CORRELATION_ATTRIBUTE] === correlationId)),
    );
    expect(root).toMatchObject({ name: 'POST /webhooks/stripe/:integrationId', parentSpanId: undefined });
    const tenant = await until('the tenant span, a child of the gateway’s', () =>
      Promise.resolve(otlp.spans().find((s) => s.service === 'tenant' && s.kind === SERVER && s.parentSpanId === root.spanId)),
    );
    expect(tenant.attributes).toMatchObject({ 'http.route': '/webhooks/stripe/:integrationId', 'http.response.status_code': 200 });
    const job = await until('the payment-events job in the same trace', () =>
      Promise.resolve(otlp.spans().find((s) => s.traceId === root.traceId && s.service === 'workers' && s.kind === CONSUMER && s.attributes['messaging.destination.name'] === 'payment-events')),
    );
    const publish = otlp.spans().find((s) => s.spanId === job.parentSpanId);
    expect(publish).toMatchObject({ name: 'publish payment-events', parentSpanId: tenant.spanId });
    const text = JSON.stringify(otlp.spans());
    expect(text).not.toContain(signature);
    expect(text).not.toContain(STRIPE_SECRET);
    expect(text).not.toContain(signUp.accessToken);
  });

  it('a purchase requested through the gateway is one trace across gateway, treasury and workers, with the correlation id and no secrets', async () => {
    const { signUp } = await gql<{ signUp: { accessToken: string } }>(
      t.gateway,
      'mutation SignUp($i: SignUpInput!) { signUp(input: $i) { accessToken } }',
      { i: { tenantName: 'Tracing Pty Ltd', email: `trace-${randomUUID()}@example.com`, password: PASSWORD } },
    );
    const token = signUp.accessToken;
    const correlationId = `trace-${randomUUID()}`;
    const { requestPurchase } = await gql<{ requestPurchase: { id: string } }>(
      t.gateway,
      'mutation Buy($a: AudCents!, $k: String!) { requestPurchase(amountAudCents: $a, idempotencyKey: $k) { id } }',
      { a: '2500', k: `trace-${randomUUID()}` },
      { authorization: `Bearer ${token}`, 'x-correlation-id': correlationId },
    );
    await until('the purchase to fill', async () => {
      const { purchase } = await gql<{ purchase: { status: string } }>(t.gateway, 'query P($id: ID!) { purchase(id: $id) { status } }', { id: requestPurchase.id }, { authorization: `Bearer ${token}` });
      return purchase.status === 'FILLED' ? true : undefined;
    });
    // Stopping flushes every role's exporter (bounded): what a rolling deploy's last spans rely on too.
    await t.platform.stop();

    const spans = otlp.spans();
    const root = spans.find((s) => s.service === 'gateway' && s.kind === SERVER && s.attributes[CORRELATION_ATTRIBUTE] === correlationId);
    expect(root).toBeDefined();
    const trace = spans.filter((s) => s.traceId === root!.traceId);
    const byId = new Map(trace.map((s) => [s.spanId, s]));
    const parentOf = (s: ReceivedSpan | undefined): ReceivedSpan | undefined => (s?.parentSpanId ? byId.get(s.parentSpanId) : undefined);

    // The gateway's operation: named by the operation, never its text.
    expect(root).toMatchObject({ name: 'mutation Buy', parentSpanId: undefined });
    expect(root!.attributes).toMatchObject({ 'graphql.operation.name': 'Buy', 'graphql.operation.type': 'mutation', 'http.route': '/graphql', 'http.response.status_code': 200 });

    // The gateway's fetch of the treasury subgraph, and the treasury's handling as its child.
    const fetch = trace.find((s) => s.service === 'gateway' && s.kind === CLIENT && s.attributes['abt.subgraph'] === 'treasury');
    expect(fetch?.attributes[CORRELATION_ATTRIBUTE]).toBe(correlationId);
    const treasury = trace.find((s) => s.service === 'treasury' && s.kind === SERVER && s.parentSpanId === fetch?.spanId);
    expect(treasury?.attributes).toMatchObject({ [CORRELATION_ATTRIBUTE]: correlationId, 'graphql.operation.type': 'mutation' });

    // The outbox row the treasury wrote → the relay's publish → the workers' job, each a child of the one before.
    const job = trace.find((s) => s.service === 'workers' && s.kind === CONSUMER && s.attributes['messaging.destination.name'] === 'purchases');
    expect(job?.attributes).toMatchObject({ 'messaging.system': 'bullmq', 'messaging.message.id': requestPurchase.id, [CORRELATION_ATTRIBUTE]: correlationId });
    const publish = parentOf(job);
    expect(publish).toMatchObject({ service: 'workers', kind: PRODUCER, name: 'publish purchases' });
    expect(parentOf(publish)).toBe(treasury);

    // One trace id across the roles, each with its own service.name.
    for (const service of ['gateway', 'treasury', 'workers']) expect(trace.some((s) => s.service === service)).toBe(true);

    // Log lines of the request and of its job carry its trace id.
    const logged = out.lines.filter((l) => l.correlationId === correlationId);
    expect(logged.some((l) => l.msg === 'request' && l.service === 'gateway' && l.trace_id === root!.traceId)).toBe(true);
    expect(logged.some((l) => l.msg === 'job' && l.trace_id === root!.traceId && l.span_id === job!.spanId)).toBe(true);

    // No credential, secret or password anywhere in any span (names, attributes, resources).
    const text = JSON.stringify(spans);
    const gatewaySecrets = t.platform.services.keys?.gatewaySecrets ?? [];
    for (const secret of [token, PASSWORD, STRIPE_SECRET, ...gatewaySecrets]) expect(text).not.toContain(secret);
    for (const s of spans) for (const key of Object.keys(s.attributes)) expect(key).not.toMatch(/authorization|cookie|password|secret|token|variables|document/i);
    expect(text).not.toMatch(/Bearer /);
    expect(text).not.toContain('requestPurchase(');
  });
});
