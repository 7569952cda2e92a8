import { AccountingApi } from 'xero-node';
import { at } from '../../../test/helpers/present';
import { startXeroFake, type XeroFake } from '../../../test/fakes/xero.server';
import { booksReasonOf } from './errors';
import { journalForFill, journalForSale, type AccountMapping } from './journal';
import { InMemoryRateLimiter, type Clock } from './limiter';
import { InMemoryTokenStore, type Grant } from './tokens';
import { XeroBooksClient, type XeroClientOptions } from './xero.client';

const ORG_A = '70784a63-d24b-46a9-a4db-0e70a274b056';
const ORG_B = 'b1e2c3d4-0000-4000-8000-000000000002';
const REDIRECT = 'https://app.liquidabt.local/books/xero/callback';
const mapping: AccountMapping = { digitalAsset: '1450', exchangeClearing: '1460', feesExpense: '6100', realisedGain: '4800', realisedLoss: '6900' };
const accountCodes = ['1450', '1460', '6100', '4800', '6900'];

/** Time both sides share: sleeping moves it forward at once, and records what was asked. */
function sharedClock(): Clock & { slept: number[]; advance(ms: number): void } {
  let t = Date.UTC(2025, 6, 1, 0, 0, 0);
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

const fill = (purchaseId: string, spent = 123_45n, fee = 1_23n) =>
  journalForFill({ purchaseId, at: new Date('2025-07-01T01:00:00Z'), satoshis: 123_456n, spentAudCents: spent, feeAudCents: fee, exchange: 'kraken' }, mapping);

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('Xero adapter against the local Xero', () => {
  let fake: XeroFake;
  let clock: ReturnType<typeof sharedClock>;

  const client = (over: Partial<XeroClientOptions> = {}): XeroBooksClient =>
    new XeroBooksClient({
      clientId: 'abt-client',
      clientSecret: 'abt-secret',
      redirectUri: REDIRECT,
      loginBaseUrl: fake.url,
      identityBaseUrl: fake.url,
      apiBaseUrl: fake.url,
      clock,
      random: () => 1,
      timeoutMs: 2_000,
      ...over,
    });

  /** The whole consent round trip, the browser played by fetch. */
  async function connect(xero: XeroBooksClient): Promise<{ grant: Grant; store: InMemoryTokenStore; connections: Awaited<ReturnType<XeroBooksClient['completeAuthorization']>>['connections'] }> {
    const pending = xero.authorizationRequest();
    const consent = await fetch(pending.url, { redirect: 'manual' });
    expect(consent.status).toBe(302);
    const result = await xero.completeAuthorization(consent.headers.get('location')!, pending);
    const store = new InMemoryTokenStore();
    await store.save(result.tokens, null);
    return { grant: { id: 'grant-1', tokens: store }, store, connections: result.connections };
  }

  beforeEach(async () => {
    clock = sharedClock();
    fake = await startXeroFake({
      clientId: 'abt-client',
      clientSecret: 'abt-secret',
      redirectUri: REDIRECT,
      organisations: [
        { tenantId: ORG_A, name: 'Demo Coffee Roasters', accountCodes },
        { tenantId: ORG_B, name: 'Demo Holdings', accountCodes },
      ],
      now: () => clock.now(),
    });
  });
  afterEach(() => fake.close());

  describe('connect (authorization code + PKCE)', () => {
    it('builds a consent URL with state and an S256 challenge, and comes back with tokens and one connection per organisation', async () => {
      const xero = client();
      const pending = xero.authorizationRequest();
      const url = new URL(pending.url);
      expect(url.origin + url.pathname).toBe(`${fake.url}/identity/connect/authorize`);
      expect(url.searchParams.get('code_challenge_method')).toBe('S256');
      expect(url.searchParams.get('state')).toBe(pending.state);
      expect(url.searchParams.get('scope')).toBe('offline_access accounting.manualjournals accounting.settings.read');
      const { connections, store } = await connect(xero);
      expect(connections.map((c) => [c.tenantId, c.tenantName, c.tenantType]).sort()).toEqual([
        [ORG_A, 'Demo Coffee Roasters', 'ORGANISATION'],
        [ORG_B, 'Demo Holdings', 'ORGANISATION'],
      ]);
      const tokens = (await store.load())!;
      expect(tokens.accessTokenExpiresAt.getTime() - clock.now()).toBe(30 * 60_000);
      expect(tokens.scopes).toContain('offline_access');
    });

    it('refuses a callback whose state is not ours, and a cancelled consent', async () => {
      const xero = client();
      const pending = xero.authorizationRequest();
      const consent = await fetch(pending.url, { redirect: 'manual' });
      const err = await rejection(xero.completeAuthorization(consent.headers.get('location')!, { ...pending, state: 'someone-elses' }));
      expect(booksReasonOf(err)).toBe('OAUTH_STATE_MISMATCH');
      fake.consentTo([]);
      const p2 = xero.authorizationRequest();
      const denied = await fetch(p2.url, { redirect: 'manual' });
      expect(booksReasonOf(await rejection(xero.completeAuthorization(denied.headers.get('location')!, p2)))).toBe('OAUTH_DENIED');
    });

    it('refuses a code exchanged with the wrong PKCE verifier', async () => {
      const xero = client();
      const pending = xero.authorizationRequest();
      const consent = await fetch(pending.url, { redirect: 'manual' });
      const err = await rejection(xero.completeAuthorization(consent.headers.get('location')!, { ...pending, codeVerifier: 'x'.repeat(43) }));
      expect(booksReasonOf(err)).toBe('RECONNECT_REQUIRED');
    });
  });

  describe('tokens', () => {
    it('rotates the refresh token: the old one is refused after use', async () => {
      const xero = client();
      const { store } = await connect(xero);
      const first = (await store.load())!;
      const second = await xero.refreshTokens(first.refreshToken);
      expect(second.refreshToken).not.toBe(first.refreshToken);
      expect(booksReasonOf(await rejection(xero.refreshTokens(first.refreshToken)))).toBe('RECONNECT_REQUIRED');
      const third = await xero.refreshTokens(second.refreshToken);
      expect(typeof third.accessToken).toBe('string');
    });

    it('an access token Xero says expired is refreshed once and the post retried; the rotation is stored', async () => {
      const xero = client();
      const { grant, store } = await connect(xero);
      const before = (await store.load())!;
      fake.expireAccessTokens();
      const posted = await xero.postJournal(grant, ORG_A, fill('p1'));
      expect(fake.journals(ORG_A)).toHaveLength(1);
      expect(posted.externalId).toBe(at(fake.journals(ORG_A), 0).ManualJournalID);
      const puts = fake.requests().filter((r) => r.path === '/api.xro/2.0/ManualJournals');
      expect(puts.map((r) => r.status)).toEqual([401, 200]);
      expect(fake.requests().filter((r) => r.path === '/connect/token')).toHaveLength(2); // code + one refresh
      expect((await store.load())!.refreshToken).not.toBe(before.refreshToken);
    });

    it('two posts that both meet an expired token share one refresh (the rotating token is not burnt twice)', async () => {
      const xero = client();
      const { grant } = await connect(xero);
      fake.expireAccessTokens();
      await Promise.all([xero.postJournal(grant, ORG_A, fill('p1')), xero.postJournal(grant, ORG_A, fill('p2'))]);
      expect(fake.journals(ORG_A)).toHaveLength(2);
      expect(fake.requests().filter((r) => r.path === '/connect/token')).toHaveLength(2);
    });

    it('a refresh token unused for 60 days means reconnect, without asking Xero', async () => {
      const xero = client();
      const { grant } = await connect(xero);
      clock.advance(61 * 86_400_000);
      expect(booksReasonOf(await rejection(xero.postJournal(grant, ORG_A, fill('p1'))))).toBe('RECONNECT_REQUIRED');
      expect(fake.requests().filter((r) => r.path === '/connect/token')).toHaveLength(1);
    });
  });

  describe('posting a ManualJournal exactly once', () => {
    it('posts a balanced POSTED journal with the Idempotency-Key and xero-tenant-id', async () => {
      const xero = client();
      const { grant } = await connect(xero);
      const j = fill('p1');
      await xero.postJournal(grant, ORG_A, j);
      const stored = at(fake.journals(ORG_A), 0, 'stored journals');
      expect(stored).toMatchObject({ Narration: j.narration, Date: '2025-07-01', Status: 'POSTED', LineAmountTypes: 'NoTax', idempotencyKey: 'abt-fill-p1' });
      expect(stored.JournalLines.map((l) => [l.AccountCode, l.LineAmount])).toEqual([
        ['1450', 124.68],
        ['1460', -124.68],
      ]);
      expect(fake.journals(ORG_B)).toHaveLength(0);
    });

    it('a 500 after Xero stored it: the retry with the same key gets the stored journal back, not a second one', async () => {
      const xero = client();
      const { grant } = await connect(xero);
      fake.inject({ status: 500, afterStore: true });
      const posted = await xero.postJournal(grant, ORG_A, fill('p1'));
      expect(fake.journals(ORG_A)).toHaveLength(1);
      expect(posted.externalId).toBe(at(fake.journals(ORG_A), 0).ManualJournalID);
      const puts = fake.requests().filter((r) => r.path === '/api.xro/2.0/ManualJournals');
      expect(puts.map((r) => [r.status, r.idempotencyKey])).toEqual([
        [500, 'abt-fill-p1'],
        [200, 'abt-fill-p1'],
      ]);
      expect(clock.slept).toEqual([500]);
    });

    it('an answer that never comes (timeout after storing) is retried under the same key', async () => {
      const xero = client({ timeoutMs: 300 });
      const { grant } = await connect(xero);
      fake.inject({ hang: true, afterStore: true }, { status: 503 });
      await xero.postJournal(grant, ORG_A, fill('p1'));
      expect(fake.journals(ORG_A)).toHaveLength(1);
    });

    it('a 429 waits for Retry-After, then succeeds once', async () => {
      const xero = client();
      const { grant } = await connect(xero);
      fake.inject({ status: 429, retryAfterSeconds: 7, problem: 'minute' });
      await xero.postJournal(grant, ORG_A, fill('p1'));
      expect(clock.slept).toEqual([7_000]);
      expect(fake.journals(ORG_A)).toHaveLength(1);
    });

    it('reads X-MinLimit-Remaining and waits before Xero has to say 429', async () => {
      await fake.close();
      fake = await startXeroFake({ clientId: 'abt-client', clientSecret: 'abt-secret', redirectUri: REDIRECT, organisations: [{ tenantId: ORG_A, name: 'A' }], limits: { perMinute: 2 }, now: () => clock.now() });
      const xero = client();
      const { grant } = await connect(xero);
      for (const id of ['p1', 'p2', 'p3']) await xero.postJournal(grant, ORG_A, fill(id));
      expect(fake.journals(ORG_A).map((j) => j.idempotencyKey)).toEqual(['abt-fill-p1', 'abt-fill-p2', 'abt-fill-p3']);
      expect(fake.requests().filter((r) => r.status === 429)).toHaveLength(0);
      expect(clock.slept).toEqual([60_000]);
    });

    it('when another process spent the minute, the real 429 and its Retry-After are honoured', async () => {
      await fake.close();
      fake = await startXeroFake({ clientId: 'abt-client', clientSecret: 'abt-secret', redirectUri: REDIRECT, organisations: [{ tenantId: ORG_A, name: 'A' }], limits: { perMinute: 2 }, now: () => clock.now() });
      const worker1 = client();
      const { grant } = await connect(worker1);
      await worker1.postJournal(grant, ORG_A, fill('p1'));
      clock.advance(10_000);
      await worker1.postJournal(grant, ORG_A, fill('p2'));
      const worker2 = client({ retry: { maxRetryAfterMs: 120_000 } });
      await worker2.postJournal(grant, ORG_A, fill('p3'));
      const statuses = fake.requests().filter((r) => r.path === '/api.xro/2.0/ManualJournals').map((r) => r.status);
      expect(statuses).toEqual([200, 200, 429, 200]);
      // p1 leaves the fake's window 50 s after p2: Retry-After says so, and worker2 slept exactly that.
      expect(clock.slept).toEqual([50_000]);
      expect(fake.journals(ORG_A)).toHaveLength(3);
    });

    it('a Retry-After beyond what a worker should sleep ends the call as retryable (the day limit)', async () => {
      const xero = client();
      const { grant } = await connect(xero);
      fake.inject({ status: 429, retryAfterSeconds: 3_600, problem: 'day' });
      const err = await rejection(xero.postJournal(grant, ORG_A, fill('p1')));
      expect(err).toMatchObject({ extensions: { reason: 'DAILY_LIMIT_REACHED', retryable: true, retryAfterMs: 3_600_000, problem: 'day' } });
      expect(fake.journals(ORG_A)).toHaveLength(0);
    });

    it('keeps to the concurrency limit per organisation', async () => {
      await fake.close();
      fake = await startXeroFake({ clientId: 'abt-client', clientSecret: 'abt-secret', redirectUri: REDIRECT, organisations: [{ tenantId: ORG_A, name: 'A' }], limits: { concurrent: 2 }, latencyMs: 30 });
      const xero = client({ clock: undefined, limiter: new InMemoryRateLimiter({ concurrent: 2, windows: [{ limit: 60, ms: 60_000 }] }) });
      const { grant } = await connect(xero);
      await Promise.all(['a', 'b', 'c', 'd', 'e', 'f'].map((id) => xero.postJournal(grant, ORG_A, fill(id))));
      expect(fake.journals(ORG_A)).toHaveLength(6);
      expect(fake.peakInFlight(ORG_A)).toBe(2);
      expect(fake.requests().filter((r) => r.status === 429)).toHaveLength(0);
    });

    it('gives up after the last attempt with a retryable PROVIDER_UNAVAILABLE', async () => {
      const xero = client({ retry: { maxAttempts: 2 } });
      const { grant } = await connect(xero);
      fake.inject({ status: 503 }, { status: 503 });
      const err = await rejection(xero.postJournal(grant, ORG_A, fill('p1')));
      expect(err).toMatchObject({ extensions: { reason: 'PROVIDER_UNAVAILABLE', retryable: true } });
      // The next job run posts it, still once.
      await xero.postJournal(grant, ORG_A, fill('p1'));
      await xero.postJournal(grant, ORG_A, fill('p1'));
      expect(fake.journals(ORG_A)).toHaveLength(1);
    });

    it('posts a sale journal with gain lines', async () => {
      const xero = client();
      const { grant } = await connect(xero);
      const sale = journalForSale({ saleId: 's1', at: new Date('2025-07-02T00:00:00Z'), proceedsAudCents: 500_000n, feeAudCents: 500n, costBaseAudCents: 400_000n, gainAudCents: 99_500n, exchange: 'kraken' }, mapping);
      await xero.postJournal(grant, ORG_A, sale);
      expect(at(fake.journals(ORG_A), 0).JournalLines.map((l) => [l.AccountCode, l.LineAmount])).toEqual([
        ['1460', 4995],
        ['1450', -4000],
        ['4800', -995],
      ]);
    });

    it('finds a posted journal by its key for reconciliation', async () => {
      const xero = client();
      const { grant } = await connect(xero);
      const posted = await xero.postJournal(grant, ORG_A, fill('p1'));
      await expect(xero.findJournal(grant, ORG_A, 'abt-fill-p1')).resolves.toBe(posted.externalId);
      await expect(xero.findJournal(grant, ORG_A, 'abt-fill-p2')).resolves.toBeNull();
    });
  });

  describe('refusals', () => {
    it('an unbalanced journal is refused before any request', async () => {
      const xero = client();
      const { grant } = await connect(xero);
      const j = fill('p1');
      const before = fake.requests().length;
      const err = await rejection(xero.postJournal(grant, ORG_A, { ...j, lines: [at(j.lines, 0), { ...at(j.lines, 1), amountAudCents: at(j.lines, 1).amountAudCents - 1n }] }));
      expect(booksReasonOf(err)).toBe('UNBALANCED_JOURNAL');
      expect(fake.requests().length).toBe(before);
    });

    it('the fake itself refuses an unbalanced ManualJournal the way Xero does', async () => {
      const xero = client();
      const { store } = await connect(xero);
      const api = new AccountingApi(`${fake.url}/api.xro/2.0`);
      api.accessToken = (await store.load())!.accessToken;
      const raw = await rejection(
        api.createManualJournals(ORG_A, { manualJournals: [{ narration: 'forced', journalLines: [{ lineAmount: 10, accountCode: '1450' }, { lineAmount: -9.99, accountCode: '1460' }] }] }, true, 'forced-1'),
      );
      const parsed = JSON.parse(raw as string) as { response: { statusCode: number; body: { Type: string; Elements: Array<{ ValidationErrors: Array<{ Message: string }> }> } } };
      expect(parsed.response.statusCode).toBe(400);
      expect(parsed.response.body.Type).toBe('ValidationException');
      expect(parsed.response.body.Elements[0]?.ValidationErrors).toEqual([{ Message: 'The total debits (10.00) must equal total credits (9.99)' }]);
      expect(fake.journals(ORG_A)).toHaveLength(0);
    });

    it("Xero's validation errors become a non-retryable PROVIDER_VALIDATION with the messages", async () => {
      const xero = client();
      const { grant } = await connect(xero);
      const j = journalForFill({ purchaseId: 'p1', at: new Date(), satoshis: 1n, spentAudCents: 100n, feeAudCents: 0n, exchange: 'kraken' }, { ...mapping, digitalAsset: '9999' });
      const err = await rejection(xero.postJournal(grant, ORG_A, j));
      expect(err).toMatchObject({ extensions: { reason: 'PROVIDER_VALIDATION', retryable: false, messages: ["Account code '9999' is not a valid code for this document."] } });
      expect(fake.requests().filter((r) => r.path === '/api.xro/2.0/ManualJournals')).toHaveLength(1);
    });
  });

  describe('disconnect', () => {
    it('removes one organisation, and revokes the grant with the last one', async () => {
      const xero = client();
      const { grant, store, connections } = await connect(xero);
      const a = connections.find((c) => c.tenantId === ORG_A)!;
      const b = connections.find((c) => c.tenantId === ORG_B)!;
      await expect(xero.disconnect(grant, a.id)).resolves.toEqual({ revoked: false });
      expect(booksReasonOf(await rejection(xero.postJournal(grant, ORG_A, fill('p1'))))).toBe('NOT_CONNECTED');
      await expect(xero.connections(grant)).resolves.toEqual([expect.objectContaining({ tenantId: ORG_B })]);
      await expect(xero.disconnect(grant, b.id)).resolves.toEqual({ revoked: true });
      expect(await store.load()).toBeNull();
      expect(fake.connections()).toHaveLength(0);
      expect(booksReasonOf(await rejection(xero.postJournal(grant, ORG_B, fill('p1'))))).toBe('NOT_CONNECTED');
    });
  });
});
