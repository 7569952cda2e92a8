import { gql } from 'graphql-request';
import { ACCOUNTING_FILL_JOB, type TaxAcquisitionFact } from '../../lib/events/tax-facts';
import { startMyobFake, type MyobFake } from '../fakes/myob.server';
import { startXeroFake, type XeroFake } from '../fakes/xero.server';
import { centsFromWireNumber } from '../../subgraphs/compliance/books/journal';
import { client, startTestPlatform, type TestPlatform } from '../helpers/platform';
import { at, only } from '../helpers/present';
import { until } from '../helpers/wait';

/**
 * Books through the gateway (#12 "done when"): a tenant connects Xero and MYOB by OAuth against
 * local fakes, maps its accounts, buys bitcoin; the fill becomes exactly one balanced ManualJournal
 * in Xero and one GeneralJournal in MYOB although the first posts fail (500s after the ledger stored
 * the journal, beyond the client's own retries) and hit rate limits (429 Retry-After, MYOB 403
 * RateLimitError), and the accounting job is delivered again afterwards.
 */

const PASSWORD = 'Correct-Horse-42-Battery';
const ORG = '70784a63-d24b-46a9-a4db-0e70a274b056';
const CF = '5d4b1ce0-bb9f-4f4c-9578-2b168b7295db';
const NT = 'c0000001-0000-4000-8000-0000000000aa';
const U = (n: number): string => `a0000001-0000-4000-8000-00000000000${n}`;
const XERO_REDIRECT = 'https://app.abt.example/books/xero/callback';
const MYOB_REDIRECT = 'https://app.abt.example/books/myob/callback';

type Conn = { id: string; provider: string; externalId: string; name: string | null; status: string; mapping: { digitalAsset: string } | null };
type Post = { id: string; provider: string; sourceKind: string; sourceId: string; idempotencyKey: string; status: string; reason: string | null; attempts: number; externalId: string | null; totalAudCents: string | null };

const CONN = 'id provider externalId name status mapping { digitalAsset }';
const POSTS = gql`{ journalPosts { id provider sourceKind sourceId idempotencyKey status reason attempts externalId totalAudCents } }`;

async function consent(url: string): Promise<string> {
  const res = await fetch(url, { redirect: 'manual' });
  const location = res.headers.get('location');
  if (!location) throw new Error(`consent answered ${res.status} without a redirect`);
  return location;
}

async function gqlError(p: Promise<unknown>): Promise<Record<string, unknown>> {
  try {
    await p;
  } catch (err) {
    const e = err as { response?: { errors?: { extensions?: Record<string, unknown> }[] } };
    return e.response?.errors?.[0]?.extensions ?? {};
  }
  throw new Error('expected the request to fail');
}

