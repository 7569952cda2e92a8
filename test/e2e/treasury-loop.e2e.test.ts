import { createHmac, randomUUID } from 'node:crypto';
import { gql } from 'graphql-request';
import { createClient, type Client } from 'graphql-ws';
import Stripe from 'stripe';
import WebSocket from 'ws';
import type { PurchaseUpdatedEvent, TreasuryRuleChangedEvent } from '../../lib/events';
import { startFakePayPal, type FakePayPal } from '../fakes/paypal.server';
import { until } from '../helpers/wait';
import { client, errorCodes, startTestPlatform, type TestPlatform } from '../helpers/platform';
import { at, present } from '../helpers/present';

const STRIPE_SECRET = 'whsec_loop_0123456789abcdef';
const SQUARE_KEY = 'sq-loop-signature-key-0123';
const PASSWORD = 'Correct-Horse-42-Battery';

const CONNECT = gql`
  mutation ($input: ConnectPaymentIntegrationInput!) {
    connectPaymentIntegration(input: $input) {
      id
      webhookUrl
    }
  }
`;
const PURCHASES = gql`
  query {
    purchases {
      id
      status
      source
      amountAudCents
      satoshis
      spentAudCents
      feeAudCents
      costAudCents
      averagePrice
      exchange
      clientOrderId
      rule {
        name
      }
      fundedBy {
        kind
        paymentEventId
        amountAudCents
        exactAudCents
      }
      transitions {
        fromStatus
        toStatus
      }
    }
    holdings {
      exchange
      sats
      costBaseAudCents
      feesAudCents
      purchases
    }
  }
`;

type Purchase = {
  id: string;
  status: string;
  source: string;
  amountAudCents: string;
  satoshis: string;
  spentAudCents: string;
  feeAudCents: string;
  costAudCents: string;
  averagePrice: string | null;
  exchange: string | null;
  clientOrderId: string;
  rule: { name: string } | null;
  fundedBy: { kind: string; paymentEventId: string | null; amountAudCents: string; exactAudCents: string }[];
  transitions: { fromStatus: string | null; toStatus: string }[];
};
type Holding = { exchange: string; sats: string; costBaseAudCents: string; feesAudCents: string; purchases: number };


