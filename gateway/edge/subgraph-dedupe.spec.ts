import { RemoteGraphQLDataSource } from '@apollo/gateway';
import type { FetcherRequestInit, FetcherResponse } from '@apollo/utils.fetcher';
import { deduplicated, publicMaxAgeMs } from './subgraph-dedupe';

type Answer = { status?: number; cacheControl?: string; fail?: string };

/**
 * A data source whose fetcher answers after a tick (so concurrent calls overlap) with the caller it
 * saw and a call number: a shared answer shows up as the same `n` for two callers.
 */
function counting(answer: (call: number) => Answer = () => ({}), clock = { t: 0 }): { source: RemoteGraphQLDataSource<never>; calls: () => number } {
  let n = 0;
  const source = new RemoteGraphQLDataSource<never>({ url: 'http://sub/graphql' });
  source.fetcher = async (_url: string, init?: FetcherRequestInit): Promise<FetcherResponse> => {
    const call = ++n;
    await new Promise((r) => setTimeout(r, 5));
    const a = answer(call);
    if (a.fail) throw Object.assign(new Error(a.fail), a.fail === 'read ECONNRESET' ? { code: 'ECONNRESET' } : {});
    const headers: Record<string, string> = { 'content-type': 'application/json', 'content-length': '999', connection: 'keep-alive' };
    if (a.cacheControl) headers['cache-control'] = a.cacheControl;
    const res: FetcherResponse = new Response(JSON.stringify({ data: { n: call, caller: init?.headers?.authorization ?? null } }), { status: a.status ?? 200, headers });
    return res;
  };
  return { source: deduplicated(source, { subgraph: 'treasury', now: () => clock.t }), calls: () => n };
}

const init = (query: string, authorization: string, extra: Record<string, string> = {}, variables: Record<string, unknown> = {}): FetcherRequestInit => ({
  method: 'POST',
  headers: { authorization, 'content-type': 'application/json', 'x-correlation-id': `c-${Math.random()}`, ...extra },
  body: JSON.stringify({ query, variables }),
});
const URL_ = 'http://sub/graphql';
const json = async (r: FetcherResponse): Promise<unknown> => r.json();