describe('books: fills become journals in Xero and MYOB', () => {
  let t: TestPlatform;
  let xero: XeroFake;
  let myob: MyobFake;
  let token: string;
  let tenantId: string;
  let other: string;

  const signUp = async (tenantName: string, email: string): Promise<{ accessToken: string; tenant: { id: string } }> =>
    (
      await client(t.gateway).request<{ signUp: { accessToken: string; tenant: { id: string } } }>(
        gql`mutation ($i: SignUpInput!) { signUp(input: $i) { accessToken tenant { id } } }`,
        { i: { tenantName, email, password: PASSWORD } },
      )
    ).signUp;

  beforeAll(async () => {
    xero = await startXeroFake({ clientId: 'xero-app', clientSecret: 'xero-secret', redirectUri: XERO_REDIRECT, organisations: [{ tenantId: ORG, name: 'Books Coffee', accountCodes: ['1450', '1460', '6100', '4800', '6900'] }] });
    myob = await startMyobFake({ apiKey: 'myob-key', apiSecret: 'myob-secret', redirectUri: MYOB_REDIRECT, files: [{ businessId: CF, businessName: 'Books Coffee', accountUids: [1, 2, 3, 4, 5].map(U), taxCodeUids: [NT] }] });
    t = await startTestPlatform({
      redis: true,
      env: {
        XERO_CLIENT_ID: 'xero-app',
        XERO_CLIENT_SECRET: 'xero-secret',
        XERO_REDIRECT_URI: XERO_REDIRECT,
        XERO_LOGIN_BASE_URL: xero.url,
        XERO_IDENTITY_BASE_URL: xero.url,
        XERO_API_BASE_URL: xero.url,
        MYOB_API_KEY: 'myob-key',
        MYOB_API_SECRET: 'myob-secret',
        MYOB_REDIRECT_URI: MYOB_REDIRECT,
        MYOB_SECURE_BASE_URL: myob.url,
        MYOB_API_BASE_URL: myob.url,
      },
    });
    const mine = await signUp('Books Coffee Pty Ltd', 'books@x.example');
    token = mine.accessToken;
    tenantId = mine.tenant.id;
    other = (await signUp('Other Books Pty Ltd', 'other-books@x.example')).accessToken;
  }, 60_000);
  afterAll(async () => {
    await t?.stop();
    await xero?.close();
    await myob?.close();
  });

  it('refuses a callback that belongs to no connection attempt, and stores nothing', async () => {
    const c = client(t.gateway, token);
    const forged = `${XERO_REDIRECT}?code=abc&state=not-mine`;
    expect(await gqlError(c.request(gql`mutation ($u: String!) { completeLedgerConnection(callbackUrl: $u) { id } }`, { u: forged }))).toMatchObject({
      code: 'BAD_USER_INPUT',
      reason: 'OAUTH_STATE_MISMATCH',
    });
    // Another tenant's started attempt cannot be completed by this one either.
    const theirs = await client(t.gateway, other).request<{ connectLedger: { authorizationUrl: string } }>(gql`mutation { connectLedger(provider: XERO) { authorizationUrl } }`);
    const callback = await consent(theirs.connectLedger.authorizationUrl);
    expect(await gqlError(c.request(gql`mutation ($u: String!) { completeLedgerConnection(callbackUrl: $u) { id } }`, { u: callback }))).toMatchObject({ reason: 'OAUTH_STATE_MISMATCH' });
    expect((await c.request<{ ledgerConnections: Conn[] }>(gql`{ ledgerConnections { id } }`)).ledgerConnections).toEqual([]);
  });

  it('connects Xero and MYOB by OAuth, maps accounts, and posts a fill exactly once through failures and rate limits', async () => {
    const c = client(t.gateway, token);
    const connect = async (provider: 'XERO' | 'MYOB'): Promise<Conn> => {
      const started = await c.request<{ connectLedger: { authorizationUrl: string } }>(gql`mutation ($p: LedgerProvider!) { connectLedger(provider: $p) { authorizationUrl } }`, { p: provider });
      const callback = await consent(started.connectLedger.authorizationUrl);
      const done = await c.request<{ completeLedgerConnection: Conn[] }>(gql`mutation ($u: String!) { completeLedgerConnection(callbackUrl: $u) { ${CONN} } }`, { u: callback });
      return only(done.completeLedgerConnection, `${provider} connections`);
    };
    const xc = await connect('XERO');
    expect(xc).toEqual({ id: xc.id, provider: 'XERO', externalId: ORG, name: 'Books Coffee', status: 'ACTIVE', mapping: null });
    const mc = await connect('MYOB');
    expect(mc).toMatchObject({ provider: 'MYOB', externalId: CF, status: 'ACTIVE', mapping: null });

    // Tokens are sealed at rest: no access or refresh token in the clear.
    const sealed = await t.db.owner.em.getConnection().execute<{ tokens_sealed: string }[]>(`select tokens_sealed from pool.ledger_grant where tenant_id = ?`, [tenantId]);
    expect(sealed).toHaveLength(2);
    for (const r of sealed) expect(r.tokens_sealed).toMatch(/^v1\./);

    const MAP = gql`mutation ($id: ID!, $m: AccountMappingInput!) { setAccountMapping(connectionId: $id, mapping: $m) { ${CONN} } }`;
    // MYOB without a tax code is refused with a reason, and nothing is written.
    expect(await gqlError(c.request(MAP, { id: mc.id, m: { digitalAsset: U(1), exchangeClearing: U(2), feesExpense: U(3), realisedGain: U(4), realisedLoss: U(5) } }))).toMatchObject({
      code: 'BAD_USER_INPUT',
      reason: 'INVALID_MAPPING',
    });
    expect(await gqlError(c.request(MAP, { id: xc.id, m: { digitalAsset: '1450', exchangeClearing: '1450', feesExpense: '6100', realisedGain: '4800', realisedLoss: '6900' } }))).toMatchObject({
      code: 'BAD_USER_INPUT',
    });
    expect((await c.request<{ ledgerConnections: Conn[] }>(gql`{ ledgerConnections { ${CONN} } }`)).ledgerConnections.map((x) => x.mapping)).toEqual([null, null]);
    await c.request(MAP, { id: xc.id, m: { digitalAsset: '1450', exchangeClearing: '1460', feesExpense: '6100', realisedGain: '4800', realisedLoss: '6900' } });
    await c.request(MAP, { id: mc.id, m: { digitalAsset: U(1), exchangeClearing: U(2), feesExpense: U(3), realisedGain: U(4), realisedLoss: U(5), defaultTaxCode: NT } });

    // The first posts fail: five 500s (more than the client's own 5 tries, so the job itself is retried by the queue),
    // then a rate limit, then a 500 after the ledger stored the journal (the answer is lost; the retry must not post again).
    const fiveServerErrors = Array.from({ length: 5 }, () => ({ status: 500 as const }));
    xero.inject(...fiveServerErrors, { status: 429, retryAfterSeconds: 1, problem: 'minute' }, { status: 500, afterStore: true });
    myob.inject(...fiveServerErrors, { rateLimit: 'second' }, { status: 500, afterStore: true });
    xero.expireAccessTokens();

    const { requestPurchase } = await c.request<{ requestPurchase: { id: string } }>(gql`mutation { requestPurchase(amountAudCents: "5000", idempotencyKey: "books-e2e-1") { id } }`);
    const filled = await until('the purchase to fill', async () => {
      const r = await c.request<{ purchase: { status: string; spentAudCents: string; feeAudCents: string } }>(gql`query ($id: ID!) { purchase(id: $id) { status spentAudCents feeAudCents } }`, {
        id: requestPurchase.id,
      });
      return r.purchase.status === 'FILLED' ? r.purchase : undefined;
    });

    const posts = await until(
      'both journals to be POSTED',
      async () => {
        const r = (await c.request<{ journalPosts: Post[] }>(POSTS)).journalPosts;
        return r.length === 2 && r.every((p) => p.status === 'POSTED') ? r : undefined;
      },
      90_000,
    );
    const cost = BigInt(filled.spentAudCents) + BigInt(filled.feeAudCents);
    expect(posts.map((p) => [p.provider, p.sourceKind, p.sourceId, p.idempotencyKey, p.totalAudCents]).sort()).toEqual([
      ['MYOB', 'FILL', requestPurchase.id, `abt-fill-${requestPurchase.id}`, cost.toString()],
      ['XERO', 'FILL', requestPurchase.id, `abt-fill-${requestPurchase.id}`, cost.toString()],
    ]);
    // One job attempt gave up (the client's 5 tries all answered 500); the queue's retry got through the rate limit and the lost answer.
    for (const p of posts) expect(p.attempts).toBeGreaterThanOrEqual(4);

    const xj = only(xero.journals(ORG), 'Xero journals');
    expect(xj.Status).toBe('POSTED');
    expect(xj.Narration).toContain(`[abt-fill-${requestPurchase.id}]`);
    expect(xj.JournalLines.map((l) => [l.AccountCode, centsFromWireNumber(l.LineAmount)])).toEqual([
      ['1450', cost],
      ['1460', -cost],
    ]);
    expect(xj.ManualJournalID).toBe(posts.find((p) => p.provider === 'XERO')?.externalId);
    const mj = only(myob.journals(CF), 'MYOB journals');
    expect(mj.Lines.map((l) => [l.Account.UID, centsFromWireNumber(l.Amount), l.IsCredit])).toEqual([
      [U(1), cost, false],
      [U(2), cost, true],
    ]);
    // The ledgers really answered 500 and 429/403 on the way.
    const xeroStatuses = xero.requests().filter((r) => r.path.includes('ManualJournals')).map((r) => r.status);
    expect(xeroStatuses.filter((s) => s === 500)).toHaveLength(6);
    expect(xeroStatuses).toEqual(expect.arrayContaining([401, 429, 200]));
    const myobStatuses = myob.requests().map((r) => r.status);
    expect(myobStatuses.filter((s) => s === 500)).toHaveLength(6);
    expect(myobStatuses).toEqual(expect.arrayContaining([403]));

    // The accounting job delivered again (a relay replay): still one journal in each ledger.
    const fact: TaxAcquisitionFact = {
      version: 1,
      kind: 'acquisition',
      tenantId,
      id: requestPurchase.id,
      purchaseId: requestPurchase.id,
      exchange: 'paper',
      exchangeOrderId: null,
      at: new Date().toISOString(),
      sats: '1000',
      costAudCents: filled.spentAudCents,
      feeAudCents: filled.feeAudCents,
    };
    await t.platform.queue.add('accounting', ACCOUNTING_FILL_JOB, { ...fact }, { jobId: `replay-${requestPurchase.id}` });
    await new Promise((r) => setTimeout(r, 1500));
    expect(xero.journals(ORG)).toHaveLength(1);
    expect(myob.journals(CF)).toHaveLength(1);
    expect((await c.request<{ journalPosts: Post[] }>(POSTS)).journalPosts.map((p) => p.status)).toEqual(['POSTED', 'POSTED']);

    // A posted journal cannot be retried; another tenant sees none of it; a VIEWER-less anonymous call is refused.
    expect(await gqlError(c.request(gql`mutation ($id: ID!) { retryJournalPost(id: $id) { id } }`, { id: at(posts, 0).id }))).toMatchObject({ code: 'CONFLICT', reason: 'ALREADY_POSTED' });
    expect((await client(t.gateway, other).request<{ journalPosts: Post[] }>(POSTS)).journalPosts).toEqual([]);
    expect(await gqlError(client(t.gateway, other).request(gql`mutation ($id: ID!) { retryJournalPost(id: $id) { id } }`, { id: at(posts, 0).id }))).toMatchObject({ code: 'NOT_FOUND' });
    expect(await gqlError(client(t.gateway).request(POSTS))).toMatchObject({ code: 'UNAUTHENTICATED' });
  }, 180_000);
});
