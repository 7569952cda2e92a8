import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every process's Prometheus registry (served on /metrics by lib/http.ts). The alert rules and the
 * Grafana dashboard in ops/monitoring use only the names defined here, prom-client's default
 * metrics and the exporters listed in test/deploy/monitoring.test.ts.
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry });

export const graphqlRequests = new Counter({
  name: 'abt_graphql_requests_total',
  help: 'GraphQL operations handled, by service and outcome',
  labelNames: ['service', 'outcome'] as const,
  registers: [registry],
});

export const graphqlDuration = new Histogram({
  name: 'abt_graphql_request_duration_seconds',
  help: 'GraphQL operation latency by service',
  labelNames: ['service'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [registry],
});

export const jobsProcessed = new Counter({
  name: 'abt_jobs_total',
  help: 'Jobs processed by queue and outcome',
  labelNames: ['queue', 'outcome'] as const,
  registers: [registry],
});

// ── HTTP: response time, throughput and errors by endpoint ──────────────────────────────────────

/** 3 s is a bucket boundary: the p95 alert's threshold. */
export const httpDuration = new Histogram({
  name: 'abt_http_request_duration_seconds',
  help: 'HTTP requests by service, method, endpoint (route template) and status code; _count is the throughput',
  labelNames: ['service', 'method', 'route', 'status'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 3, 5, 10],
  registers: [registry],
});

const WEBHOOK_PROVIDERS = new Set(['stripe', 'square', 'paypal']);
const EXACT_ROUTES = new Set(['/graphql', '/api/health', '/api/ready', '/metrics', '/']);

/** A request path → its endpoint, so ids never become label values (bounded cardinality). */
export function routeOf(path: string): string {
  const p = path.split('?', 1)[0] ?? '';
  if (EXACT_ROUTES.has(p)) return p;
  const provider = /^\/webhooks\/([^/]+)\/[^/]+\/?$/.exec(p)?.[1];
  if (provider !== undefined) return `/webhooks/${WEBHOOK_PROVIDERS.has(provider) ? provider : ':provider'}/:integrationId`;
  if (p.startsWith('/assets/')) return '/assets/*';
  return '/*';
}

const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD']);

/** One finished HTTP request (lib/http.ts calls it for every request of every role). */
export function observeHttpRequest(r: { service: string; method: string | undefined; path: string; status: number; seconds: number }): void {
  const method = r.method && METHODS.has(r.method) ? r.method : 'OTHER';
  httpDuration.observe({ service: r.service, method, route: routeOf(r.path), status: String(r.status) }, r.seconds);
}

// ── Purchases (business) ────────────────────────────────────────────────────────────────────────

export type PurchaseOutcome = 'FILLED' | 'PARTIALLY_FILLED' | 'FAILED' | 'CANCELLED';

export const purchases = new Counter({
  name: 'abt_purchases_total',
  help: 'Purchases that reached a final state, by tenant plan, exchange and outcome',
  labelNames: ['plan', 'exchange', 'outcome'] as const,
  registers: [registry],
});

export const purchaseDuration = new Histogram({
  name: 'abt_purchase_processing_seconds',
  help: 'From PENDING to the final state, by tenant plan, exchange and outcome',
  labelNames: ['plan', 'exchange', 'outcome'] as const,
  buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
  registers: [registry],
});

/** A purchase reached FILLED, PARTIALLY_FILLED, FAILED or CANCELLED after `seconds` of processing. */
export function observePurchaseOutcome(p: { plan: string; exchange: string; outcome: PurchaseOutcome; seconds: number }): void {
  const labels = { plan: p.plan, exchange: p.exchange, outcome: p.outcome };
  purchases.inc(labels);
  purchaseDuration.observe(labels, Math.max(0, p.seconds));
}

// ── Exchange API calls ──────────────────────────────────────────────────────────────────────────

export type ExchangeCallOutcome = 'ok' | 'client_error' | 'rate_limited' | 'server_error' | 'timeout' | 'network_error';

export const exchangeCallDuration = new Histogram({
  name: 'abt_exchange_request_duration_seconds',
  help: 'HTTP calls to exchange APIs by exchange, operation and outcome; _count counts the calls',
  labelNames: ['exchange', 'operation', 'outcome'] as const,
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30],
  registers: [registry],
});

