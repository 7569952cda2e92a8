import { startFakeOtlp, type FakeOtlp } from '../../../test/fakes/otlp.server';
import { startMyobFake, type MyobFake } from '../../../test/fakes/myob.server';
import { withCorrelation } from '../../../lib/logger';
import { CORRELATION_ATTRIBUTE, startTracing } from '../../../lib/tracing';
import { journalForFill, type AccountMapping } from './journal';
import { MyobBooksClient, type MyobCompanyFile } from './myob.client';
import { InMemoryTokenStore, type Grant } from './tokens';

const CF = '5d4b1ce0-bb9f-4f4c-9578-2b168b7295db';
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

/** Calls to MYOB's AccountRight API as CLIENT spans, received by a real OTLP/HTTP receiver (as lib/tracing.spec.ts). */
describe('MYOB journal posts are traced, with no token, key, company file or journal in any span', () => {
  let otlp: FakeOtlp;
  let fake: MyobFake;

  beforeAll(async () => {
    otlp = await startFakeOtlp();
    fake = await startMyobFake({
      apiKey: 'abt-key-3c1d',
      apiSecret: 'abt-secret-77e0',
      redirectUri: REDIRECT,
      files: [{ businessId: CF, businessName: 'Demo Coffee Roasters', accountUids: Object.values(ACC), taxCodeUids: [NT] }],
    });
  });
  afterAll(async () => {
    await fake.close();
    await otlp.close();
  });

  it('posting a fill: a span per API call named by method and resource, with the status and correlation id', async () => {
    const myob = new MyobBooksClient({ apiKey: 'abt-key-3c1d', apiSecret: 'abt-secret-77e0', redirectUri: REDIRECT, secureBaseUrl: fake.url, apiBaseUrl: fake.url, timeoutMs: 2_000 });
    const pending = myob.authorizationRequest();
    const consent = await fetch(pending.url, { redirect: 'manual' });
    const connected = await myob.completeAuthorization(consent.headers.get('location')!, pending);
    const store = new InMemoryTokenStore();
    await store.save(connected.tokens, null);
    const grant: Grant = { id: 'myob-grant', tokens: store };

    const t = startTracing({ tracesUrl: `${otlp.url}/v1/traces`, sampleRatio: 1 }, ['workers']);
    const journal = journalForFill({ purchaseId: 'p-traced', at: new Date('2025-07-01T01:00:00Z'), satoshis: 123_456n, spentAudCents: 12_345n, feeAudCents: 123n, exchange: 'kraken' }, mapping);
    const posted = await withCorrelation('c-books', {}, () => myob.postJournal(grant, file, journal));
    await t.stop();
    expect(posted.provider).toBe('MYOB');

    const spans = otlp.spans().filter((s) => s.attributes['abt.books.provider'] === 'myob');
    const apiCalls = fake.requests().filter((r) => r.path.includes('/accountright/'));
    // The lookup (GET by journal number, so a retry never posts twice), then the POST.
    expect(spans.map((s) => s.name)).toEqual(['myob GET /GeneralLedger/GeneralJournal', 'myob POST /GeneralLedger/GeneralJournal']);
    expect(spans).toHaveLength(apiCalls.length);
    const post = spans[1];
    expect(post).toMatchObject({ service: 'workers', kind: 3, statusCode: 0 });
    expect(post?.attributes).toEqual({
      'abt.books.provider': 'myob',
      'abt.books.operation': 'POST /GeneralLedger/GeneralJournal',
      'http.request.method': 'POST',
      'server.address': '127.0.0.1',
      'server.port': Number(new URL(fake.url).port),
      'http.response.status_code': apiCalls[1]?.status,
      [CORRELATION_ATTRIBUTE]: 'c-books',
    });

    const text = JSON.stringify(spans);
    for (const secret of [connected.tokens.accessToken, connected.tokens.refreshToken, 'abt-key-3c1d', 'abt-secret-77e0', CF, ACC.asset, 'p-traced', 'abt-fill']) expect(text).not.toContain(secret);
  });
});
