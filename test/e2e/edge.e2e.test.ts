import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { Writable } from 'node:stream';
import { getIntrospectionQuery } from 'graphql';
import { gql } from 'graphql-request';
import { Redis } from 'ioredis';
import { startGateway, type Gateway, type GatewayOptions } from '../../gateway/gateway';
import { loadManifest } from '../../gateway/edge/manifest';
import { configureLogger } from '../../lib/logger';
import { SUPERGRAPH_PATH } from '../../schema/compose';
import { TEST_REDIS_URL } from '../helpers/db';
import { client, startTestPlatform, type TestPlatform } from '../helpers/platform';
import { at } from '../helpers/present';

type GqlBody = { data?: Record<string, unknown> | null; errors?: { message: string; extensions?: Record<string, unknown> }[] };
type Reply = { status: number; headers: Headers; body: GqlBody; ms: number };

const PASSWORD = 'Correct-Horse-42-Battery';
const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');
const codesOf = (r: Reply | GqlBody[]): string[] =>
  (Array.isArray(r) ? r : [r.body]).flatMap((b) => (b.errors ?? []).map((e) => String(e.extensions?.code)));
/** The first GraphQL error of a reply (fails the test when there is none). */
const firstError = (r: Reply) => at(r.body.errors ?? [], 0, 'errors');
const partnerKey = (prefix = randomBase62(12)): string => `abt_live_${prefix}_${randomBase62(40)}`;
function randomBase62(n: number): string {
  const abc = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  return Array.from(randomBytes(n), (b) => abc[b % 62]).join('');
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const started = Date.now();
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as GqlBody) : {}, ms: Date.now() - started };
}

async function get(url: string, params: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Reply> {
  const qs = new URLSearchParams(
    Object.entries(params).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)] as [string, string]),
  );
  const started = Date.now();
  const res = await fetch(`${url}?${qs.toString()}`, { headers: { 'apollo-require-preflight': 'true', ...headers } });
  return { status: res.status, headers: res.headers, body: (await res.json()) as GqlBody, ms: Date.now() - started };
}

