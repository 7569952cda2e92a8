import type { RemoteGraphQLDataSource } from '@apollo/gateway';
import type { Fetcher, FetcherResponse } from '@apollo/utils.fetcher';

type Buffered = { status: number; statusText: string; headers: [string, string][]; body: string };

/** A query (never a mutation): `{"query":"query …"` or the shorthand `{"query":"{ …"`. */
const isQuery = (body: string): boolean => /^\{"query":"\s*(query\b|\{)/.test(body);

/**
 * Shares one subgraph fetch among identical queries in flight at the same moment: same subgraph
 * URL, same caller credential (`authorization`), same body. Only reads (queries), and only while the
 * first is in flight, so nothing is cached and no caller sees another credential's answer.
 * Each caller gets its own copy of the response. (Hive Gateway does the same by default.)
 * Not wired into gateway/gateway.ts yet: a trial run showed intermittent INTERNAL_SERVER_ERRORs
 * (docs/benchmarks.md, "Query path"), cause not found.
 */
export function deduplicated<T extends RemoteGraphQLDataSource<never>>(source: T): T {
  const fetcher: Fetcher = source.fetcher;
  const inflight = new Map<string, Promise<Buffered>>();
  source.fetcher = async (url, init) => {
    const body = typeof init?.body === 'string' ? init.body : undefined;
    if (body === undefined || !isQuery(body)) return fetcher(url, init);
    const authorization = init?.headers?.authorization ?? '';
    const key = `${url}\n${authorization}\n${body}`;
    let shared = inflight.get(key);
    if (!shared) {
      shared = (async () => {
        const res = await fetcher(url, init);
        const headers: [string, string][] = [...res.headers];
        return { status: res.status, statusText: res.statusText, headers, body: await res.text() };
      })();
      inflight.set(key, shared);
      void shared.then(
        () => inflight.delete(key),
        () => inflight.delete(key),
      );
    }
    const b = await shared;
    const copy: FetcherResponse = new Response(b.body, { status: b.status, statusText: b.statusText, headers: b.headers });
    return copy;
  };
  return source;
}
