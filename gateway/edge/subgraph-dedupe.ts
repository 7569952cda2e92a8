import type { RemoteGraphQLDataSource } from '@apollo/gateway';
import type { Fetcher, FetcherRequestInit, FetcherResponse } from '@apollo/utils.fetcher';

/** A subgraph answer read once, from which every caller gets its own fresh `Response`. */
type Buffered = { status: number; statusText: string; contentType: string | null; cacheControl: string | null; body: string };

/**
 * The request headers that can change a subgraph's answer to the same body: the credential (who, so
 * which tenant and role) and the client address (login throttling). Everything else the gateway sends
 * (correlation id, the signature, content type) does not.
 */
const ANSWER_HEADERS = ['authorization', 'x-forwarded-for'] as const;

/** A query (never a mutation): `{"query":"query …"` or the shorthand `{"query":"{ …"`. */
const isQuery = (body: string): boolean => /^\{"query":"\s*(query\b|\{)/.test(body);

/** How long a subgraph said its answer is the same for everyone: `max-age=N, public` (Apollo's cache-control) → N s in ms; else 0. */
export function publicMaxAgeMs(cacheControl: string | null): number {
  const m = /^max-age=(\d+), public$/.exec(cacheControl ?? '');
  return m?.[1] === undefined ? 0 : Number(m[1]) * 1000;
}

export type DedupeOptions = {
  /** The subgraph's name: part of every key, so two subgraphs never share an answer whatever their URLs. */
  subgraph: string;
  /** At most this many public answers kept (oldest dropped first). Default 256. */
  maxPublicEntries?: number;
  now?: () => number;
};

/**
 * Two ways a subgraph fetch is saved, both for queries only (a mutation is always sent):
 * - in flight: identical queries of the same caller at the same moment share one fetch. "Identical"
 *   is the subgraph, its URL, the exact body (query, variables, representations) and every header that
 *   can change the answer (ANSWER_HEADERS), so no caller ever sees another credential's (another
 *   tenant's) answer. Hive Gateway does the same by default.
 * - public answers: a response the subgraph marked `Cache-Control: max-age=N, public` (only when
 *   every field of it is public, e.g. `btcPrice`) is reused for the same subgraph, URL and body,
 *   whoever asks, for N seconds. Errors are never marked so, and nothing private is kept at all.
 * Every caller gets its own Response, built from the parsed status, body and the two headers Apollo
 * reads (content type, cache control), never the shared one's consumed body or hop-by-hop headers.
 * A fetch whose connection broke before an answer is sent again once (queries are reads); one that
 * still fails fails only its own caller: the callers waiting on it send their own.
 */
export function deduplicated<T extends RemoteGraphQLDataSource<never>>(source: T, opts: DedupeOptions): T {
  const fetcher: Fetcher = source.fetcher;
  const now = opts.now ?? Date.now;
  const maxPublic = opts.maxPublicEntries ?? 256;
  const inflight = new Map<string, Promise<Buffered>>();
  const publicAnswers = new Map<string, { until: number; answer: Buffered }>();

  const send = async (url: string, init: FetcherRequestInit | undefined, publicKey: string): Promise<Buffered> => {
    // A query is safe to send again when the connection broke before an answer (a kept-alive socket
    // the subgraph closed as it was reused): once, at once.
    const res = await fetcher(url, init).catch((err: unknown) => {
      if (!isBrokenConnection(err)) throw err;
      return fetcher(url, init);
    });
    const answer: Buffered = {
      status: res.status,
      statusText: res.statusText,
      contentType: res.headers.get('content-type'),
      cacheControl: res.headers.get('cache-control'),
      body: await res.text(),
    };
    const maxAge = res.status === 200 ? publicMaxAgeMs(answer.cacheControl) : 0;
    if (maxAge > 0) {
      publicAnswers.delete(publicKey);
      publicAnswers.set(publicKey, { until: now() + maxAge, answer });
      while (publicAnswers.size > maxPublic) {
        const oldest = publicAnswers.keys().next();
        if (oldest.done) break;
        publicAnswers.delete(oldest.value);
      }
    }
    return answer;
  };

  source.fetcher = async (url, init) => {
    const body = typeof init?.body === 'string' ? init.body : undefined;
    if (body === undefined || !isQuery(body)) return fetcher(url, init);
    const publicKey = JSON.stringify([opts.subgraph, url, body]);
    const cached = publicAnswers.get(publicKey);
    if (cached && cached.until > now()) return responseOf(cached.answer);
    if (cached) publicAnswers.delete(publicKey);

    const headers = init?.headers ?? {};
    const key = JSON.stringify([opts.subgraph, url, body, ...ANSWER_HEADERS.map((h) => headers[h] ?? null)]);
    const shared = inflight.get(key);
    if (shared) {
      const answer = await shared.catch(() => undefined);
      return responseOf(answer ?? (await send(url, init, publicKey)));
    }
    const mine = send(url, init, publicKey);
    inflight.set(key, mine);
    try {
      return responseOf(await mine);
    } finally {
      inflight.delete(key);
    }
  };
  return source;
}

/** The connection failed under the request (reset, hang-up, closed), as undici or minipass-fetch report it. */
export function isBrokenConnection(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 3; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_SOCKET' || code === 'UND_ERR_CLOSED') return true;
    if (/socket hang up|ECONNRESET|other side closed/.test(e.message)) return true;
  }
  return false;
}

function responseOf(b: Buffered): FetcherResponse {
  const headers: Record<string, string> = {};
  if (b.contentType !== null) headers['content-type'] = b.contentType;
  if (b.cacheControl !== null) headers['cache-control'] = b.cacheControl;
  // 204/205/304 carry no body (the Response constructor refuses one).
  const res: FetcherResponse = new Response([204, 205, 304].includes(b.status) ? null : b.body, { status: b.status, statusText: b.statusText, headers });
  return res;
}
