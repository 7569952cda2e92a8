import { gql } from 'graphql-request';
import Stripe from 'stripe';
import { until } from '../helpers/wait';
import { client, errorCodes, startTestPlatform, type TestPlatform } from '../helpers/platform';
import { at, present } from '../helpers/present';

/**
 * `paymentEvents`: what arrived (tenant subgraph), its status and why, and what it did — the accrual
 * entries and the purchase it funded — resolved by the treasury subgraph through federation.
 */

const STRIPE_SECRET = 'whsec_events_0123456789abcdef';
const PASSWORD = 'Correct-Horse-42-Battery';

const EVENTS = gql`
  query ($first: Int, $after: String, $status: PaymentEventStatus, $integrationId: ID) {
    paymentEvents(first: $first, after: $after, status: $status, integrationId: $integrationId) {
      edges {
        cursor
        node {
          id
          integrationId
          provider
          providerEventId
          eventType
          kind
          amount
          currency
          providerObjectId
          occurredAt
          receivedAt
          status
          reason
          sanitized
          accruals {
            ruleId
            kind
            amountAudCents
            purchaseId
          }
          purchases {
            id
            status
            amountAudCents
          }
        }
      }
      hasNextPage
      endCursor
    }
  }
`;

type Accrual = { ruleId: string; kind: string; amountAudCents: string; purchaseId: string | null };
type EventNode = {
  id: string;
  integrationId: string;
  provider: string;
  providerEventId: string;
  eventType: string;
  kind: string;
  amount: string | null;
  currency: string | null;
  providerObjectId: string | null;
  occurredAt: string | null;
  receivedAt: string;
  status: string;
  reason: string | null;
  sanitized: boolean;
  accruals: Accrual[];
  purchases: { id: string; status: string; amountAudCents: string }[];
};
type Page = { paymentEvents: { edges: { cursor: string; node: EventNode }[]; hasNextPage: boolean; endCursor: string | null } };

const stripeEvent = (id: string, type: string, amount: number, currency = 'aud'): string =>
  JSON.stringify({
    id,
    object: 'event',
    type,
    created: Math.floor(Date.now() / 1000),
    data: { object: { id: `pi_${id}`, object: 'payment_intent', amount, amount_received: amount, currency, status: 'succeeded' } },
  });

