import type { RemoteGraphQLDataSource } from '@apollo/gateway';
import type { Fetcher } from '@apollo/utils.fetcher';
import { currentCorrelationId } from '../lib/logger';
import { CORRELATION_ATTRIBUTE, traceOutgoing, tracingEnabled } from '../lib/tracing';

/**
 * Each fetch the data source makes to its subgraph runs under a CLIENT span whose traceparent goes
 * in the request headers (beside the gateway's signature, which covers the body only, not headers).
 * Attributes: the subgraph, its URL and the status; never the query, variables or credentials.
 */
export function tracedSubgraph<T extends RemoteGraphQLDataSource<never>>(subgraph: string, source: T): T {
  if (!tracingEnabled()) return source;
  const fetcher: Fetcher = source.fetcher;
  source.fetcher = (url, init) => {
    const correlationId = currentCorrelationId();
    const target = new URL(url);
    return traceOutgoing(
      `subgraph ${subgraph}`,
      {
        'abt.subgraph': subgraph,
        'http.request.method': init?.method ?? 'POST',
        'server.address': target.hostname,
        'server.port': Number(target.port || (target.protocol === 'https:' ? 443 : 80)),
        'url.full': `${target.origin}${target.pathname}`,
        ...(correlationId ? { [CORRELATION_ATTRIBUTE]: correlationId } : {}),
      },
      (headers) => fetcher(url, { ...init, headers: { ...init?.headers, ...headers } }),
      (res) => res.status,
    );
  };
  return source;
}