describe('the gateway edge: APQ, partner safelist, abuse limits, rate limits, headers (real platform)', () => {
  let t: TestPlatform;
  let token: string;
  let otherToken: string;
  let redis: Redis;
  const prefix = `abt-test-edge-${randomBytes(4).toString('hex')}`;
  const extra: Gateway[] = [];
  const logLines: string[] = [];

  /**
   * A second gateway on the same subgraphs, with its own (non-default) edge settings and its own
   * Redis prefix (gateways sharing a prefix share their rate-limit counters, as replicas should).
   */
  let gateways = 0;
  const gatewayPrefix = (n: number): string => `${prefix}-${n}`;
  const gateway = async (opts: Partial<GatewayOptions>): Promise<string> => {
    const u = t.platform.urls;
    const gw = await startGateway({
      host: '127.0.0.1',
      port: 0,
      supergraphSdl: readFileSync(SUPERGRAPH_PATH, 'utf8'),
      subgraphUrls: { tenant: u.tenant!, treasury: u.treasury!, 'market-price': u['market-price']!, compliance: u.compliance! },
      jwtSecret: t.platform.jwtSecret,
      redis,
      redisPrefix: gatewayPrefix(++gateways),
      ...opts,
    });
    extra.push(gw);
    return `${gw.url}/graphql`;
  };

  const signUp = async (email: string): Promise<string> =>
    (
      await client(t.gateway).request<{ signUp: { accessToken: string } }>(
        gql`mutation ($i: SignUpInput!) { signUp(input: $i) { accessToken } }`,
        { i: { tenantName: `Edge ${email}`, email, password: PASSWORD } },
      )
    ).signUp.accessToken;

  beforeAll(async () => {
    t = await startTestPlatform({ redis: true });
    configureLogger('warn', new Writable({ write: (chunk: Buffer, _e, cb) => (logLines.push(chunk.toString()), cb()) }));
    redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
    await redis.ping();
    token = await signUp(`edge-${randomBytes(3).toString('hex')}@x.example`);
    otherToken = await signUp(`edge-other-${randomBytes(3).toString('hex')}@x.example`);
  });
  afterAll(async () => {
    for (const gw of extra) await gw.close();
    if (redis) {
      const keys = await redis.keys(`${prefix}-*`);
      if (keys.length) await redis.del(...keys);
      await redis.quit();
    }
    await t?.stop();
    configureLogger('silent');
  });

  describe('automatic persisted queries', () => {
    it('POST: unknown hash → PERSISTED_QUERY_NOT_FOUND, register with the query, then hit by hash alone (stored in Redis)', async () => {
      const query = `query Apq${randomBase62(8)} { btcPrice { currency source } }`;
      const persistedQuery = { version: 1, sha256Hash: sha256(query) };
      const miss = await post(t.gateway, { extensions: { persistedQuery } });
      expect(codesOf(miss)).toEqual(['PERSISTED_QUERY_NOT_FOUND']);

      const registered = await post(t.gateway, { query, extensions: { persistedQuery } });
      expect(registered.status).toBe(200);
      expect(registered.body.errors).toBeUndefined();

      const hit = await post(t.gateway, { extensions: { persistedQuery } });
      expect(hit.status).toBe(200);
      expect(hit.body).toEqual(registered.body);
      // The platform's gateway has Redis: the entry is there, with a TTL.
      // (under the platform's own REDIS_PREFIX, as every key it writes)
      const key = at(await redis.keys(`*:gateway:apq:${persistedQuery.sha256Hash}`), 0, 'APQ keys');
      expect(key).toMatch(/^abt-test-[0-9a-f]+:gateway:apq:/);
      expect(await redis.ttl(key)).toBeGreaterThan(0);
    });

    it('the limits hold on the APQ path: a deep or aliased query is refused at registration (POST and GET) and never stored', async () => {
      const deep = `query Deep${randomBase62(6)} { ${'... on Query { '.repeat(49)}btcPrice { price }${' }'.repeat(49)} }`;
      const aliased = `query Many${randomBase62(6)} { ${Array.from({ length: 16 }, (_, i) => `a${i}: btcPrice { price }`).join(' ')} }`;
      for (const [query, code] of [[deep, 'MAX_DEPTH_EXCEEDED'], [aliased, 'MAX_ALIASES_EXCEEDED']] as const) {
        const persistedQuery = { version: 1, sha256Hash: sha256(query) };
        const viaPost = await post(t.gateway, { query, extensions: { persistedQuery } });
        expect([viaPost.status, codesOf(viaPost)]).toEqual([400, expect.arrayContaining([code])]);
        const viaGet = await get(t.gateway, { query, extensions: { persistedQuery } });
        expect(codesOf(viaGet)).toEqual(expect.arrayContaining([code]));
        expect(codesOf(await post(t.gateway, { extensions: { persistedQuery } }))).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
      }
    });

    it('GET: hashed queries work over GET (register, then hit), and an unknown hash is PERSISTED_QUERY_NOT_FOUND', async () => {
      const query = `query ApqGet${randomBase62(8)} { btcPrice(currency: USD) { currency } }`;
      const extensions = { persistedQuery: { version: 1, sha256Hash: sha256(query) } };
      expect(codesOf(await get(t.gateway, { extensions }))).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
      const registered = await get(t.gateway, { query, extensions });
      expect(registered.status).toBe(200);
      const hit = await get(t.gateway, { extensions });
      expect(hit.status).toBe(200);
      expect(hit.body).toEqual(registered.body);
      expect(hit.body.errors).toBeUndefined();
    });

    it('refuses a query whose hash does not match, and an unknown APQ version, with codes', async () => {
      const r = await post(t.gateway, { query: '{ btcPrice { price } }', extensions: { persistedQuery: { version: 1, sha256Hash: sha256('x') } } });
      expect([r.status, codesOf(r)]).toEqual([400, ['PERSISTED_QUERY_HASH_MISMATCH']]);
      const v2 = await post(t.gateway, { extensions: { persistedQuery: { version: 2, sha256Hash: sha256('x') } } });
      expect([v2.status, codesOf(v2)]).toEqual([400, ['BAD_REQUEST']]);
    });

    it('works without Redis too (in-memory cache)', async () => {
      const url = await gateway({ redis: undefined });
      const query = `query ApqMem${randomBase62(8)} { btcPrice { currency } }`;
      const persistedQuery = { version: 1, sha256Hash: sha256(query) };
      expect(codesOf(await post(url, { extensions: { persistedQuery } }))).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
      expect((await post(url, { query, extensions: { persistedQuery } })).status).toBe(200);
      expect((await post(url, { extensions: { persistedQuery } })).body.errors).toBeUndefined();
      expect(await redis.exists(`${gatewayPrefix(gateways)}:gateway:apq:${persistedQuery.sha256Hash}`)).toBe(0);
    });
  });

  describe('partner API keys run manifest operations only', () => {
    const manifest = loadManifest();
    const price = manifest.operations.find((o) => o.name === 'PartnerBtcPrice')!;
    const rules = manifest.operations.find((o) => o.name === 'PartnerTreasuryRules')!;

    it('refuses a query that is not in the manifest with PERSISTED_QUERY_NOT_IN_LIST, logged without the secret', async () => {
      const lookup = randomBase62(12);
      const key = partnerKey(lookup);
      const secret = key.split('_').pop()!;
      for (const body of [
        { query: '{ treasuryRules { id name } }' },
        { query: `${price.body}\n` }, // not the identical body
        { extensions: { persistedQuery: { version: 1, sha256Hash: sha256('{ me { id } }') } } },
        [{ query: price.body }, { query: '{ tenant { id } }' }], // one bad operation refuses the batch
      ]) {
        const r = await post(t.gateway, body, { authorization: `Bearer ${key}` });
        expect([r.status, codesOf(r)]).toEqual([400, ['PERSISTED_QUERY_NOT_IN_LIST']]);
      }
      const logged = logLines.filter((l) => l.includes('not in the persisted query list'));
      expect(logged.length).toBeGreaterThanOrEqual(4);
      expect(logged.join('\n')).toContain(`abt_live_${lookup}`);
      expect(logged.join('\n')).not.toContain(secret);
      expect(logLines.join('\n')).not.toContain(secret);
    });

    it('lets a manifest operation through by id and by identical body (the subgraphs then verify the key)', async () => {
      const key = partnerKey();
      for (const body of [
        { extensions: { persistedQuery: { version: 1, sha256Hash: price.id } }, variables: { currency: 'AUD' } },
        { query: price.body, operationName: price.name },
        { query: rules.body, extensions: { persistedQuery: { version: 1, sha256Hash: rules.id } } },
      ]) {
        const r = await post(t.gateway, body, { authorization: `Bearer ${key}` });
        const codes = codesOf(r);
        expect(codes).not.toContain('PERSISTED_QUERY_NOT_IN_LIST');
        expect(codes).not.toContain('PERSISTED_QUERY_NOT_FOUND');
        // Key verification lives in the subgraphs: an unknown key may be refused there, nothing else.
        for (const c of codes) expect(['UNAUTHENTICATED', 'FORBIDDEN']).toContain(c);
      }
    });

    it('with a key the subgraphs accept, a manifest operation returns data and anything else is still refused', async () => {
      // Key issuance belongs to the tenant subgraph (built alongside this edge); skip quietly where it is absent.
      const created = await post(
        t.gateway,
        { query: 'mutation ($input: CreateApiKeyInput!) { createApiKey(input: $input) { key } }', variables: { input: { name: 'Edge partner', scopes: ['read:treasury'] } } },
        { authorization: `Bearer ${token}` },
      );
      const key = (created.body.data?.createApiKey as { key?: string } | undefined)?.key;
      if (!key) return;
      const ok = await post(t.gateway, { extensions: { persistedQuery: { version: 1, sha256Hash: rules.id } } }, { authorization: `Bearer ${key}` });
      expect([ok.status, codesOf(ok), ok.body.data]).toEqual([200, [], { treasuryRules: [] }]);
      const refused = await post(t.gateway, { query: '{ treasuryRules { id } }' }, { authorization: `Bearer ${key}` });
      expect(codesOf(refused)).toEqual(['PERSISTED_QUERY_NOT_IN_LIST']);
    });

    it('anyone may run a manifest operation by id (the manifest answers APQ lookups first)', async () => {
      const r = await post(t.gateway, { extensions: { persistedQuery: { version: 1, sha256Hash: price.id } } });
      expect(r.status).toBe(200);
      expect(codesOf(r)).toEqual([]);
    });

    it('refuses a malformed abt_live_ token as UNAUTHENTICATED without verifying it as a JWT', async () => {
      for (const bad of ['abt_live_short_secret', 'abt_live_', `abt_live_${randomBase62(12)}`, `abt_live_${randomBase62(11)}_${randomBase62(40)}`]) {
        const r = await post(t.gateway, { query: price.body }, { authorization: `Bearer ${bad}` });
        expect([bad, r.status, codesOf(r)]).toEqual([bad, 401, ['UNAUTHENTICATED']]);
      }
    });
  });

  describe('abuse limits refuse with stable codes, and the gateway keeps serving', () => {
    const normal = async (): Promise<void> => {
      const r = await post(t.gateway, { query: '{ tenant { name } }' }, { authorization: `Bearer ${otherToken}` });
      expect(r.status).toBe(200);
      expect(r.body.errors).toBeUndefined();
    };
    const auth = (): Record<string, string> => ({ authorization: `Bearer ${token}` });

    it('depth 50 → MAX_DEPTH_EXCEEDED', async () => {
      const query = `{ ${'... on Query { '.repeat(49)}tenant { name }${' }'.repeat(49)} }`;
      const r = await post(t.gateway, { query }, auth());
      expect(r.status).toBe(400);
      expect(codesOf(r)).toContain('MAX_DEPTH_EXCEEDED');
      await normal();
    });

    it('1,000 aliases → MAX_TOKENS_EXCEEDED before parsing; 16 aliases → MAX_ALIASES_EXCEEDED', async () => {
      const aliases = (n: number): string => `{ ${Array.from({ length: n }, (_, i) => `a${i}: tenant { name }`).join(' ')} }`;
      const big = await post(t.gateway, { query: aliases(1000) }, auth());
      expect([big.status, codesOf(big)]).toEqual([400, ['MAX_TOKENS_EXCEEDED']]);
      const some = await post(t.gateway, { query: aliases(16) }, auth());
      expect([some.status, codesOf(some)]).toEqual([400, ['MAX_ALIASES_EXCEEDED']]);
      // With the token limit raised, the alias limit is what refuses 1,000 aliases.
      const url = await gateway({ bodyLimits: { maxTokens: 100_000 } });
      const viaArmor = await post(url, { query: aliases(1000) }, auth());
      expect(viaArmor.status).toBe(400);
      expect(codesOf(viaArmor)).toContain('MAX_ALIASES_EXCEEDED');
      await normal();
    });

    it('a 10 MB body → 413 PAYLOAD_TOO_LARGE without being read', async () => {
      const query = `{ tenant { name } } # ${'x'.repeat(10 * 1024 * 1024)}`;
      const r = await post(t.gateway, { query }, auth());
      expect([r.status, codesOf(r)]).toEqual([413, ['PAYLOAD_TOO_LARGE']]);
      // "Without being read": declare 10 MB, send 1 KB of it, and the answer still comes.
      const u = new URL(t.gateway);
      const head = await new Promise<string>((resolve, reject) => {
        const socket = net.connect(Number(u.port), u.hostname, () => {
          socket.write(
            `POST ${u.pathname} HTTP/1.1\r\nhost: ${u.host}\r\ncontent-type: application/json\r\nauthorization: ${auth().authorization}\r\n` +
              `content-length: ${10 * 1024 * 1024}\r\n\r\n${'{'.padEnd(1024, ' ')}`,
          );
        });
        let got = '';
        socket.on('data', (d: Buffer) => {
          got += d.toString('latin1');
          if (got.includes('\r\n\r\n')) {
            socket.destroy();
            resolve(at(got.split('\r\n'), 0));
          }
        });
        socket.on('error', reject);
      });
      expect(head).toMatch(/^HTTP\/1\.1 413 /);
      await normal();
    });

    it('a batch of 500 → 400 BATCH_TOO_LARGE; a batch of 3 runs', async () => {
      const r = await post(t.gateway, Array.from({ length: 500 }, () => ({ query: '{ tenant { name } }' })), auth());
      expect([r.status, codesOf(r)]).toEqual([400, ['BATCH_TOO_LARGE']]);
      const res = await fetch(t.gateway, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...auth() },
        body: JSON.stringify(Array.from({ length: 3 }, () => ({ query: '{ tenant { name } }' }))),
      });
      const batch = (await res.json()) as GqlBody[];
      expect(batch).toHaveLength(3);
      expect(codesOf(batch)).toEqual([]);
      await normal();
    });

    it('bad JSON → 400 BAD_REQUEST', async () => {
      const r = await post(t.gateway, '{"query": ', auth());
      expect([r.status, codesOf(r)]).toEqual([400, ['BAD_REQUEST']]);
    });

    it('lets GraphiQL’s introspection through by default; a production gateway refuses it and hides suggestions', async () => {
      const query = getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, schemaDescription: true, inputValueDeprecation: true });
      const open = await post(t.gateway, { query, operationName: 'IntrospectionQuery' });
      expect(open.status).toBe(200);
      expect(open.body.errors).toBeUndefined();

      const url = await gateway({ introspection: false, hideFieldSuggestions: true });
      const closed = await post(url, { query, operationName: 'IntrospectionQuery' });
      expect(closed.status).toBe(400);
      expect(codesOf(closed)).toContain('GRAPHQL_VALIDATION_FAILED');
      const typo = await post(url, { query: '{ tenan { id } }' });
      expect(JSON.stringify(typo.body)).not.toMatch(/Did you mean/);
      const typoOpen = await post(t.gateway, { query: '{ tenan { id } }' });
      expect(JSON.stringify(typoOpen.body)).toMatch(/Did you mean/);
    });
  });

  describe('rate limits', () => {
    it('per IP: 429 RATE_LIMITED with RateLimit-* and Retry-After once spent', async () => {
      const url = await gateway({ rateLimits: { ip: { points: 3, durationSeconds: 60 } } });
      const replies: Reply[] = [];
      for (let i = 0; i < 4; i++) replies.push(await post(url, { query: '{ btcPrice { currency } }' }));
      expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 429]);
      expect(replies.map((r) => r.headers.get('ratelimit-remaining'))).toEqual(['2', '1', '0', '0']);
      expect(at(replies, 0).headers.get('ratelimit-limit')).toBe('3');
      expect(Number(at(replies, 0).headers.get('ratelimit-reset'))).toBeGreaterThan(0);
      const limited = at(replies, 3, 'replies');
      expect(codesOf(limited)).toEqual(['RATE_LIMITED']);
      expect(firstError(limited).extensions).toMatchObject({ scope: 'ip' });
      const retryAfter = Number(limited.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(60);
      // Shared through Redis under the gateway's prefix.
      expect((await redis.keys(`${gatewayPrefix(gateways)}:gateway:rl:ip:*`)).length).toBeGreaterThan(0);
    });

    it('per user (JWT sub) and per tenant (JWT tid): one caller spent does not limit another', async () => {
      const url = await gateway({ rateLimits: { user: { points: 2, durationSeconds: 60 } } });
      const as = (tk: string): Promise<Reply> => post(url, { query: '{ tenant { name } }' }, { authorization: `Bearer ${tk}` });
      expect([(await as(token)).status, (await as(token)).status, (await as(token)).status]).toEqual([200, 200, 429]);
      const limited = await as(token);
      expect(firstError(limited).extensions).toMatchObject({ code: 'RATE_LIMITED', scope: 'user' });
      expect((await as(otherToken)).status).toBe(200);

      const tenantUrl = await gateway({ rateLimits: { tenant: { points: 1, durationSeconds: 60 } } });
      const first = await post(tenantUrl, { query: '{ tenant { name } }' }, { authorization: `Bearer ${token}` });
      expect(first.status).toBe(200);
      const second = await post(tenantUrl, { query: '{ tenant { name } }' }, { authorization: `Bearer ${token}` });
      expect(firstError(second).extensions).toMatchObject({ code: 'RATE_LIMITED', scope: 'tenant' });
    });

    it('per API key prefix, counted per operation of a batch', async () => {
      const url = await gateway({ rateLimits: { apiKey: { points: 3, durationSeconds: 60 } } });
      const price = loadManifest().operations.find((o) => o.name === 'PartnerBtcPrice')!;
      const lookup = randomBase62(12);
      const op = { extensions: { persistedQuery: { version: 1, sha256Hash: price.id } } };
      const batch = await post(url, [op, op, op], { authorization: `Bearer ${partnerKey(lookup)}` });
      expect(batch.status).not.toBe(429);
      // Same prefix, another secret: the limit is the key's, not the secret's.
      const next = await post(url, op, { authorization: `Bearer ${partnerKey(lookup)}` });
      expect([next.status, codesOf(next)]).toEqual([429, ['RATE_LIMITED']]);
      expect(firstError(next).extensions).toMatchObject({ scope: 'apiKey' });
      expect((await post(url, op, { authorization: `Bearer ${partnerKey()}` })).status).not.toBe(429);
      const keys = JSON.stringify(await redis.keys(`${gatewayPrefix(gateways)}:gateway:rl:apiKey:*`));
      expect(keys).toContain(`abt_live_${lookup}`);
    });

    it('defaults are generous: the platform gateway sends the headers with room to spare', async () => {
      const r = await post(t.gateway, { query: '{ btcPrice { currency } }' });
      expect(Number(r.headers.get('ratelimit-limit'))).toBeGreaterThanOrEqual(600);
      expect(Number(r.headers.get('ratelimit-remaining'))).toBeGreaterThan(100);
    });
  });

  describe('security headers and CORS', () => {
    it('helmet’s headers on API responses, health included; no x-powered-by', async () => {
      const base = t.gateway.replace(/\/graphql$/, '');
      for (const res of [await fetch(`${base}/api/health`), await fetch(t.gateway, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ btcPrice { currency } }"}' })]) {
        expect(res.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
        expect(res.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
        expect(res.headers.get('x-content-type-options')).toBe('nosniff');
        expect(res.headers.get('strict-transport-security')).toMatch(/max-age=31536000/);
        expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
        expect(res.headers.get('referrer-policy')).toBe('no-referrer');
        expect(res.headers.get('x-powered-by')).toBeNull();
      }
    });

    it('the explorer page (GET /graphql for a browser) gets a CSP it can work with', async () => {
      const res = await fetch(t.gateway, { headers: { accept: 'text/html' } });
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp).toMatch(/default-src 'self'/);
      expect(csp).toMatch(/style-src 'self' 'unsafe-inline'/);
      expect(csp).toMatch(/connect-src 'self'/);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    });

    it('CORS: only allowlisted origins, no credentials; none by default', async () => {
      const preflight = (url: string, origin: string): Promise<Response> =>
        fetch(url, {
          method: 'OPTIONS',
          headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
        });
      const url = await gateway({ corsOrigins: ['https://app.liquidabt.example'] });
      const ok = await preflight(url, 'https://app.liquidabt.example');
      expect(ok.status).toBe(204);
      expect(ok.headers.get('access-control-allow-origin')).toBe('https://app.liquidabt.example');
      expect(ok.headers.get('access-control-allow-headers')).toMatch(/authorization/);
      expect(ok.headers.get('access-control-allow-credentials')).toBeNull();
      const evil = await preflight(url, 'https://evil.example');
      expect(evil.headers.get('access-control-allow-origin')).toBeNull();
      const actual = await fetch(url, {
        method: 'POST',
        headers: { origin: 'https://app.liquidabt.example', 'content-type': 'application/json' },
        body: '{"query":"{ btcPrice { currency } }"}',
      });
      expect(actual.headers.get('access-control-allow-origin')).toBe('https://app.liquidabt.example');
      expect(actual.headers.get('access-control-expose-headers')).toMatch(/RateLimit-Remaining/);
      const byDefault = await preflight(t.gateway, 'https://app.liquidabt.example');
      expect(byDefault.headers.get('access-control-allow-origin')).toBeNull();
    });
  });

  describe('the client address reaches the subgraphs', () => {
    it('throttles logins per client IP behind a trusted proxy, not per gateway', async () => {
      const url = await gateway({ trustProxy: 1, rateLimits: false });
      const email = `xff-${randomBytes(3).toString('hex')}@x.example`;
      await signUp(email);
      const login = async (ip: string, password: string): Promise<string> => {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-forwarded-for': ip },
          body: JSON.stringify({ query: 'mutation ($i: LoginInput!) { login(input: $i) { accessToken } }', variables: { i: { email, password } } }),
        });
        const body = (await res.json()) as { errors?: { extensions: { code: string } }[] };
        return body.errors?.[0]?.extensions.code ?? 'OK';
      };
      for (let i = 0; i < 5; i++) expect(await login('203.0.113.7', 'Wrong-Password-123')).toBe('INVALID_CREDENTIALS');
      // That address is locked out of this account; the owner, elsewhere, is not.
      expect(await login('203.0.113.7', PASSWORD)).toBe('ACCOUNT_LOCKED');
      expect(await login('198.51.100.9', PASSWORD)).toBe('OK');
    });
  });
});
