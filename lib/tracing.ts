import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import {
  context,
  createContextKey,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import type { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * OpenTelemetry traces (docs/operations.md#tracing): one tracer provider per role in this process
 * (service.name = the role), exporting over OTLP/HTTP; W3C traceparent across the gateway, the
 * subgraphs, the outbox and the job queue. Without a traces URL nothing is loaded and every helper
 * here runs its function as it is.
 */
export type TracingConfig = { tracesUrl?: string; sampleRatio: number };
export type Tracing = { readonly enabled: boolean; stop(): Promise<void> };

/** The span attribute carrying the request's / job's correlation id (the `correlationId` of its log lines). */
export const CORRELATION_ATTRIBUTE = 'abt.correlation_id';
/** At shutdown, how long the last spans may take to reach the collector before they are dropped. */
export const TRACING_SHUTDOWN_MS = 1000;

const NAME = 'liquid-abt';
const ROLE = createContextKey('abt.role');

type State = { providers: Map<string, NodeTracerProvider>; primary: string };
let state: State | undefined;

export function tracingEnabled(): boolean {
  return state !== undefined;
}

async function within(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p.catch(() => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/**
 * Starts tracing for these roles (once per process: a later call adds roles it lacks). The SDK is
 * loaded only when a traces URL is set; stop() flushes and shuts down within TRACING_SHUTDOWN_MS.
 */
export function startTracing(cfg: TracingConfig, roles: readonly string[]): Tracing {
  const url = cfg.tracesUrl;
  const [first] = roles;
  if (!url || first === undefined) return { enabled: false, stop: () => Promise.resolve() };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const sdk = require('./tracing-sdk') as typeof import('./tracing-sdk');
  const fresh = state === undefined;
  const s: State = (state ??= { providers: new Map(), primary: roles.includes('gateway') ? 'gateway' : first });
  const instance = randomUUID();
  const mine: string[] = [];
  for (const role of roles) {
    if (s.providers.has(role)) continue;
    s.providers.set(role, sdk.createProvider({ role, namespace: NAME, instance, url, sampleRatio: cfg.sampleRatio }));
    mine.push(role);
  }
  // The primary provider is the global one: @apollo/gateway's own spans (gateway.plan, gateway.fetch…) go to it.
  const primary = s.providers.get(s.primary);
  if (fresh && primary) sdk.registerGlobally(primary);
  return {
    enabled: true,
    stop: async () => {
      const providers = mine.map((r) => s.providers.get(r)).filter((p): p is NodeTracerProvider => p !== undefined);
      mine.forEach((r) => s.providers.delete(r));
      await within(Promise.all(providers.map((p) => p.shutdown())), TRACING_SHUTDOWN_MS);
      if (s.providers.size === 0 && state === s) {
        state = undefined;
        trace.disable();
        context.disable();
        propagation.disable();
      }
    },
  };
}

function tracerFor(role?: string): Tracer {
  const s = state;
  if (!s) return trace.getTracer(NAME);
  const r = role ?? context.active().getValue(ROLE);
  const provider = (typeof r === 'string' ? s.providers.get(r) : undefined) ?? s.providers.get(s.primary) ?? s.providers.values().next().value;
  return provider ? provider.getTracer(NAME) : trace.getTracer(NAME);
}

/** fn, to run later (an event listener) inside the span active now. */
export function bindToActiveSpan<F extends (...args: never[]) => unknown>(fn: F): F {
  return state ? context.bind(context.active(), fn) : fn;
}

/** The current context as a W3C `traceparent` (for the outbox and job data), when a sampled span is active. */
export function currentTraceparent(): string | undefined {
  if (!state) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent;
}

/** Adds the current trace context (traceparent, tracestate) to outgoing headers; a no-op when tracing is off. */
export function injectTraceHeaders(headers: Record<string, unknown>, ctx: Context = context.active()): void {
  if (state) propagation.inject(ctx, headers);
}

const contextOf = (traceparent: unknown): Context =>
  typeof traceparent === 'string' ? propagation.extract(ROOT_CONTEXT, { traceparent }) : ROOT_CONTEXT;

/** The route a span is named by: never a raw path (webhook ids, file keys), never the query string. */
export function routeOf(url: string | undefined): string {
  const [path = ''] = (url ?? '').split('?');
  if (/^\/(graphql|metrics|api\/health|api\/ready)\/?$/.test(path)) return path.replace(/\/$/, '');
  const webhook = /^\/webhooks\/([a-z]{1,16})\//.exec(path);
  if (webhook) return `/webhooks/${webhook[1]}/:integrationId`;
  const [, top] = /^\/([\w-]{1,32})/.exec(path) ?? [];
  return top ? `/${top}/*` : '/';
}

const endWith = (span: Span, err: unknown): void => {
  span.recordException({ name: (err as Error).name ?? 'Error', message: (err as Error).message ?? String(err) });
  span.setStatus({ code: SpanStatusCode.ERROR });
};

/**
 * Runs one HTTP request of `service` under a SERVER span, a child of the caller's traceparent: named
 * by method and route; attributes are the route, status and correlation id, never headers or bodies.
 */
export function traceRequest(req: IncomingMessage, res: ServerResponse, service: string, fn: () => void): void {
  if (!state) return fn();
  const route = routeOf(req.url);
  const correlationId = req.headers['x-correlation-id'];
  const parent = propagation.extract(ROOT_CONTEXT, req.headers);
  const span = tracerFor(service).startSpan(
    `${req.method ?? 'GET'} ${route}`,
    {
      kind: SpanKind.SERVER,
      attributes: {
        'http.request.method': req.method ?? 'GET',
        'http.route': route,
        'url.path': route,
        ...(typeof correlationId === 'string' ? { [CORRELATION_ATTRIBUTE]: correlationId } : {}),
      },
    },
    parent,
  );
  let ended = false;
  const end = (): void => {
    if (ended) return;
    ended = true;
    const status = res.writableFinished ? res.statusCode : 499;
    span.setAttribute('http.response.status_code', status);
    if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  };
  res.once('finish', end);
  res.once('close', end);
  context.with(trace.setSpan(parent.setValue(ROLE, service), span), fn);
}

const OPERATION_NAME = /^\w{1,100}$/;

/**
 * Names the request's span after its GraphQL operation (`query Dashboard`) and marks errors: the
 * operation's name and type only, never its text or variables.
 */
export const graphqlTracingPlugin: ApolloServerPlugin<BaseContext> = {
  requestDidStart() {
    const span = state ? trace.getActiveSpan() : undefined;
    if (!span?.isRecording()) return Promise.resolve();
    return Promise.resolve({
      didResolveOperation({ operation, operationName }) {
        const name = operationName && OPERATION_NAME.test(operationName) ? operationName : undefined;
        const type = operation?.operation;
        if (type) span.setAttribute('graphql.operation.type', type);
        if (name) span.setAttribute('graphql.operation.name', name);
        if (type) span.updateName(name ? `${type} ${name}` : type);
        return Promise.resolve();
      },
      willSendResponse({ response }) {
        const errors = response.body.kind === 'single' ? response.body.singleResult.errors : undefined;
        const code = errors?.[0]?.extensions?.code;
        if (errors?.length) {
          span.setAttribute('graphql.error.code', typeof code === 'string' ? code : 'UNKNOWN');
          span.setStatus({ code: SpanStatusCode.ERROR });
        }
        return Promise.resolve();
      },
    });
  },
};

/**
 * Runs an outgoing call under a CLIENT span of the current role, handing it the headers that carry
 * the span's context; `statusOf` reads the answer's HTTP status.
 */
export async function traceOutgoing<T>(name: string, attributes: Attributes, run: (headers: Record<string, string>) => Promise<T>, statusOf?: (t: T) => number): Promise<T> {
  if (!state) return run({});
  const span = tracerFor().startSpan(name, { kind: SpanKind.CLIENT, attributes });
  const headers: Record<string, string> = {};
  propagation.inject(trace.setSpan(context.active(), span), headers);
  try {
    const result = await run(headers);
    const status = statusOf?.(result);
    if (status !== undefined) {
      span.setAttribute('http.response.status_code', status);
      if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    }
    return result;
  } catch (err) {
    endWith(span, err);
    throw err;
  } finally {
    span.end();
  }
}

/**
 * A PRODUCER span for a message leaving through the outbox relay, a child of the request that wrote
 * it (`traceparent` from its row); returns the traceparent its job should carry and the end of the span.
 * Tracing off: the row's traceparent passes through unchanged.
 */
export function tracePublish(queue: string, jobId: string, traceparent: string | null, correlationId: string | null): { traceparent?: string; end: (err?: unknown) => void } {
  if (!state || !traceparent) return { traceparent: traceparent ?? undefined, end: () => undefined };
  const span = tracerFor('workers').startSpan(
    `publish ${queue}`,
    {
      kind: SpanKind.PRODUCER,
      attributes: {
        'messaging.system': 'bullmq',
        'messaging.operation.type': 'send',
        'messaging.destination.name': queue,
        'messaging.message.id': jobId,
        ...(correlationId ? { [CORRELATION_ATTRIBUTE]: correlationId } : {}),
      },
    },
    contextOf(traceparent),
  );
  const carrier: Record<string, string> = {};
  propagation.inject(trace.setSpan(ROOT_CONTEXT, span), carrier);
  return {
    traceparent: carrier.traceparent,
    end: (err) => {
      if (err !== undefined) endWith(span, err);
      span.end();
    },
  };
}

export type JobSpanInfo = { queue: string; name: string; id: string; attempt: number; correlationId: string; tenantId?: string; traceparent?: unknown };

/** Runs one attempt of a job under a CONSUMER span of the workers, a child of the traceparent it carries. */
export function traceJob<T>(job: JobSpanInfo, fn: () => Promise<T>): Promise<T> {
  if (!state) return fn();
  const parent = contextOf(job.traceparent).setValue(ROLE, 'workers');
  return tracerFor('workers').startActiveSpan(
    `process ${job.queue}`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        'messaging.system': 'bullmq',
        'messaging.operation.type': 'process',
        'messaging.destination.name': job.queue,
        'messaging.message.id': job.id,
        'abt.job.name': job.name,
        'abt.job.attempt': job.attempt,
        [CORRELATION_ATTRIBUTE]: job.correlationId,
        ...(job.tenantId ? { 'abt.tenant_id': job.tenantId } : {}),
      },
    },
    parent,
    async (span) => {
      try {
        return await fn();
      } catch (err) {
        endWith(span, err);
        throw err;
      } finally {
        span.end();
      }
    },
  );
}
