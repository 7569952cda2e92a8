import { trace } from '@opentelemetry/api';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startFakeOtlp, type FakeOtlp } from '../test/fakes/otlp.server';
import { configureLogger, log, withCorrelation } from './logger';
import {
  CORRELATION_ATTRIBUTE,
  TRACING_SHUTDOWN_MS,
  currentTraceparent,
  routeOf,
  startTracing,
  traceJob,
  tracePublish,
  traceRequest,
  tracingEnabled,
} from './tracing';

const PARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

/** One request through traceRequest on a real HTTP server; resolves with what the handler saw. */
async function oneRequest(service: string, headers: Record<string, string> = {}, path = '/graphql'): Promise<{ traceparent?: string; active: boolean }> {
  let seen: { traceparent?: string; active: boolean } = { active: false };
  const server = createServer((req: IncomingMessage, res: ServerResponse) =>
    traceRequest(req, res, service, () => {
      seen = { traceparent: currentTraceparent(), active: trace.getActiveSpan() !== undefined };
      res.end('ok');
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port, path, method: 'POST', headers }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    r.on('error', reject);
    r.end();
  });
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return seen;
}

describe('tracing disabled (no OTEL_EXPORTER_OTLP_ENDPOINT): a no-op', () => {
  it('starts nothing, registers no provider and runs every wrapped function as it is', async () => {
    const t = startTracing({ sampleRatio: 1 }, ['gateway', 'workers']);
    expect(t.enabled).toBe(false);
    expect(tracingEnabled()).toBe(false);
    expect(trace.getTracer('x').startSpan('s').isRecording()).toBe(false);

    expect(await oneRequest('gateway', { traceparent: PARENT })).toEqual({ traceparent: undefined, active: false });
    await expect(traceJob({ queue: 'purchases', name: 'execute', id: 'j1', attempt: 1, correlationId: 'c1', traceparent: PARENT }, () => Promise.resolve(42))).resolves.toBe(42);
    await expect(traceJob({ queue: 'purchases', name: 'execute', id: 'j1', attempt: 1, correlationId: 'c1' }, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    // A row written by a traced process keeps its traceparent on the way through an untraced relay.
    const published = tracePublish('purchases', 'j1', PARENT, 'c1');
    expect(published.traceparent).toBe(PARENT);
    published.end();
    expect(tracePublish('purchases', 'j1', null, null).traceparent).toBeUndefined();
    await t.stop();
  });

  it('log lines carry no trace ids', () => {
    const lines: string[] = [];
    configureLogger('info', { write: (s: string) => void lines.push(s) });
    withCorrelation('c-off', {}, () => log().info('hello'));
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line.correlationId).toBe('c-off');
    expect(line).not.toHaveProperty('trace_id');
  });
});

describe('span names never carry raw paths', () => {
  it.each([
    ['/graphql', '/graphql'],
    ['/graphql?query=secret', '/graphql'],
    ['/api/health', '/api/health'],
    ['/webhooks/stripe/4f1c2c1e-1111-4222-8333-944444444444', '/webhooks/stripe/:integrationId'],
    ['/files/reports%2Fabc?sig=deadbeef', '/files/*'],
    ['/', '/'],
    [undefined, '/'],
  ])('%s → %s', (url, route) => expect(routeOf(url)).toBe(route));
});

describe('tracing enabled: spans reach a real OTLP/HTTP receiver', () => {
  let otlp: FakeOtlp;
  beforeAll(async () => {
    otlp = await startFakeOtlp();
  });
  afterAll(async () => {
    await otlp.close();
  });

  it('a request continues the caller’s trace, its job is a child of it, each span under its role’s service.name', async () => {
    const t = startTracing({ tracesUrl: `${otlp.url}/v1/traces`, sampleRatio: 1 }, ['gateway', 'workers']);
    expect(t.enabled).toBe(true);
    const seen = await oneRequest('gateway', { traceparent: PARENT, 'x-correlation-id': 'c-42', authorization: 'Bearer sekrit' }, '/webhooks/stripe/abc123');
    expect(seen.active).toBe(true);
    expect(seen.traceparent).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);

    const lines: string[] = [];
    configureLogger('info', { write: (s: string) => void lines.push(s) });
    const publish = tracePublish('purchases', 'job-1', seen.traceparent!, 'c-42');
    publish.end();
    await traceJob({ queue: 'purchases', name: 'execute', id: 'job-1', attempt: 1, correlationId: 'c-42', tenantId: 't1', traceparent: publish.traceparent }, () => {
      withCorrelation('c-42', {}, () => log().info('inside the job'));
      return Promise.resolve();
    });
    await t.stop();
    expect(tracingEnabled()).toBe(false);

    const spans = otlp.spans();
    const server = spans.find((s) => s.name === 'POST /webhooks/stripe/:integrationId');
    const producer = spans.find((s) => s.name === 'publish purchases');
    const job = spans.find((s) => s.name === 'process purchases');
    expect(server).toMatchObject({ service: 'gateway', traceId: '0af7651916cd43dd8448eb211c80319c', parentSpanId: 'b7ad6b7169203331', kind: 2 });
    expect(server?.attributes).toMatchObject({ 'http.request.method': 'POST', 'http.route': '/webhooks/stripe/:integrationId', 'http.response.status_code': 200, [CORRELATION_ATTRIBUTE]: 'c-42' });
    expect(producer).toMatchObject({ service: 'workers', traceId: server?.traceId, parentSpanId: server?.spanId, kind: 4 });
    expect(job).toMatchObject({ service: 'workers', traceId: server?.traceId, parentSpanId: producer?.spanId, kind: 5 });
    expect(job?.attributes).toMatchObject({ 'messaging.destination.name': 'purchases', 'messaging.message.id': 'job-1', [CORRELATION_ATTRIBUTE]: 'c-42', 'abt.tenant_id': 't1' });
    expect(job?.resource).toMatchObject({ 'service.name': 'workers', 'service.namespace': 'liquid-abt' });
    // Headers never become attributes.
    expect(JSON.stringify(spans)).not.toMatch(/sekrit|authorization/i);

    // The job's log line names its span.
    const line = JSON.parse(lines.find((l) => l.includes('inside the job'))!) as Record<string, unknown>;
    expect(line).toMatchObject({ correlationId: 'c-42', trace_id: job?.traceId, span_id: job?.spanId });
  });

  it('a failed job marks its span as an error', async () => {
    const t = startTracing({ tracesUrl: `${otlp.url}/v1/traces`, sampleRatio: 1 }, ['workers']);
    await expect(traceJob({ queue: 'reports', name: 'tax-report', id: 'job-2', attempt: 3, correlationId: 'c-2' }, () => Promise.reject(new Error('exchange down')))).rejects.toThrow();
    await t.stop();
    const span = otlp.spans().find((s) => s.attributes['messaging.message.id'] === 'job-2');
    expect(span).toMatchObject({ statusCode: 2, parentSpanId: undefined });
    expect(span?.attributes['abt.job.attempt']).toBe(3);
  });

  it('stops within its bound when the collector does not answer', async () => {
    const silent = createServer(() => undefined); // accepts, never answers
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    const t = startTracing({ tracesUrl: `http://127.0.0.1:${port}/v1/traces`, sampleRatio: 1 }, ['gateway']);
    await traceJob({ queue: 'audit', name: 'append', id: 'job-3', attempt: 1, correlationId: 'c-3' }, () => Promise.resolve());
    const t0 = Date.now();
    await t.stop();
    expect(Date.now() - t0).toBeLessThan(TRACING_SHUTDOWN_MS + 500);
    silent.closeAllConnections();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });
});
