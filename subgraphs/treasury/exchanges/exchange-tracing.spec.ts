import { randomUUID } from 'node:crypto';
import { startFakeKraken, type FakeKraken } from '../../../test/fakes/kraken.server';
import { startFakeOtlp, type FakeOtlp } from '../../../test/fakes/otlp.server';
import { withCorrelation } from '../../../lib/logger';
import { CORRELATION_ATTRIBUTE, startTracing, traceJob } from '../../../lib/tracing';
import { sendHttp, type FetchLike } from './exchange-http';
import { ExchangeError } from './exchange.types';
import { KrakenClient } from './kraken.client';

/** Outbound exchange calls as CLIENT spans, received by a real OTLP/HTTP receiver (as in lib/tracing.spec.ts). */
describe('exchange calls are traced, with no credential in any span', () => {
  let otlp: FakeOtlp;
  let kraken: FakeKraken;
  /** Every header the client sent, by request, as fetch received them. */
  const sent: Record<string, string>[] = [];
  const recording: FetchLike = (input, init) => {
    sent.push(Object.fromEntries(new Headers(init?.headers).entries()));
    return fetch(input, init);
  };

  beforeAll(async () => {
    otlp = await startFakeOtlp();
    kraken = await startFakeKraken({ priceAudPerBtc: '100000.0', feeBps: 26 });
  });
  afterAll(async () => {
    await kraken.close();
    await otlp.close();
  });

  it('a Kraken market buy: one CLIENT span per call, named by its templated operation, with the correlation id', async () => {
    const t = startTracing({ tracesUrl: `${otlp.url}/v1/traces`, sampleRatio: 1 }, ['treasury']);
    const client = new KrakenClient({ apiKey: kraken.apiKey, apiSecret: kraken.apiSecret, baseUrl: kraken.url, fetchImpl: recording });
    const clientOrderId = randomUUID();
    const order = await withCorrelation('c-kraken', {}, () => client.placeMarketBuy(clientOrderId, 10_000n));
    expect(order.status).toBe('FILLED');
    await t.stop();

    const spans = otlp.spans().filter((s) => s.attributes['abt.exchange'] === 'kraken');
    const add = spans.find((s) => s.name === 'kraken POST /0/private/AddOrder');
    expect(add).toMatchObject({ service: 'treasury', kind: 3, statusCode: 0 });
    expect(add?.attributes).toEqual({
      'abt.exchange': 'kraken',
      'abt.exchange.operation': 'POST /0/private/AddOrder',
      'abt.exchange.mutation': true,
      'http.request.method': 'POST',
      'server.address': '127.0.0.1',
      'server.port': Number(new URL(kraken.url).port),
      'http.response.status_code': 200,
      [CORRELATION_ATTRIBUTE]: 'c-kraken',
    });
    // Every call the client made has its span (AddOrder, then reading the order back).
    expect(spans.length).toBe(kraken.requests().length);
    expect(spans.length).toBeGreaterThanOrEqual(2);

    // No key, secret, signature, nonce, body or client order id in any span; no trace header sent out.
    const signatures = sent.map((h) => h['api-sign']).filter((v): v is string => typeof v === 'string');
    expect(signatures.length).toBeGreaterThanOrEqual(1);
    const text = JSON.stringify(spans);
    for (const secret of [kraken.apiKey, kraken.apiSecret, clientOrderId, ...signatures]) expect(text).not.toContain(secret);
    expect(text).not.toMatch(/api-key|api-sign|nonce|authorization|ordertype|volume/i);
    for (const h of sent) expect(Object.keys(h)).not.toContain('traceparent');
  });

  it('inside a job, each exchange call is a child of the job’s span', async () => {
    const t = startTracing({ tracesUrl: `${otlp.url}/v1/traces`, sampleRatio: 1 }, ['workers']);
    const client = new KrakenClient({ apiKey: kraken.apiKey, apiSecret: kraken.apiSecret, baseUrl: kraken.url });
    await traceJob({ queue: 'purchases', name: 'execute', id: 'job-x', attempt: 1, correlationId: 'c-job' }, () => client.quote());
    await t.stop();
    const job = otlp.spans().find((s) => s.attributes['messaging.message.id'] === 'job-x');
    const call = otlp.spans().find((s) => s.name === 'kraken GET /0/public/Ticker' && s.traceId === job?.traceId);
    expect(call).toMatchObject({ service: 'workers', kind: 3, parentSpanId: job?.spanId });
  });

  it('a refused connection: an error span, the call still fails as UNAVAILABLE', async () => {
    const t = startTracing({ tracesUrl: `${otlp.url}/v1/traces`, sampleRatio: 1 }, ['treasury']);
    const err = await sendHttp({ exchange: 'swyftx', url: 'http://127.0.0.1:1/orders/?token=sekrit-token', method: 'POST', timeoutMs: 2000, mutation: true }).catch(
      (e: unknown) => e,
    );
    await t.stop();
    expect(err).toBeInstanceOf(ExchangeError);
    expect((err as ExchangeError).kind).toBe('UNAVAILABLE');
    const span = otlp.spans().find((s) => s.attributes['abt.exchange'] === 'swyftx');
    expect(span).toMatchObject({ name: 'swyftx POST /orders/', kind: 3, statusCode: 2 });
    expect(JSON.stringify(span)).not.toContain('sekrit-token');
  });

  it('with tracing off, calls run unchanged and nothing is exported', async () => {
    const before = otlp.spans().length;
    const client = new KrakenClient({ apiKey: kraken.apiKey, apiSecret: kraken.apiSecret, baseUrl: kraken.url });
    expect((await client.quote()).priceAudPerBtc).toBe('100000.0');
    expect(otlp.spans().length).toBe(before);
  });
});