export function observeExchangeCall(c: { exchange: string; operation: string; outcome: ExchangeCallOutcome; seconds: number }): void {
  exchangeCallDuration.observe({ exchange: c.exchange, operation: c.operation, outcome: c.outcome }, c.seconds);
}

// ── Queues and the outbox ───────────────────────────────────────────────────────────────────────

export type QueueDepth = { queue: string; state: 'waiting' | 'active' | 'delayed' | 'failed'; count: number };
type QueueDepthSource = () => Promise<QueueDepth[]>;
const queueDepthSources = new Set<QueueDepthSource>();

/** Jobs per queue and state, read from each registered queue at scrape time. */
export const queueDepth = new Gauge({
  name: 'abt_queue_depth',
  help: 'Jobs in each queue by state (waiting, active, delayed, failed), read at scrape time',
  labelNames: ['queue', 'state'] as const,
  registers: [registry],
  async collect() {
    this.reset();
    const all = await Promise.all([...queueDepthSources].map((s) => s().catch(() => [] as QueueDepth[])));
    for (const d of all.flat()) this.set({ queue: d.queue, state: d.state }, d.count);
  },
});

/** A queue the process consumes reports its depth while registered; returns the unregister function. */
export function registerQueueDepthSource(source: QueueDepthSource): () => void {
  queueDepthSources.add(source);
  return () => queueDepthSources.delete(source);
}

export const outboxLag = new Gauge({
  name: 'abt_outbox_lag_seconds',
  help: 'Age of the oldest outbox row the relay enqueued in its latest pass (0: nothing was waiting)',
  registers: [registry],
});

export const outboxLastPass = new Gauge({
  name: 'abt_outbox_last_pass_timestamp_seconds',
  help: 'When the outbox relay last completed a pass (unix seconds); a stalled relay stops moving it',
  registers: [registry],
});

export function observeOutboxPass(oldestAgeSeconds: number): void {
  outboxLag.set(Math.max(0, oldestAgeSeconds));
  outboxLastPass.set(Date.now() / 1000);
}

// ── Gateway, caches, dependencies, security ─────────────────────────────────────────────────────

export const subscribers = new Gauge({
  name: 'abt_gateway_subscribers',
  help: 'WebSocket (graphql-ws) clients connected to this gateway',
  registers: [registry],
});

export function setSubscriberCount(n: number): void {
  subscribers.set(n);
}

export const cacheLookups = new Counter({
  name: 'abt_cache_lookups_total',
  help: 'Cache lookups by cache and outcome (hit, miss); hit rate = hits / all',
  labelNames: ['cache', 'outcome'] as const,
  registers: [registry],
});

export function recordCacheLookup(cache: string, hit: boolean): void {
  cacheLookups.inc({ cache, outcome: hit ? 'hit' : 'miss' });
}

export const dependencyUp = new Gauge({
  name: 'abt_dependency_up',
  help: 'Result of the latest readiness check of each dependency (1 up, 0 down), by service and dependency',
  labelNames: ['service', 'dependency'] as const,
  registers: [registry],
});

export function setDependencyUp(service: string, dependency: string, up: boolean): void {
  dependencyUp.set({ service, dependency }, up ? 1 : 0);
}

export type SecurityEvent =
  | 'auth_failure'
  | 'mfa_failure'
  | 'account_locked'
  | 'webhook_signature_invalid'
  | 'gateway_signature_invalid'
  | 'audit_chain_broken'
  | 'cross_tenant_denied';

export const securityEvents = new Counter({
  name: 'abt_security_events_total',
  help: 'Security-relevant events by kind (failed logins, bad signatures, a broken audit chain, …)',
  labelNames: ['event'] as const,
  registers: [registry],
});

export function recordSecurityEvent(event: SecurityEvent): void {
  securityEvents.inc({ event });
}
