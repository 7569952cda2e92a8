import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

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
