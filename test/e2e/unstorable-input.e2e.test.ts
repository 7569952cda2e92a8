import { gql } from 'graphql-request';
import { client, startTestPlatform, type TestPlatform } from '../helpers/platform';
import { at } from '../helpers/present';

/**
 * PostgreSQL cannot store U+0000 in text or jsonb, nor an unpaired UTF-16 surrogate in jsonb. A
 * caller-supplied string carrying one must be a typed BAD_USER_INPUT that changes nothing, never a
 * 500 from the database, whether it comes as a variable or as a literal, through the gateway or
 * straight to the subgraph.
 */

type Result = { data?: Record<string, unknown> | null; errors?: { message: string; extensions?: { code?: string } }[] };

async function post(url: string, query: string, variables: Record<string, unknown>, token?: string): Promise<{ status: number; body: Result }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, body: (await res.json()) as Result };
}

const codes = (r: Result): string[] => (r.errors ?? []).map((e) => String(e.extensions?.code));
const PASSWORD = 'Correct-Horse-42-Battery';

describe('caller strings PostgreSQL cannot store', () => {
  let t: TestPlatform;
  let token: string;

  const count = async (table: string): Promise<number> =>
    Number(at(await t.db.owner.em.getConnection().execute<{ n: string }[]>(`select count(*) as n from ${table}`), 0).n);
  const counts = async (): Promise<number[]> =>
    Promise.all(['public.tenant', 'public.app_user', 'pool.payment_integration', 'pool.treasury_rule', 'pool.purchase', 'public.invitation', 'public.api_key', 'pool.outbox'].map(count));

  beforeAll(async () => {
    t = await startTestPlatform();
    const s = await client(t.gateway).request<{ signUp: { accessToken: string } }>(gql`mutation ($i: SignUpInput!) { signUp(input: $i) { accessToken } }`, {
      i: { tenantName: 'Nul Co', email: 'nul@x.example', password: PASSWORD },
    });
    token = s.signUp.accessToken;
  });
  afterAll(async () => {
    await t?.stop();
  });

  const cases: [string, string, Record<string, unknown>, boolean][] = [
    ['signUp tenant name', `mutation ($i: SignUpInput!) { signUp(input: $i) { accessToken } }`, { i: { tenantName: 'Bad\u0000Co', email: 'bad@x.example', password: PASSWORD } }, false],
    ['login email', `mutation ($i: LoginInput!) { login(input: $i) { __typename } }`, { i: { email: 'nul\u0000@x.example', password: PASSWORD } }, false],
    [
      'integration name',
      `mutation ($i: ConnectPaymentIntegrationInput!) { connectPaymentIntegration(input: $i) { id } }`,
      { i: { provider: 'STRIPE', name: 'Stripe\u0000AU', stripeWebhookSecret: 'whsec_test_0123456789abcdef' } },
      true,
    ],
    [
      'integration name with an unpaired surrogate',
      `mutation ($i: ConnectPaymentIntegrationInput!) { connectPaymentIntegration(input: $i) { id } }`,
      { i: { provider: 'STRIPE', name: 'Stripe \ud800 AU', stripeWebhookSecret: 'whsec_test_0123456789abcdef' } },
      true,
    ],
    ['rule name', `mutation ($i: TreasuryRuleInput!) { createTreasuryRule(input: $i) { id } }`, { i: { name: 'Ten\u0000', type: 'PERCENTAGE_OF_REVENUE', percentageBps: 1000 } }, true],
    ['idempotency key', `mutation ($k: String!) { requestPurchase(amountAudCents: "5000", idempotencyKey: $k) { id } }`, { k: 'key\u0000one' }, true],
    ['invitation email', `mutation ($e: String!) { inviteUser(email: $e, role: VIEWER) { token } }`, { e: 'in\u0000vite@x.example' }, true],
    ['API key name', `mutation ($s: [String!]!) { createApiKey(input: { name: "k\\u0000", scopes: $s }) { key } }`, { s: ['read:treasury'] }, true],
    ['treasury settings', `mutation ($p: TreasurySettingsPatch!) { updateTreasurySettings(patch: $p) { primaryExchange } }`, { p: { failoverExchanges: ['swyftx\u0000'] } }, true],
  ];

  it.each(cases)('%s → BAD_USER_INPUT through the gateway, nothing stored', async (_label, query, variables, signedIn) => {
    const before = await counts();
    const { body } = await post(t.gateway, query, variables, signedIn ? token : undefined);
    expect({ codes: codes(body), message: body.errors?.[0]?.message }).toEqual({ codes: ['BAD_USER_INPUT'], message: expect.stringMatching(/U\+0000|surrogate/) });
    expect(await counts()).toEqual(before);
  });

  it('a U+0000 written as a literal in the document is refused the same way', async () => {
    const before = await counts();
    const { body } = await post(t.gateway, `mutation { createTreasuryRule(input: { name: "a\\u0000b", type: PERCENTAGE_OF_REVENUE, percentageBps: 1 }) { id } }`, {}, token);
    expect(codes(body)).toEqual(['BAD_USER_INPUT']);
    expect(await counts()).toEqual(before);
  });

  it('straight to the subgraphs, too', async () => {
    const before = await counts();
    const tenant = await post(
      t.platform.urls.tenant!,
      `mutation ($i: ConnectPaymentIntegrationInput!) { connectPaymentIntegration(input: $i) { id } }`,
      { i: { provider: 'STRIPE', name: 'x\u0000', stripeWebhookSecret: 'whsec_test_0123456789abcdef' } },
      token,
    );
    expect(codes(tenant.body)).toEqual(['BAD_USER_INPUT']);
    const treasury = await post(t.platform.urls.treasury!, `mutation ($k: String!) { requestPurchase(amountAudCents: "5000", idempotencyKey: $k) { id } }`, { k: '\u0000' }, token);
    expect(codes(treasury.body)).toEqual(['BAD_USER_INPUT']);
    expect(await counts()).toEqual(before);
  });

  it('ordinary text, emoji (surrogate pairs) included, is untouched', async () => {
    const { body } = await post(
      t.gateway,
      `mutation ($i: TreasuryRuleInput!) { createTreasuryRule(input: $i) { name } }`,
      { i: { name: 'Coffee ☕ 😀 fund', type: 'PERCENTAGE_OF_REVENUE', percentageBps: 1000 } },
      token,
    );
    expect(body.errors).toBeUndefined();
    expect(body.data).toEqual({ createTreasuryRule: { name: 'Coffee ☕ 😀 fund' } });
  });
});
