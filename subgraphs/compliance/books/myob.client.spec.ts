import { startMyobFake, type MyobFake } from '../../../test/fakes/myob.server';
import { at } from '../../../test/helpers/present';
import { booksReasonOf } from './errors';
import { journalForFill, journalForSale, journalNumberFor, type AccountMapping } from './journal';
import type { Clock } from './limiter';
import { MyobBooksClient, type MyobClientOptions, type MyobCompanyFile } from './myob.client';
import { InMemoryTokenStore, type Grant } from './tokens';

const CF = '5d4b1ce0-bb9f-4f4c-9578-2b168b7295db';
const OTHER_CF = '0f0f0f0f-0000-4000-8000-00000000000a';
const REDIRECT = 'https://app.liquidabt.local/books/myob/callback';
const ACC = {
  asset: 'a0000001-0000-4000-8000-000000000001',
  clearing: 'a0000001-0000-4000-8000-000000000002',
  fees: 'a0000001-0000-4000-8000-000000000003',
  gain: 'a0000001-0000-4000-8000-000000000004',
  loss: 'a0000001-0000-4000-8000-000000000005',
};
const NT = 'c0000001-0000-4000-8000-0000000000aa';
const mapping: AccountMapping = { digitalAsset: ACC.asset, exchangeClearing: ACC.clearing, feesExpense: ACC.fees, realisedGain: ACC.gain, realisedLoss: ACC.loss };
const file: MyobCompanyFile = { businessId: CF, defaultTaxCodeUid: NT };

function sharedClock(): Clock & { slept: number[]; advance(ms: number): void } {
  let t = Date.UTC(2025, 6, 1);
  const slept: number[] = [];
  return {
    slept,
    now: () => t,
    sleep: (ms) => {
      slept.push(ms);
      t += ms;
      return Promise.resolve();
    },
    advance: (ms) => {
      t += ms;
    },
  };
}