/** Webhook → rules → purchase → paper exchange → FILLED, on BullMQ and Redis pub/sub, through the gateway. */
describe('the treasury loop (real PostgreSQL, Redis, BullMQ)', () => {
  let t: TestPlatform;
  let paypal: FakePayPal;
  let token: string;
  let tenantId: string;
  const hooks: Record<'stripe' | 'square' | 'paypal', string> = { stripe: '', square: '', paypal: '' };
  const published: { channel: string; event: PurchaseUpdatedEvent }[] = [];

  const sql = <T>(q: string, params: unknown[] = []): Promise<T[]> => t.db.owner.em.getConnection().execute<T[]>(q, params);
  const post = (url: string, body: string, headers: Record<string, string>): Promise<Response> =>
    fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });

  const sendStripe = (eventId: string, body: Record<string, unknown>): Promise<Response> => {
    const text = JSON.stringify({ id: eventId, object: 'event', created: Math.floor(Date.now() / 1000), ...body });
    return post(hooks.stripe, text, { 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload: text, secret: STRIPE_SECRET }) });
  };
  const stripePayment = (eventId: string, pi: string, cents: number, currency = 'aud'): Promise<Response> =>
    sendStripe(eventId, {
      type: 'payment_intent.succeeded',
      data: { object: { id: pi, object: 'payment_intent', amount: cents, amount_received: cents, currency, status: 'succeeded' } },
    });
  const stripeRefund = (eventId: string, pi: string, refundId: string, cents: number, total: number): Promise<Response> =>
    sendStripe(eventId, {
      type: 'charge.refunded',
      data: {
        object: {
          id: `ch_${pi}`,
          object: 'charge',
          payment_intent: pi,
          amount: total,
          amount_refunded: cents,
          currency: 'aud',
          refunds: { object: 'list', data: [{ id: refundId, object: 'refund', amount: cents, currency: 'aud', created: Math.floor(Date.now() / 1000) }] },
        },
      },
    });
  const squarePayment = (eventId: string, paymentId: string, cents: number): Promise<Response> => {
    const body = JSON.stringify({
      merchant_id: 'M1',
      type: 'payment.updated',
      event_id: eventId,
      created_at: new Date().toISOString(),
      data: { type: 'payment', id: paymentId, object: { payment: { id: paymentId, status: 'COMPLETED', amount_money: { amount: cents, currency: 'AUD' } } } },
    });
    const sig = createHmac('sha256', SQUARE_KEY).update(hooks.square + body).digest('base64');
    return post(hooks.square, body, { 'x-square-hmacsha256-signature': sig });
  };
  const paypalCapture = (eventId: string, captureId: string, value: string): Promise<Response> => {
    const body = JSON.stringify({
      id: eventId,
      event_type: 'PAYMENT.CAPTURE.COMPLETED',
      create_time: new Date().toISOString(),
      resource: { id: captureId, status: 'COMPLETED', amount: { value, currency_code: 'AUD' } },
    });
    return post(hooks.paypal, body, { ...paypal.sign(body) });
  };

  /** Waits until the worker settled the payment event (PROCESSED or SKIPPED) and returns its reason. */
  const settled = (providerEventId: string): Promise<{ status: string; status_reason: string | null }> =>
    until(`${providerEventId} to be settled`, async () => {
      const [row] = await sql<{ status: string; status_reason: string | null }>(
        `select status, status_reason from pool.payment_event where provider_event_id = ?`,
        [providerEventId],
      );
      if (!row || row.status === 'RECEIVED') throw new Error(`${providerEventId} not settled yet`);
      return row;
    });
  const purchases = async (): Promise<{ purchases: Purchase[]; holdings: Holding[] }> =>
    client(t.gateway, token).request<{ purchases: Purchase[]; holdings: Holding[] }>(PURCHASES);
  const allFinal = (): Promise<{ purchases: Purchase[]; holdings: Holding[] }> =>
    until('every purchase to finish', async () => {
      const r = await purchases();
      if (r.purchases.some((p) => ['PENDING', 'SUBMITTED'].includes(p.status))) throw new Error('purchases still running');
      // `purchases` and `holdings` are two root fields, read in two transactions that may straddle a commit.
      const filled = r.purchases.filter((p) => p.status === 'FILLED' || p.status === 'PARTIALLY_FILLED').length;
      if (r.holdings.reduce((n, h) => n + h.purchases, 0) !== filled) throw new Error('holdings not yet read after the last fill');
      return r;
    });

  beforeAll(async () => {
    paypal = await startFakePayPal();
    t = await startTestPlatform({ redis: true, env: { PAYPAL_API_BASE_URL: paypal.baseUrl, PRICE_TICK_MS: '100', PAPER_FEE_BPS: '10' } });
    await t.platform.bus.subscribe('tenant.*.purchase', (channel, event) => published.push({ channel, event }));
    const s = await client(t.gateway).request<{ signUp: { accessToken: string; tenant: { id: string } } }>(
      gql`mutation ($i: SignUpInput!) { signUp(input: $i) { accessToken tenant { id } } }`,
      { i: { tenantName: 'Loop Coffee Pty Ltd', email: 'loop@x.example', password: PASSWORD } },
    );
    token = s.signUp.accessToken;
    tenantId = s.signUp.tenant.id;
    const c = client(t.gateway, token);
    await c.request(gql`mutation ($i: TreasuryRuleInput!) { createTreasuryRule(input: $i) { id } }`, {
      i: { name: '10% of revenue', type: 'PERCENTAGE_OF_REVENUE', percentageBps: 1000 },
    });
    const connect = async (input: Record<string, string>): Promise<string> =>
      (await c.request<{ connectPaymentIntegration: { webhookUrl: string } }>(CONNECT, { input })).connectPaymentIntegration.webhookUrl;
    hooks.stripe = await connect({ provider: 'STRIPE', name: 'Stripe AU', stripeWebhookSecret: STRIPE_SECRET });
    hooks.square = await connect({ provider: 'SQUARE', name: 'Square POS', squareSignatureKey: SQUARE_KEY });
    hooks.paypal = await connect({
      provider: 'PAYPAL',
      name: 'PayPal',
      paypalClientId: paypal.clientId,
      paypalClientSecret: paypal.clientSecret,
      paypalWebhookId: paypal.webhookId,
    });
  }, 60_000);
  afterAll(async () => {
    await t?.stop();
    await paypal?.close();
  });

  it('turns a Stripe, a Square and a PayPal payment into FILLED purchases of 10%, with holdings, audit and live events', async () => {
    // $123.45 by Stripe: 10% = 1234.5 cents → buys 1234, half a cent carries over.
    expect((await stripePayment('evt_loop_1', 'pi_loop_1', 12345)).status).toBe(200);
    expect((await settled('evt_loop_1')).status).toBe('PROCESSED');
    // $25.00 by Square: 250 cents accrue (below the $5 exchange minimum).
    expect((await squarePayment('sq-loop-1', 'SQP-1', 2500)).status).toBe(200);
    expect((await settled('sq-loop-1')).status).toBe('PROCESSED');
    // $49.95 by PayPal: 499.5 more → 0.5 + 250 + 499.5 = 750 cents → buys 750.
    expect((await paypalCapture('WH-LOOP-1', 'CAP-LOOP-1', '49.95')).status).toBe(200);
    expect((await settled('WH-LOOP-1')).status).toBe('PROCESSED');

    const { purchases: list, holdings } = await allFinal();
    expect(list.map((p) => [p.amountAudCents, p.status, p.source, p.exchange, p.rule?.name])).toEqual([
      ['750', 'FILLED', 'RULE', 'paper', '10% of revenue'],
      ['1234', 'FILLED', 'RULE', 'paper', '10% of revenue'],
    ]);
    const events = await sql<{ id: string; provider: string }>(`select id, provider from pool.payment_event order by received_at`);
    const idOf = (provider: string): string => events.find((e) => e.provider === provider)!.id;
    const [second, first] = list;
    if (!first || !second) throw new Error('expected first, second to be present');
    expect(first.fundedBy).toEqual([{ kind: 'REVENUE', paymentEventId: idOf('stripe'), amountAudCents: '1234', exactAudCents: '1234' }]);
    // Oldest payment first: the half cent the Stripe payment carried over, then Square and PayPal; exactly 750.
    expect(second.fundedBy.map((f) => [f.paymentEventId, f.exactAudCents])).toEqual([
      [idOf('stripe'), '0.5'],
      [idOf('square'), '250'],
      [idOf('paypal'), '499.5'],
    ]);
    expect(second.fundedBy.reduce((n, f) => n + BigInt(f.amountAudCents), 0n)).toBe(750n);
    for (const p of list) {
      expect(p.transitions.map((x) => x.toStatus)).toEqual(['PENDING', 'SUBMITTED', 'FILLED']);
      expect(p.clientOrderId).toBe(p.id);
      expect(BigInt(p.satoshis)).toBeGreaterThan(0n);
      expect(p.spentAudCents).toBe(p.amountAudCents);
      // Paper charges 10 bps (rounded up to the cent, as exchanges do), recorded apart from the spend; cost = spend + fee.
      expect(BigInt(p.feeAudCents)).toBe((BigInt(p.amountAudCents) * 10n + 9_999n) / 10_000n);
      expect(BigInt(p.costAudCents)).toBe(BigInt(p.spentAudCents) + BigInt(p.feeAudCents));
      // sats = floor(AUD / price × 1e8), within a satoshi of the average price it reports.
      const price = Number(p.averagePrice);
      expect(Math.abs(Number(p.satoshis) - (Number(p.amountAudCents) / 100 / price) * 1e8)).toBeLessThanOrEqual(1);
    }
    expect(holdings).toEqual([
      {
        exchange: 'paper',
        sats: (BigInt(first.satoshis) + BigInt(second.satoshis)).toString(),
        costBaseAudCents: (BigInt(first.costAudCents) + BigInt(second.costAudCents)).toString(),
        feesAudCents: (BigInt(first.feeAudCents) + BigInt(second.feeAudCents)).toString(),
        purchases: 2,
      },
    ]);
    // What remains accrued is the carried half cent, exactly.
    const [pending] = await sql<{ total: string }>(`select sum(amount_e4)::text as total from pool.accrual_entry`);
    if (!pending) throw new Error('expected pending to be present');
    expect(pending.total).toBe('0');

    // Every transition is in the audit chain, and the chain verifies.
    const audit = await until('the audit chain to hold the fill', async () => {
      const r = await client(t.gateway, token).request<{
        auditEvents: { edges: { node: { eventType: string; subjectId: string } }[] };
        verifyAuditChain: { valid: boolean };
      }>(gql`{ auditEvents(first: 200) { edges { node { eventType subjectId } } } verifyAuditChain { valid } }`);
      const types = r.auditEvents.edges.filter((e) => e.node.subjectId === first.id).map((e) => e.node.eventType);
      if (!types.includes('purchase.filled')) throw new Error('audit not yet appended');
      return { types, valid: r.verifyAuditChain.valid };
    });
    expect(audit.valid).toBe(true);
    expect(audit.types).toEqual(['purchase.pending', 'purchase.submitted', 'purchase.filled', 'purchase.fill']);

    // Status changes were published on tenant.<tid>.purchase, in order, for each purchase.
    for (const p of list) {
      const seen = await until('FILLED to be published', async () => {
        const s = published.filter((e) => e.event.purchaseId === p.id).map((e) => e.event.status);
        if (!s.includes('FILLED')) throw new Error('not yet published');
        return s;
      });
      expect(seen).toEqual(['PENDING', 'SUBMITTED', 'FILLED']);
      expect(published.find((e) => e.event.purchaseId === p.id)!.channel).toBe(`tenant.${tenantId}.purchase`);
    }
  }, 60_000);

  it('counts a payment once however often and however it is reported', async () => {
    const before = (await purchases()).purchases.length;
    const responses = await Promise.all(Array.from({ length: 20 }, () => stripePayment('evt_loop_dup', 'pi_loop_dup', 10000)));
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200));
    // charge.succeeded for the same payment intent is the same money: no second accrual.
    await sendStripe('evt_loop_dup_charge', {
      type: 'charge.succeeded',
      data: { object: { id: 'ch_loop_dup', object: 'charge', payment_intent: 'pi_loop_dup', amount: 10000, currency: 'aud', status: 'succeeded', paid: true } },
    });
    await settled('evt_loop_dup');
    await settled('evt_loop_dup_charge');
    const { purchases: list } = await allFinal();
    expect(list.length).toBe(before + 1);
    expect(at(list, 0).amountAudCents).toBe('1000');
  }, 30_000);

  it('lets a refund before the purchase reduce the accrual, and keeps bitcoin already bought', async () => {
    const before = (await purchases()).purchases.length;
    // $30 paid (300 cents accrue), $20 refunded before any purchase (−200), then $45 paid (+450) → 550 → one purchase of 550.
    await stripePayment('evt_ref_pay', 'pi_ref', 3000);
    await settled('evt_ref_pay');
    await stripeRefund('evt_ref_1', 'pi_ref', 're_ref_1', 2000, 3000);
    await settled('evt_ref_1');
    await stripePayment('evt_ref_pay2', 'pi_ref2', 4500);
    await settled('evt_ref_pay2');
    let list = (await allFinal()).purchases;
    expect(list.length).toBe(before + 1);
    expect(at(list, 0).amountAudCents).toBe('550');
    // Refunding pi_ref2 after its share was bought: recorded, nothing clawed back, nothing bought.
    await stripeRefund('evt_ref_2', 'pi_ref2', 're_ref_2', 4500, 4500);
    expect((await settled('evt_ref_2')).status_reason).toMatch(/after its share was bought/);
    list = (await allFinal()).purchases;
    expect(list.length).toBe(before + 1);
  }, 30_000);

  it('applies a refund delivered before its payment when the payment arrives', async () => {
    const before = (await purchases()).purchases.length;
    // Refund of $40 arrives first (recorded, waiting), then the $100 payment: 10% of (100 − 40) = 600 → one purchase.
    await stripeRefund('evt_early_ref', 'pi_early', 're_early', 4000, 10000);
    expect((await settled('evt_early_ref')).status_reason).toMatch(/before its payment/);
    await stripePayment('evt_early_pay', 'pi_early', 10000);
    await settled('evt_early_pay');
    const list = (await allFinal()).purchases;
    expect(list.length).toBe(before + 1);
    expect(at(list, 0).amountAudCents).toBe('600');
  }, 30_000);

  it('skips a non-AUD payment visibly, without converting it', async () => {
    await stripePayment('evt_loop_usd', 'pi_loop_usd', 500000, 'usd');
    expect(await settled('evt_loop_usd')).toEqual({
      status: 'SKIPPED',
      status_reason: 'amount is in USD; rules act on AUD only and nothing is converted',
    });
  });

  it('holds a rule to its daily cap and says so on the rule channel', async () => {
    const c = client(t.gateway, token);
    const rules = await c.request<{ treasuryRules: { id: string }[] }>(gql`{ treasuryRules { id } }`);
    const ruleEvents: TreasuryRuleChangedEvent[] = [];
    const unsubscribe = await t.platform.bus.subscribe(`tenant.${tenantId}.rule`, (_c, e) => ruleEvents.push(e));
    // Today the rule has bought 1234 + 750 + 1000 + 550 = 3534; cap it at 4000 → 466 left, below the 500 minimum.
    await c.request(gql`mutation ($id: ID!, $p: TreasuryRulePatch!) { updateTreasuryRule(id: $id, patch: $p) { id } }`, {
      id: at(rules.treasuryRules, 0).id,
      p: { dailyCapAudCents: '4000' },
    });
    const before = (await purchases()).purchases.length;
    await stripePayment('evt_cap', 'pi_cap', 100000);
    await settled('evt_cap');
    expect((await allFinal()).purchases.length).toBe(before);
    await until('LIMIT_REACHED on the rule channel', async () => (ruleEvents.some((e) => e.change === 'LIMIT_REACHED') ? true : undefined));
    const [pending] = await sql<{ total: string }>(`select sum(amount_e4)::text as total from pool.accrual_entry`);
    if (!pending) throw new Error('expected pending to be present');
    expect(BigInt(pending.total) / 10_000n).toBe(10_000n);
    await unsubscribe();
    await c.request(gql`mutation ($id: ID!, $p: TreasuryRulePatch!) { updateTreasuryRule(id: $id, patch: $p) { id } }`, {
      id: at(rules.treasuryRules, 0).id,
      p: { dailyCapAudCents: null },
    });
  }, 30_000);

  it('requestPurchase follows Stripe idempotency: same key and amount → same purchase; different amount → refused', async () => {
    const c = client(t.gateway, token);
    const REQUEST = gql`mutation ($a: AudCents!, $k: String!) { requestPurchase(amountAudCents: $a, idempotencyKey: $k) { id status source amountAudCents } }`;
    const key = `manual-${randomUUID()}`;
    const results = await Promise.all(Array.from({ length: 5 }, () => c.request<{ requestPurchase: { id: string } }>(REQUEST, { a: '2500', k: key })));
    expect(new Set(results.map((r) => r.requestPurchase.id)).size).toBe(1);
    expect(await errorCodes(c.request(REQUEST, { a: '2501', k: key }))).toEqual(['CONFLICT']);
    for (const [a, code] of [
      ['0', 'BAD_USER_INPUT'],
      ['-500', 'BAD_USER_INPUT'],
      ['12.5', 'BAD_USER_INPUT'],
      ['499', 'BAD_USER_INPUT'],
      ['99999999999999999999', 'BAD_USER_INPUT'],
    ] as const) {
      expect(await errorCodes(c.request(REQUEST, { a, k: `bad-${randomUUID()}` }))).toEqual([code]);
    }
    const filled = await until('the manual purchase to fill', async () => {
      const r = await c.request<{ purchase: { status: string; source: string } }>(gql`query ($id: ID!) { purchase(id: $id) { status source } }`, {
        id: at(results, 0).requestPurchase.id,
      });
      if (r.purchase.status !== 'FILLED') throw new Error('not filled yet');
      return r.purchase;
    });
    expect(filled).toEqual({ status: 'FILLED', source: 'MANUAL' });
    const [firstRow] = await sql<{ n: string }>(`select count(*)::text as n from pool.purchase where source = 'MANUAL'`);
    const { n } = present(firstRow, 'the first row');
    expect(n).toBe('1');
  }, 30_000);

  it('shows a purchase going through its states live through the gateway, valued by the market-price subgraph in the same payload', async () => {
    const ws = (accessToken: string): Client =>
      createClient({
        url: `${t.gateway.replace(/^http/, 'ws')}`,
        webSocketImpl: WebSocket,
        connectionParams: { authorization: `Bearer ${accessToken}` },
        retryAttempts: 0,
      });
    type Live = { purchaseUpdated: { purchaseId: string; status: string; purchase: { amountAudCents: string; satoshis: string; currentValueAud: string | null; unrealizedGainAud: string | null } } };
    const mine = ws(token);
    const seen: Live['purchaseUpdated'][] = [];
    const errors: unknown[] = [];
    const stop = mine.subscribe<Live>(
      { query: 'subscription { purchaseUpdated { purchaseId status purchase { amountAudCents satoshis currentValueAud unrealizedGainAud } } }' },
      { next: (v) => v.data && seen.push(v.data.purchaseUpdated), error: (e) => errors.push(e), complete: () => undefined },
    );
    // Another tenant: its subscription to all of its purchases never sees ours; naming ours is NOT_FOUND.
    const other = await client(t.gateway).request<{ signUp: { accessToken: string } }>(
      gql`mutation ($i: SignUpInput!) { signUp(input: $i) { accessToken } }`,
      { i: { tenantName: 'Nosy Pty Ltd', email: 'nosy@x.example', password: PASSWORD } },
    );
    const theirs = ws(other.signUp.accessToken);
    const leaked: unknown[] = [];
    const stopTheirs = theirs.subscribe({ query: 'subscription { purchaseUpdated { purchaseId status } }' }, { next: (v) => leaked.push(v), error: () => undefined, complete: () => undefined });
    await new Promise((r) => setTimeout(r, 300)); // both subscriptions registered

    const c = client(t.gateway, token);
    const { requestPurchase } = await c.request<{ requestPurchase: { id: string } }>(
      gql`mutation ($k: String!) { requestPurchase(amountAudCents: "3000", idempotencyKey: $k) { id } }`,
      { k: `live-${randomUUID()}` },
    );
    const filled = await until('FILLED over the WebSocket', async () => seen.find((e) => e.purchaseId === requestPurchase.id && e.status === 'FILLED'));
    expect(seen.filter((e) => e.purchaseId === requestPurchase.id).map((e) => e.status)).toEqual(['PENDING', 'SUBMITTED', 'FILLED']);
    expect(filled.purchase.amountAudCents).toBe('3000');
    expect(BigInt(filled.purchase.satoshis)).toBeGreaterThan(0n);
    // currentValueAud comes from market-price (@requires satoshis and costAudCents from treasury).
    expect(filled.purchase.currentValueAud).toMatch(/^\d+$/);
    expect(BigInt(filled.purchase.unrealizedGainAud!)).toBe(BigInt(filled.purchase.currentValueAud!) - 3003n); // 3000 + 3 fee
    expect(errors).toEqual([]);

    const refused = await new Promise<unknown>((resolve) =>
      theirs.subscribe({ query: `subscription { purchaseUpdated(purchaseId: "${requestPurchase.id}") { status } }` }, { next: resolve, error: resolve, complete: () => resolve('completed') }),
    );
    expect(JSON.stringify(refused)).toContain('NOT_FOUND');
    expect(leaked).toEqual([]);
    stop();
    stopTheirs();
    await mine.dispose();
    await theirs.dispose();
  }, 60_000);

  it('lets a partner API key subscribe within its scopes, authorised by the subgraphs', async () => {
    const c = client(t.gateway, token);
    const key = async (scopes: string[]): Promise<string> =>
      (
        await c.request<{ createApiKey: { key: string } }>(gql`mutation ($i: CreateApiKeyInput!) { createApiKey(input: $i) { key } }`, {
          i: { name: `ws ${scopes.join(' ')}`, scopes },
        })
      ).createApiKey.key;
    const connect = (authorization: string): Client =>
      createClient({ url: t.gateway.replace(/^http/, 'ws'), webSocketImpl: WebSocket, connectionParams: { authorization }, retryAttempts: 0, lazy: true });
    const first = <T>(cl: Client, query: string): Promise<{ data?: T; error?: unknown }> =>
      new Promise((resolve) => {
        cl.subscribe<T>({ query }, { next: (v) => resolve({ data: v.data as T }), error: (error) => resolve({ error }), complete: () => undefined });
      });

    const reader = connect(`Bearer ${await key(['read:treasury'])}`);
    const next = first<{ purchaseUpdated: { status: string } }>(reader, 'subscription { purchaseUpdated { status } }');
    await new Promise((r) => setTimeout(r, 300));
    await c.request(gql`mutation ($k: String!) { requestPurchase(amountAudCents: "600", idempotencyKey: $k) { id } }`, { k: `key-${randomUUID()}` });
    expect((await next).data?.purchaseUpdated.status).toBe('PENDING');

    const marketOnly = connect(`Bearer ${await key(['read:market'])}`);
    expect(JSON.stringify((await first(marketOnly, 'subscription { purchaseUpdated { status } }')).error)).toMatch(/FORBIDDEN|authentication required/);
    const tick = await first<{ btcPrice: { price: string } }>(marketOnly, 'subscription { btcPrice(currency: AUD) { price } }');
    expect(tick.data?.btcPrice.price).toMatch(/^\d+\.\d{2}$/);

    const forged = connect('Bearer abt_live_AAAAAAAAAAAA_0000000000000000000000000000000000000000');
    const refused = await first(forged, 'subscription { btcPrice(currency: AUD) { price } }');
    expect(refused.error).toBeDefined();
    for (const cl of [reader, marketOnly, forged]) await cl.dispose();
  }, 60_000);
});
