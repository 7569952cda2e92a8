/** Minimal fetch surface the REST feeds use, so tests and callers can inject their own. */
export type FetchLike = (
  url: string,
  init: { signal: AbortSignal; headers: Record<string, string> },
) => Promise<{ ok: boolean; status: number; text(): Promise<string> }>;

export const defaultFetch: FetchLike = (url, init) => fetch(url, init);

export class FeedHttpError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'FeedHttpError';
  }
}

// Bounds memory if an upstream (or a proxy error page) returns something huge.
const MAX_BODY_CHARS = 1_000_000;

/** GET url → body text; throws FeedHttpError on timeout, non-2xx or oversized bodies. `signal` aborts early (shutdown). */
export async function fetchText(
  url: string,
  opts: { timeoutMs: number; fetchImpl?: FetchLike; signal?: AbortSignal },
): Promise<string> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new FeedHttpError(`timed out after ${opts.timeoutMs} ms`)), opts.timeoutMs);
  const onAbort = (): void => controller.abort(new FeedHttpError('aborted'));
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.signal?.aborted) onAbort();
  try {
    const res = await (opts.fetchImpl ?? defaultFetch)(url, { signal: controller.signal, headers: { accept: 'application/json' } });
    const body = await res.text();
    if (!res.ok) throw new FeedHttpError(`HTTP ${res.status}`, res.status);
    if (body.length > MAX_BODY_CHARS) throw new FeedHttpError('response body too large', res.status);
    return body;
  } catch (err) {
    if (controller.signal.aborted && controller.signal.reason instanceof FeedHttpError) throw controller.signal.reason;
    if (err instanceof FeedHttpError) throw err;
    throw new FeedHttpError(err instanceof Error ? err.message : String(err));
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

/** Quote time: the upstream's own timestamp when it has a valid one, never later than our clock (skew). */
export function quoteTime(upstream: unknown, now: Date): Date {
  if (typeof upstream !== 'string') return now;
  const t = Date.parse(upstream);
  if (Number.isNaN(t)) return now;
  return t > now.getTime() ? now : new Date(t);
}