const fill = (purchaseId: string) => journalForFill({ purchaseId, at: new Date('2025-07-01T01:00:00Z'), satoshis: 123_456n, spentAudCents: 12_345n, feeAudCents: 123n, exchange: 'kraken' }, mapping);

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('MYOB adapter against the local MYOB', () => {
  let fake: MyobFake;
  let clock: ReturnType<typeof sharedClock>;

  const client = (over: Partial<MyobClientOptions> = {}): MyobBooksClient =>
    new MyobBooksClient({ apiKey: 'abt-key', apiSecret: 'abt-secret', redirectUri: REDIRECT, secureBaseUrl: fake.url, apiBaseUrl: fake.url, clock, random: () => 1, timeoutMs: 2_000, ...over });

  async function connect(myob: MyobBooksClient): Promise<{ grant: Grant; store: InMemoryTokenStore; businessId: string; businessName: string | null }> {
    const pending = myob.authorizationRequest();
    const consent = await fetch(pending.url, { redirect: 'manual' });
    expect(consent.status).toBe(302);
    const result = await myob.completeAuthorization(consent.headers.get('location')!, pending);
    const store = new InMemoryTokenStore();
    await store.save(result.tokens, null);
    return { grant: { id: 'myob-grant', tokens: store }, store, businessId: result.businessId, businessName: result.businessName };
  }

  const gjCalls = () => fake.requests().filter((r) => r.path.endsWith('/GeneralLedger/GeneralJournal'));

  beforeEach(async () => {
    clock = sharedClock();
    fake = await startMyobFake({
      apiKey: 'abt-key',
      apiSecret: 'abt-secret',
      redirectUri: REDIRECT,
      files: [
        { businessId: CF, businessName: 'Demo Coffee Roasters', accountUids: Object.values(ACC), taxCodeUids: [NT] },
        { businessId: OTHER_CF, businessName: 'Legacy desktop file', accountUids: Object.values(ACC), taxCodeUids: [NT], credentials: { username: 'Administrator', password: 'pw' } },
      ],
      now: () => clock.now(),
    });
  });
  afterEach(() => fake.close());

  it('connects by the code flow and learns the company file from the redirect (prompt=consent)', async () => {
    const myob = client();
    const pending = myob.authorizationRequest();
    const url = new URL(pending.url);
    expect(url.pathname).toBe('/oauth2/account/authorize');
    expect(url.searchParams.get('scope')).toBe('sme-company-file sme-general-ledger');
    expect(url.searchParams.get('prompt')).toBe('consent');
    const { businessId, businessName, store } = await connect(myob);
    expect([businessId, businessName]).toEqual([CF, 'Demo Coffee Roasters']);
    expect((await store.load())!.accessTokenExpiresAt.getTime() - clock.now()).toBe(20 * 60_000);
  });

  it('refuses a foreign state and a cancelled consent', async () => {
    const myob = client();
    const pending = myob.authorizationRequest();
    const consent = await fetch(pending.url, { redirect: 'manual' });
    expect(booksReasonOf(await rejection(myob.completeAuthorization(consent.headers.get('location')!, { state: 'other' })))).toBe('OAUTH_STATE_MISMATCH');
    fake.consentTo(null);
    const p2 = myob.authorizationRequest();
    const denied = await fetch(p2.url, { redirect: 'manual' });
    expect(booksReasonOf(await rejection(myob.completeAuthorization(denied.headers.get('location')!, p2)))).toBe('OAUTH_DENIED');
  });

  it('refresh returns a new refresh token; the used one is refused', async () => {
    const myob = client();
    const { store } = await connect(myob);
    const first = (await store.load())!;
    const second = await myob.refreshTokens(first.refreshToken);
    expect(second.refreshToken).not.toBe(first.refreshToken);
    expect(booksReasonOf(await rejection(myob.refreshTokens(first.refreshToken)))).toBe('RECONNECT_REQUIRED');
  });

  it('posts a balanced GeneralJournal with the documented shape and headers, learning its UID from Location', async () => {
    const myob = client();
    const { grant } = await connect(myob);
    const j = fill('p1');
    const posted = await myob.postJournal(grant, file, j);
    const stored = at(fake.journals(CF), 0, 'stored journals');
    expect(posted).toEqual({ provider: 'MYOB', idempotencyKey: 'abt-fill-p1', externalId: stored.UID, attempts: 2 });
    expect(stored).toMatchObject({ DisplayID: journalNumberFor('abt-fill-p1'), DateOccurred: '2025-07-01T00:00:00', IsTaxInclusive: false, GSTReportingMethod: 'Purchase', Memo: j.narration });
    expect(stored.Lines.map((l) => [l.Account.UID, l.Amount, l.IsCredit, l.TaxCode.UID])).toEqual([
      [ACC.asset, 124.68, false, NT],
      [ACC.clearing, 124.68, true, NT],
    ]);
    expect(gjCalls().map((r) => [r.method, r.status])).toEqual([
      ['GET', 200],
      ['POST', 201],
    ]);
  });

  it('stored but the answer was lost (500 after storing): the lookup before the retry finds it, nothing is posted twice', async () => {
    const myob = client();
    const { grant } = await connect(myob);
    fake.inject({ status: 500, afterStore: true });
    const posted = await myob.postJournal(grant, file, fill('p1'));
    expect(fake.journals(CF)).toHaveLength(1);
    expect(posted.externalId).toBe(at(fake.journals(CF), 0).UID);
    expect(gjCalls().map((r) => [r.method, r.status])).toEqual([
      ['GET', 200],
      ['POST', 500],
      ['GET', 200],
    ]);
    expect(clock.slept).toEqual([500]);
  });

  it('stored and then no answer at all (timeout): same', async () => {
    const myob = client({ timeoutMs: 300 });
    const { grant } = await connect(myob);
    fake.inject({ hang: true, afterStore: true });
    await myob.postJournal(grant, file, fill('p1'));
    expect(fake.journals(CF)).toHaveLength(1);
  });

  it('a failure before storing (504) is posted on the retry, once', async () => {
    const myob = client();
    const { grant } = await connect(myob);
    fake.inject({ status: 504 });
    await myob.postJournal(grant, file, fill('p1'));
    expect(fake.journals(CF)).toHaveLength(1);
    expect(gjCalls().map((r) => r.status)).toEqual([200, 504, 200, 201]);
  });

  it('a second post of the same fill (a later job run) finds the first and posts nothing', async () => {
    const myob = client();
    const { grant } = await connect(myob);
    const a = await myob.postJournal(grant, file, fill('p1'));
    const b = await myob.postJournal(grant, file, fill('p1'));
    expect(b.externalId).toBe(a.externalId);
    expect(fake.journals(CF)).toHaveLength(1);
    await expect(myob.findJournal(grant, file, 'abt-fill-p1')).resolves.toBe(a.externalId);
    await expect(myob.findJournal(grant, file, 'abt-fill-p2')).resolves.toBeNull();
  });

  it('an expired access token (401 OAuthTokenIsInvalid) is refreshed once and the call retried', async () => {
    const myob = client();
    const { grant, store } = await connect(myob);
    const before = (await store.load())!;
    fake.expireAccessTokens();
    await myob.postJournal(grant, file, fill('p1'));
    expect(fake.journals(CF)).toHaveLength(1);
    expect(gjCalls().map((r) => r.status)).toEqual([401, 200, 201]);
    expect((await store.load())!.refreshToken).not.toBe(before.refreshToken);
  });

  it('the per-second limit (403 RateLimitError) is waited out; the daily one ends the call as retryable', async () => {
    const myob = client();
    const { grant } = await connect(myob);
    fake.inject({ rateLimit: 'second' });
    await myob.postJournal(grant, file, fill('p1'));
    expect(fake.journals(CF)).toHaveLength(1);
    expect(clock.slept).toEqual([1000]);
    fake.inject({ rateLimit: 'day' });
    const err = await rejection(myob.postJournal(grant, file, fill('p2')));
    expect(err).toMatchObject({ extensions: { reason: 'DAILY_LIMIT_REACHED', retryable: true } });
    expect(fake.journals(CF)).toHaveLength(1);
  });

  it('keeps under the real per-second limit of the API key', async () => {
    await fake.close();
    fake = await startMyobFake({ apiKey: 'abt-key', apiSecret: 'abt-secret', redirectUri: REDIRECT, files: [{ businessId: CF, businessName: 'x', accountUids: Object.values(ACC), taxCodeUids: [NT] }], limits: { perSecond: 8 }, now: () => clock.now() });
    const myob = client();
    const { grant } = await connect(myob);
    for (const id of ['a', 'b', 'c', 'd', 'e']) await myob.postJournal(grant, file, fill(id));
    expect(fake.journals(CF)).toHaveLength(5);
    expect(fake.requests().filter((r) => r.status === 403)).toHaveLength(0);
    expect(clock.slept).toEqual([1000]); // 10 calls at 8 a second: the limiter waited once
  });

  it('sends x-myobapi-cftoken for a file with company-file credentials, and is refused without it', async () => {
    const myob = client();
    const { grant } = await connect(myob);
    fake.consentTo(OTHER_CF);
    const other = await connect(myob);
    const legacy: MyobCompanyFile = { businessId: OTHER_CF, defaultTaxCodeUid: NT };
    expect(booksReasonOf(await rejection(myob.postJournal(other.grant, legacy, fill('p1'))))).toBe('PROVIDER_FORBIDDEN');
    await myob.postJournal(other.grant, { ...legacy, cfToken: Buffer.from('Administrator:pw').toString('base64') }, fill('p1'));
    expect(fake.journals(OTHER_CF)).toHaveLength(1);
    // The first grant was consented to the first file only.
    expect(booksReasonOf(await rejection(myob.postJournal(grant, { ...legacy, cfToken: Buffer.from('Administrator:pw').toString('base64') }, fill('p2'))))).toBe('PROVIDER_FORBIDDEN');
  });

  it('an unbalanced journal is refused before any request; the fake refuses one sent anyway', async () => {
    const myob = client();
    const { grant, store } = await connect(myob);
    const j = fill('p1');
    const before = fake.requests().length;
    const err = await rejection(myob.postJournal(grant, file, { ...j, lines: [at(j.lines, 0), { ...at(j.lines, 1), amountAudCents: 1n }] }));
    expect(booksReasonOf(err)).toBe('UNBALANCED_JOURNAL');
    expect(fake.requests().length).toBe(before);
    const res = await fetch(`${fake.url}/accountright/${CF}/GeneralLedger/GeneralJournal`, {
      method: 'POST',
      headers: { authorization: `Bearer ${(await store.load())!.accessToken}`, 'x-myobapi-key': 'abt-key', 'x-myobapi-version': 'v2', 'content-type': 'application/json' },
      body: JSON.stringify({ DateOccurred: '2025-07-01T00:00:00', Lines: [{ Account: { UID: ACC.asset }, Amount: 10, IsCredit: false, TaxCode: { UID: NT } }, { Account: { UID: ACC.clearing }, Amount: 9.99, IsCredit: true, TaxCode: { UID: NT } }] }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { Errors: Array<{ Message: string }> }).Errors.map((e) => e.Message)).toEqual(['Total debits must equal total credits']);
    expect(fake.journals(CF)).toHaveLength(0);
  });

  it("MYOB's 400 becomes PROVIDER_VALIDATION with its messages, not retried; a missing tax code is refused before sending", async () => {
    const myob = client();
    const { grant } = await connect(myob);
    const bad = journalForFill({ purchaseId: 'p9', at: new Date(), satoshis: 1n, spentAudCents: 100n, feeAudCents: 0n, exchange: 'x' }, { ...mapping, digitalAsset: 'a0000001-0000-4000-8000-0000000000ff' });
    const err = await rejection(myob.postJournal(grant, file, bad));
    expect(err).toMatchObject({ extensions: { reason: 'PROVIDER_VALIDATION', retryable: false, messages: ['Account not found'] } });
    expect(gjCalls().filter((r) => r.method === 'POST')).toHaveLength(1);
    expect(booksReasonOf(await rejection(myob.postJournal(grant, { businessId: CF }, fill('p1'))))).toBe('INVALID_MAPPING');
  });

  it('posts a sale as GSTReportingMethod Sale with the loss line', async () => {
    const myob = client();
    const { grant } = await connect(myob);
    const sale = journalForSale({ saleId: 's1', at: new Date('2025-07-02T00:00:00Z'), proceedsAudCents: 500_000n, feeAudCents: 500n, costBaseAudCents: 600_000n, exchange: 'kraken' }, mapping);
    await myob.postJournal(grant, file, sale);
    const stored = at(fake.journals(CF), 0, 'stored journals');
    expect(stored.GSTReportingMethod).toBe('Sale');
    expect(stored.Lines.map((l) => [l.Account.UID, l.Amount, l.IsCredit])).toEqual([
      [ACC.clearing, 4995, false],
      [ACC.asset, 6000, true],
      [ACC.loss, 1005, false],
    ]);
  });

  it('disconnect forgets the tokens; nothing can post afterwards', async () => {
    const myob = client();
    const { grant, store } = await connect(myob);
    await myob.disconnect(grant);
    expect(await store.load()).toBeNull();
    expect(booksReasonOf(await rejection(myob.postJournal(grant, file, fill('p1'))))).toBe('NOT_CONNECTED');
  });
});