describe('payment events through the API', () => {
  let t: TestPlatform;
  let owner: string;
  let viewer: string;
  let stranger: string;
  let integrationId: string;
  let otherIntegrationId: string;
  let ruleId: string;

  const deliver = async (url: string, body: string): Promise<void> => {
    const res = await fetch(url, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload: body, secret: STRIPE_SECRET }) },
    });
    expect(res.status).toBe(200);
  };
  const page = (token: string, vars: Record<string, unknown> = {}): Promise<Page> => client(t.gateway, token).request<Page>(EVENTS, vars);

  beforeAll(async () => {
    t = await startTestPlatform();
    const signUp = async (tenantName: string, email: string): Promise<string> =>
      (
        await client(t.gateway).request<{ signUp: { accessToken: string } }>(gql`mutation ($i: SignUpInput!) { signUp(input: $i) { accessToken } }`, {
          i: { tenantName, email, password: PASSWORD },
        })
      ).signUp.accessToken;
    owner = await signUp('Events Pty Ltd', 'owner@events.example');
    stranger = await signUp('Stranger Pty Ltd', 'owner@stranger.example');
    const c = client(t.gateway, owner);
    const { inviteUser } = await c.request<{ inviteUser: { token: string } }>(gql`mutation { inviteUser(email: "viewer@events.example", role: VIEWER) { token } }`);
    viewer = (
      await client(t.gateway).request<{ acceptInvite: { accessToken: string } }>(gql`mutation ($t: String!, $p: String) { acceptInvite(token: $t, password: $p) { accessToken } }`, {
        t: inviteUser.token,
        p: PASSWORD,
      })
    ).acceptInvite.accessToken;
    ruleId = (await c.request<{ createTreasuryRule: { id: string } }>(gql`mutation { createTreasuryRule(input: { name: "Ten percent", type: PERCENTAGE_OF_REVENUE, percentageBps: 1000 }) { id } }`))
      .createTreasuryRule.id;
    const connect = gql`mutation ($s: String!, $n: String!) { connectPaymentIntegration(input: { provider: STRIPE, name: $n, stripeWebhookSecret: $s }) { id webhookUrl } }`;
    const main = (await c.request<{ connectPaymentIntegration: { id: string; webhookUrl: string } }>(connect, { s: STRIPE_SECRET, n: 'Stripe AU' })).connectPaymentIntegration;
    const second = (await c.request<{ connectPaymentIntegration: { id: string; webhookUrl: string } }>(connect, { s: STRIPE_SECRET, n: 'Stripe NZ' })).connectPaymentIntegration;
    integrationId = main.id;
    otherIntegrationId = second.id;
    // In order: an AUD payment that funds a purchase, a USD one (skipped), an event type we do not use (ignored), one carrying U+0000.
    await deliver(main.webhookUrl, stripeEvent('evt_aud', 'payment_intent.succeeded', 12345));
    await deliver(main.webhookUrl, stripeEvent('evt_usd', 'payment_intent.succeeded', 5000, 'usd'));
    await deliver(main.webhookUrl, stripeEvent('evt_other', 'customer.created', 0));
    await deliver(second.webhookUrl, JSON.stringify({ ...JSON.parse(stripeEvent('evt_nul', 'payment_intent.succeeded', 200)), description: 'x\u0000y' }));
    // The treasury settles each event (PROCESSED / SKIPPED) shortly after it is stored.
    await until('every event settled', async () => {
      const p = await page(owner);
      return p.paymentEvents.edges.length === 4 && p.paymentEvents.edges.every((e) => e.node.status !== 'RECEIVED') ? p : undefined;
    });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('shows the tenant its events, newest first, with status, reason and what each did', async () => {
    const { paymentEvents } = await page(owner);
    const nodes = paymentEvents.edges.map((e) => e.node);
    expect(nodes.map((n) => n.providerEventId)).toEqual(['evt_nul', 'evt_other', 'evt_usd', 'evt_aud']);
    const [nul, other, usd, aud] = nodes;
    if (!aud || !usd) throw new Error('expected aud, usd to be present');
    expect(aud).toMatchObject({
      integrationId,
      provider: 'STRIPE',
      eventType: 'payment_intent.succeeded',
      kind: 'REVENUE',
      amount: '12345',
      currency: 'AUD',
      providerObjectId: 'pi_evt_aud',
      status: 'PROCESSED',
      reason: null,
      sanitized: false,
    });
    // 10% of $123.45, exactly: half a cent carries over.
    expect(aud.accruals).toEqual([{ ruleId, kind: 'REVENUE', amountAudCents: '1234.5', purchaseId: aud.purchases[0]?.id }]);
    expect(aud.purchases).toHaveLength(1);
    expect(aud.purchases[0]).toMatchObject({ amountAudCents: '1234' });
    expect(usd).toMatchObject({ kind: 'REVENUE', amount: '5000', currency: 'USD', status: 'SKIPPED', accruals: [], purchases: [] });
    expect(usd.reason).toMatch(/USD.*AUD only/);
    expect(other).toMatchObject({ eventType: 'customer.created', kind: 'IGNORED', amount: null, status: 'IGNORED', reason: 'event type is not used for revenue', accruals: [], purchases: [] });
    expect(nul).toMatchObject({ integrationId: otherIntegrationId, sanitized: true, amount: '200' });
    expect(Date.parse(aud.receivedAt)).toBeLessThanOrEqual(Date.parse(usd.receivedAt));
  });

  it('pages with a cursor, and filters by status and integration', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    for (let i = 0; i < 10; i++) {
      const { paymentEvents: p }: Page = await page(owner, { first: 1, after });
      seen.push(...p.edges.map((e) => e.node.providerEventId));
      expect(p.endCursor).toBe(p.edges.at(-1)?.cursor ?? null);
      if (!p.hasNextPage) break;
      after = p.endCursor;
    }
    expect(seen).toEqual(['evt_nul', 'evt_other', 'evt_usd', 'evt_aud']);
    const two = await page(owner, { first: 2 });
    expect(two.paymentEvents.hasNextPage).toBe(true);
    const rest = await page(owner, { first: 2, after: two.paymentEvents.endCursor });
    expect(rest.paymentEvents.edges.map((e) => e.node.providerEventId)).toEqual(['evt_usd', 'evt_aud']);
    expect(rest.paymentEvents.hasNextPage).toBe(false);

    const skipped = await page(owner, { status: 'SKIPPED' });
    expect(skipped.paymentEvents.edges.map((e) => e.node.providerEventId)).toEqual(['evt_usd']);
    const second = await page(owner, { integrationId: otherIntegrationId });
    expect(second.paymentEvents.edges.map((e) => e.node.providerEventId)).toEqual(['evt_nul']);
  });

  it('a VIEWER reads them too', async () => {
    const { paymentEvents } = await page(viewer);
    expect(paymentEvents.edges.map((e) => e.node.providerEventId)).toEqual(['evt_nul', 'evt_other', 'evt_usd', 'evt_aud']);
    expect(at(paymentEvents.edges, 3).node.accruals).toHaveLength(1);
  });

  it('another tenant sees none of them, even naming the integration', async () => {
    expect((await page(stranger)).paymentEvents).toEqual({ edges: [], hasNextPage: false, endCursor: null });
    expect((await page(stranger, { integrationId })).paymentEvents.edges).toEqual([]);
    expect(await errorCodes(client(t.gateway).request(EVENTS, {}))).toEqual(['UNAUTHENTICATED']);
  });

  it('no subgraph resolves another tenant’s event by reference', async () => {
    const id = at((await page(owner)).paymentEvents.edges, 3, 'payment events').node.id;
    const urls = t.platform.urls as Record<string, string>;
    const tenant = present(urls.tenant, 'tenant URL');
    const treasury = present(urls.treasury, 'treasury URL');
    const entities = async (url: string, representation: Record<string, unknown>, token: string): Promise<unknown> => {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: 'query ($r: [_Any!]!) { _entities(representations: $r) { __typename } }', variables: { r: [representation] } }),
      });
      return ((await res.json()) as { data: { _entities: unknown[] } }).data._entities;
    };
    expect(await entities(tenant, { __typename: 'PaymentEvent', id }, owner)).toEqual([{ __typename: 'PaymentEvent' }]);
    expect(await entities(tenant, { __typename: 'PaymentEvent', id }, stranger)).toEqual([null]);
    expect(await entities(treasury, { __typename: 'PaymentEvent', id }, stranger)).toEqual([null]);
  });

  it.each([
    ['first 0', { first: 0 }],
    ['first above 200', { first: 201 }],
    ['a cursor that is not one', { after: 'not-a-cursor' }],
    ...['2025-13-40T00:00:00.000000Z', '2025-02-30T00:00:00.000000Z', '0000-01-01T00:00:00.000000Z'].map(
      (date) => [`a cursor dated ${date}`, { after: Buffer.from(`${date}|00000000-0000-4000-8000-000000000000`).toString('base64url') }] as [string, Record<string, unknown>],
    ),
    ['an integration id that is not an id', { integrationId: 'stripe' }],
  ])('%s → BAD_USER_INPUT', async (_label, vars) => {
    expect(await errorCodes(page(owner, vars))).toEqual(['BAD_USER_INPUT']);
  });
});