describe('deduplicated subgraph fetches', () => {
  it('identical queries of the same caller in flight together share one fetch; each gets its own readable body', async () => {
    const { source, calls } = counting();
    const [a, b] = await Promise.all([source.fetcher(URL_, init('query Q{a}', 'Bearer x')), source.fetcher(URL_, init('query Q{a}', 'Bearer x'))]);
    expect(calls()).toBe(1);
    expect(await json(a)).toEqual({ data: { n: 1, caller: 'Bearer x' } });
    expect(await json(b)).toEqual({ data: { n: 1, caller: 'Bearer x' } });
    // Only the headers Apollo reads are rebuilt, never the shared response's hop-by-hop ones.
    expect(b.headers.get('content-type')).toBe('application/json');
    expect(b.headers.get('content-length')).toBeNull();
  });

  it('two tenants asking the same query at the same moment never share: each gets the answer to its own credential', async () => {
    const { source, calls } = counting();
    const tenantA = 'Bearer token-of-tenant-a';
    const tenantB = 'Bearer token-of-tenant-b';
    const answers = await Promise.all(
      [tenantA, tenantB, tenantA, tenantB].map(async (who) => json(await source.fetcher(URL_, init('query Overview{me{tenant{purchases{id}}}}', who)))),
    );
    expect(calls()).toBe(2);
    expect(answers.map((a) => (a as { data: { caller: string } }).data.caller)).toEqual([tenantA, tenantB, tenantA, tenantB]);
  });

  it('never shares across bodies (variables), client addresses, after the first answered, or for mutations', async () => {
    const { source, calls } = counting();
    await Promise.all([
      source.fetcher(URL_, init('query P($l:Int){p(limit:$l)}', 'Bearer x', {}, { l: 5 })),
      source.fetcher(URL_, init('query P($l:Int){p(limit:$l)}', 'Bearer x', {}, { l: 50 })),
    ]);
    expect(calls()).toBe(2);
    await Promise.all([
      source.fetcher(URL_, init('query Q{a}', 'Bearer x', { 'x-forwarded-for': '10.0.0.1' })),
      source.fetcher(URL_, init('query Q{a}', 'Bearer x', { 'x-forwarded-for': '10.0.0.2' })),
    ]);
    expect(calls()).toBe(4);
    await source.fetcher(URL_, init('query Q{a}', 'Bearer x'));
    await source.fetcher(URL_, init('query Q{a}', 'Bearer x'));
    expect(calls()).toBe(6);
    await Promise.all([source.fetcher(URL_, init('mutation M{a}', 'Bearer x')), source.fetcher(URL_, init('mutation M{a}', 'Bearer x'))]);
    expect(calls()).toBe(8);
  });

  it('a shared fetch that fails fails its own caller only; the callers waiting on it send their own', async () => {
    const { source, calls } = counting((call) => (call === 1 ? { fail: 'subgraph refused' } : {}));
    const [a, b] = await Promise.allSettled([source.fetcher(URL_, init('query Q{a}', 'Bearer x')), source.fetcher(URL_, init('query Q{a}', 'Bearer x'))]);
    expect(a.status).toBe('rejected');
    expect(b.status === 'fulfilled' ? await json(b.value) : b.reason).toEqual({ data: { n: 2, caller: 'Bearer x' } });
    expect(calls()).toBe(2);
  });

  it('a query whose connection broke before an answer is sent again once; other failures are not', async () => {
    const reset = counting((call) => (call === 1 ? { fail: 'read ECONNRESET' } : {}));
    expect(await json(await reset.source.fetcher(URL_, init('query Q{a}', 'Bearer x')))).toEqual({ data: { n: 2, caller: 'Bearer x' } });
    const twice = counting(() => ({ fail: 'read ECONNRESET' }));
    await expect(twice.source.fetcher(URL_, init('query Q{a}', 'Bearer x'))).rejects.toThrow(/ECONNRESET/);
    expect(twice.calls()).toBe(2);
    const refused = counting(() => ({ fail: 'subgraph refused' }));
    await expect(refused.source.fetcher(URL_, init('query Q{a}', 'Bearer x'))).rejects.toThrow(/refused/);
    expect(refused.calls()).toBe(1);
  });

  it('reuses an answer the subgraph marked public for its max-age, whoever asks; never a private, uncacheable or failed one', async () => {
    const clock = { t: 0 };
    const { source, calls } = counting((call) => (call === 1 ? { cacheControl: 'max-age=1, public' } : { cacheControl: 'no-store' }), clock);
    const price = 'query P{btcPrice{price}}';
    expect(await json(await source.fetcher(URL_, init(price, 'Bearer a')))).toEqual({ data: { n: 1, caller: 'Bearer a' } });
    clock.t = 999;
    expect(await json(await source.fetcher(URL_, init(price, 'Bearer b')))).toEqual({ data: { n: 1, caller: 'Bearer a' } });
    expect(calls()).toBe(1);
    clock.t = 1000;
    await source.fetcher(URL_, init(price, 'Bearer b'));
    await source.fetcher(URL_, init(price, 'Bearer b'));
    expect(calls()).toBe(3);

    const failing = counting(() => ({ status: 500, cacheControl: 'max-age=60, public' }));
    await failing.source.fetcher(URL_, init(price, 'Bearer a'));
    await failing.source.fetcher(URL_, init(price, 'Bearer a'));
    expect(failing.calls()).toBe(2);
  });

  it('reads only Apollo’s cacheable public header', () => {
    expect(publicMaxAgeMs('max-age=5, public')).toBe(5000);
    expect(publicMaxAgeMs('max-age=5, private')).toBe(0);
    expect(publicMaxAgeMs('no-store')).toBe(0);
    expect(publicMaxAgeMs(null)).toBe(0);
  });
});
