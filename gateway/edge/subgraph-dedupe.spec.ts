import { RemoteGraphQLDataSource } from '@apollo/gateway';
import type { FetcherRequestInit, FetcherResponse } from '@apollo/utils.fetcher';
import { deduplicated } from './subgraph-dedupe';

/** A data source whose fetcher counts calls and answers after a tick, so concurrent calls overlap. */
function counting(): { source: RemoteGraphQLDataSource<never>; calls: () => number } {
  let n = 0;
  const source = new RemoteGraphQLDataSource<never>({ url: 'http://sub/graphql' });
  source.fetcher = async (_url: string, _init?: FetcherRequestInit): Promise<FetcherResponse> => {
    n++;
    await new Promise((r) => setTimeout(r, 5));
    const res: FetcherResponse = new Response(JSON.stringify({ data: { n } }), { headers: { 'content-type': 'application/json' } });
    return res;
  };
  return { source: deduplicated(source), calls: () => n };
}

const init = (query: string, authorization: string): FetcherRequestInit => ({
  method: 'POST',
  headers: { authorization, 'content-type': 'application/json' },
  body: JSON.stringify({ query, variables: {} }),
});

describe('deduplicated subgraph fetches', () => {
  it('identical queries of the same caller in flight together share one fetch; each gets its own readable body', async () => {
    const { source, calls } = counting();
    const [a, b] = await Promise.all([source.fetcher('http://sub/graphql', init('query Q{a}', 'Bearer x')), source.fetcher('http://sub/graphql', init('query Q{a}', 'Bearer x'))]);
    expect(calls()).toBe(1);
    expect(await a.json()).toEqual({ data: { n: 1 } });
    expect(await b.json()).toEqual({ data: { n: 1 } });
  });

  it('never shares across credentials, after the first answered, or for mutations', async () => {
    const { source, calls } = counting();
    await Promise.all([source.fetcher('http://sub/graphql', init('query Q{a}', 'Bearer x')), source.fetcher('http://sub/graphql', init('query Q{a}', 'Bearer y'))]);
    expect(calls()).toBe(2);
    await source.fetcher('http://sub/graphql', init('query Q{a}', 'Bearer x'));
    expect(calls()).toBe(3);
    await Promise.all([source.fetcher('http://sub/graphql', init('mutation M{a}', 'Bearer x')), source.fetcher('http://sub/graphql', init('mutation M{a}', 'Bearer x'))]);
    expect(calls()).toBe(5);
  });
});
