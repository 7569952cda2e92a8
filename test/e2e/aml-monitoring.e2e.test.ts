import { ClientError, gql } from 'graphql-request';
import { generate } from 'otplib';
import Stripe from 'stripe';
import { AML_OPERATION_JOB, amlFactJobId } from '../../lib/events/aml-facts';
import { client, startTestPlatform, type TestPlatform } from '../helpers/platform';
import { present } from '../helpers/present';
import { until } from '../helpers/wait';

/**
 * AML/CTF monitoring on every operation (#11), through the gateway: a signed Stripe revenue event
 * of A$10,000 raises THRESHOLD and one of A$9,999.99 does not, as does a A$12,000 refund; a sale is monitored at its AUD
 * proceeds once it fills; a withdrawal to a screening-list address raises SCREENED_DESTINATION
 * (HOLD) with its AUD value at the latest price. Each fact goes through treasury's outbox with the
 * deterministic job id amlFactJobId('aml.operation', operation id), so it is written once.
 * The platform's compliance officer reads and changes the rules (monitoringConfig,
 * setMonitoringRule); bad settings are refused with INVALID_MONITORING_CONFIG and change nothing,
 * tenant users are FORBIDDEN, and the next operation runs with the stored setting.
 */

const PASSWORD = 'Correct-Horse-42-Battery';
const STRIPE_SECRET = 'whsec_amlmonitoring_0123456789abcdef';
// The screening list's BIP 173 example address (aml/screening-list.csv, LIQUID_ABT_TEST).
const LISTED = 'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4';

type Session = { accessToken: string; user: { id: string }; tenant: { id: string } };
const SESSION = `accessToken user { id } tenant { id }`;
type Op = { id: string; kind: string; amount_aud_cents: string; destination: { address: string; network: string } | null };
type Failure = { code: string; reason: unknown; field: unknown };
async function failure(p: Promise<unknown>): Promise<Failure> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ClientError) {
      const e = present(err.response.errors?.[0], 'first error');
      return { code: String(e.extensions?.code), reason: e.extensions?.reason, field: e.extensions?.field };
    }
    throw err;
  }
  throw new Error('expected the request to fail');
}
const subOf = (token: string): string => (JSON.parse(Buffer.from(present(token.split('.')[1], 'jwt payload'), 'base64url').toString()) as { sub: string }).sub;
const CONFIG = `timeZone rules { rule enabled kinds amountAudCents count windowMinutes thresholdAudCents marginAudCents windowHours overridden updatedBy }`;
type RuleView = { rule: string; enabled: boolean; kinds: string[] | null; amountAudCents: string | null; count: number | null; windowMinutes: number | null; overridden: boolean; updatedBy: string | null };
const SET = gql`mutation ($r: MonitoringRule!, $s: MonitoringRuleInput!) { setMonitoringRule(rule: $r, settings: $s) { ${CONFIG} } }`;
type AlertRow = { operation_id: string; rule: string; action: string; facts: Record<string, unknown> };

describe('AML monitoring of revenue, sales and withdrawals (#11)', () => {
  let t: TestPlatform;
  let owner: Session;
  let hook: string;
  const sql = <T>(q: string, params: unknown[] = []): Promise<T[]> => t.db.owner.em.getConnection().execute<T[]>(q, params);
  const gw = (token?: string) => client(t.gateway, token);
  const operation = (id: string) =>
    until(`the aml operation ${id}`, async () => {
      const [op] = await sql<Op>(`select id, kind, amount_aud_cents::text as amount_aud_cents, destination from pool.aml_operation where tenant_id = ? and id = ?`, [owner.tenant.id, id]);
      return op;
    });
  const alerts = (id: string) => sql<AlertRow>(`select operation_id, rule, action, facts from pool.aml_alert where tenant_id = ? and operation_id = ? order by rule`, [owner.tenant.id, id]);
  const amlJobs = (id: string) => sql<{ id: string }>(`select id from pool.outbox where tenant_id = ? and queue = 'aml' and payload->>'id' = ?`, [owner.tenant.id, id]);

  /** A signed Stripe event delivered to the webhook: the id of its payment event once processed. */
  async function deliver(eventId: string, type: string, object: Record<string, unknown>): Promise<string> {
    const body = JSON.stringify({ id: eventId, object: 'event', created: Math.floor(Date.now() / 1000), type, data: { object } });
    const res = await fetch(hook, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload: body, secret: STRIPE_SECRET }) }, body });
    expect(res.status).toBe(200);
    return until(`payment event ${eventId} to be processed`, async () => {
      const [e] = await sql<{ id: string; status: string }>(`select id, status from pool.payment_event where tenant_id = ? and provider_event_id = ?`, [owner.tenant.id, eventId]);
      return e && e.status !== 'RECEIVED' ? e.id : undefined;
    });
  }
  const revenue = (eventId: string, cents: number, currency = 'aud'): Promise<string> =>
    deliver(eventId, 'payment_intent.succeeded', { id: `pi_${eventId}`, object: 'payment_intent', amount: cents, amount_received: cents, currency, status: 'succeeded' });
  const refund = (eventId: string, cents: number): Promise<string> =>
    deliver(eventId, 'charge.refunded', {
      id: `ch_${eventId}`,
      object: 'charge',
      currency: 'aud',
      payment_intent: `pi_${eventId}`,
      amount: cents,
      amount_refunded: cents,
      refunds: { object: 'list', data: [{ id: `re_${eventId}`, object: 'refund', amount: cents, currency: 'aud', status: 'succeeded', created: Math.floor(Date.now() / 1000) }] },
    });

  /** A member invited as `role` who enrols TOTP and signs in with it (as withdrawal.e2e.test.ts): their MFA session. */
  async function memberWithMfa(email: string, role: string): Promise<string> {
    const inv = await gw(owner.accessToken).request<{ inviteUser: { token: string } }>(gql`mutation ($e: String!, $r: Role!) { inviteUser(email: $e, role: $r) { token } }`, { e: email, r: role });
    const joined = (
      await gw().request<{ acceptInvite: Session }>(gql`mutation ($t: String!, $p: String) { acceptInvite(token: $t, password: $p) { ${SESSION} } }`, { t: inv.inviteUser.token, p: PASSWORD })
    ).acceptInvite;
    const { enrollMfa } = await gw(joined.accessToken).request<{ enrollMfa: { secret: string } }>(gql`mutation { enrollMfa { secret } }`);
    await gw(joined.accessToken).request(gql`mutation ($c: String!) { confirmMfa(code: $c) { recoveryCodes } }`, { c: await generate({ secret: enrollMfa.secret }) });
    const step1 = await gw().request<{ login: { mfaChallenge: string } }>(gql`mutation ($i: LoginInput!) { login(input: $i) { mfaChallenge } }`, {
      i: { email, password: PASSWORD, tenantId: owner.tenant.id },
    });
    const code = await generate({ secret: enrollMfa.secret, epoch: Math.floor(Date.now() / 1000) + 30 });
    const done = await gw().request<{ verifyMfa: Session }>(gql`mutation ($c: String!, $code: String!) { verifyMfa(challenge: $c, code: $code) { ${SESSION} } }`, { c: step1.login.mfaChallenge, code });
    return done.verifyMfa.accessToken;
  }

  beforeAll(async () => {
    t = await startTestPlatform({ env: { PRICE_TICK_MS: '100' } });
    owner = (
      await gw().request<{ signUp: Session }>(gql`mutation ($i: SignUpInput!) { signUp(input: $i) { ${SESSION} } }`, {
        i: { tenantName: 'Monitored Bakery Pty Ltd', email: 'owner@monitored.example', password: PASSWORD },
      })
    ).signUp;
    hook = (
      await gw(owner.accessToken).request<{ connectPaymentIntegration: { webhookUrl: string } }>(
        gql`mutation { connectPaymentIntegration(input: { provider: STRIPE, name: "Stripe", stripeWebhookSecret: "${STRIPE_SECRET}" }) { webhookUrl } }`,
      )
    ).connectPaymentIntegration.webhookUrl;
  }, 90_000);
  afterAll(async () => {
    await t?.stop();
  });

  it('monitors every AUD revenue event (no rule needed): A$10,000 raises THRESHOLD, A$9,999.99 does not', async () => {
    const big = await revenue('evt_aml_big', 1_000_000);
    expect(await operation(big)).toEqual({ id: big, kind: 'REVENUE', amount_aud_cents: '1000000', destination: null });
    const raised = await until('the THRESHOLD alert', async () => {
      const a = await alerts(big);
      return a.length ? a : undefined;
    });
    expect(raised.map((a) => a.rule)).toEqual(['THRESHOLD']);
    expect(raised[0]?.facts).toMatchObject({ kind: 'REVENUE', amountAudCents: '1000000', thresholdAudCents: '1000000' });
    // One fact, by its deterministic job id.
    expect(await amlJobs(big)).toEqual([{ id: amlFactJobId(AML_OPERATION_JOB, big) }]);

    const small = await revenue('evt_aml_small', 999_999);
    expect(await operation(small)).toMatchObject({ kind: 'REVENUE', amount_aud_cents: '999999' });
    // The operation is recorded in the same transaction as its alerts: none exist once it does.
    expect(await alerts(small)).toEqual([]);

    // Not AUD: nothing is converted, so nothing is monitored (and no fact is written).
    const usd = await revenue('evt_aml_usd', 2_000_000, 'usd');
    expect(await amlJobs(usd)).toEqual([]);
  }, 60_000);

  it('monitors an AUD refund as a REFUND operation: A$12,000 refunded raises THRESHOLD', async () => {
    const back = await refund('evt_aml_refund', 1_200_000);
    expect(await operation(back)).toEqual({ id: back, kind: 'REFUND', amount_aud_cents: '1200000', destination: null });
    const raised = await until('the THRESHOLD alert on the refund', async () => {
      const a = await alerts(back);
      return a.length ? a : undefined;
    });
    expect(raised.map((a) => a.rule)).toEqual(['THRESHOLD']);
    expect(raised[0]?.facts).toMatchObject({ kind: 'REFUND', amountAudCents: '1200000', thresholdAudCents: '1000000' });
    expect(await amlJobs(back)).toEqual([{ id: amlFactJobId(AML_OPERATION_JOB, back) }]);
  }, 60_000);

  it('monitors a sale at its AUD proceeds once it fills', async () => {
    const a = gw(owner.accessToken);
    const bought = await a.request<{ requestPurchase: { id: string } }>(gql`mutation { requestPurchase(amountAudCents: "50000", idempotencyKey: "aml-monitoring-buy-1") { id } }`);
    const sats = await until('the purchase to fill', async () => {
      const r = await a.request<{ purchase: { status: string; satoshis: string } }>(gql`query ($id: ID!) { purchase(id: $id) { status satoshis } }`, { id: bought.requestPurchase.id });
      return r.purchase.status === 'FILLED' ? BigInt(r.purchase.satoshis) : undefined;
    });
    expect(await operation(bought.requestPurchase.id)).toMatchObject({ kind: 'PURCHASE', amount_aud_cents: '50000' });

    const sell = (sats / 3n).toString();
    const { requestSale } = await a.request<{ requestSale: { id: string } }>(gql`mutation ($s: Satoshis!) { requestSale(satoshis: $s, idempotencyKey: "aml-monitoring-sale-1") { id } }`, { s: sell });
    const sale = await until('the sale to fill', async () => {
      const s = (await a.request<{ sale: { status: string; grossAudCents: string | null } }>(gql`query ($id: ID!) { sale(id: $id) { status grossAudCents } }`, { id: requestSale.id })).sale;
      return s.status === 'FILLED' ? s : undefined;
    });
    const op = await operation(requestSale.id);
    expect(op).toEqual({ id: requestSale.id, kind: 'SALE', amount_aud_cents: sale.grossAudCents, destination: null });
    expect(BigInt(op.amount_aud_cents)).toBeGreaterThan(0n);
    expect(await amlJobs(requestSale.id)).toEqual([{ id: amlFactJobId(AML_OPERATION_JOB, requestSale.id) }]);
  }, 60_000);

  it('raises SCREENED_DESTINATION (HOLD) for a withdrawal to a screening-list address, valued at the latest price', async () => {
    const a = gw(owner.accessToken);
    const bob = await memberWithMfa('bob@monitored.example', 'ADMIN');
    const { addWithdrawalDestination: dest } = await a.request<{ addWithdrawalDestination: { id: string } }>(
      gql`mutation ($x: String!) { addWithdrawalDestination(address: $x, label: "listed wallet") { id } }`,
      { x: LISTED },
    );
    await gw(bob).request(gql`mutation ($id: ID!) { confirmWithdrawalDestination(id: $id) { status } }`, { id: dest.id });
    // 24 hours pass: the destination's clock is moved back a day and an hour (as withdrawal.e2e.test.ts).
    await sql(
      `update pool.withdrawal_destination set created_at = created_at - interval '25 hours', changed_at = changed_at - interval '25 hours',
         confirmed_at = confirmed_at - interval '25 hours', cooling_off_ends_at = cooling_off_ends_at - interval '25 hours' where id = ?`,
      [dest.id],
    );
    const { requestWithdrawal: w } = await a.request<{ requestWithdrawal: { id: string; satoshis: string; address: string } }>(
      gql`mutation ($d: ID!) { requestWithdrawal(satoshis: "10000", destinationId: $d, idempotencyKey: "aml-monitoring-withdraw-1") { id satoshis address } }`,
      { d: dest.id },
    );
    expect(w.address).toBe(LISTED);
    const op = await operation(w.id);
    expect(op).toMatchObject({ kind: 'WITHDRAWAL', destination: { address: LISTED, network: 'bitcoin' } });
    // The AUD value is 10,000 sats at one of the feed's prices, rounded up to the cent.
    expect(BigInt(op.amount_aud_cents)).toBeGreaterThan(0n);
    const [priced] = await sql<{ n: string }>(`select count(*)::text as n from public.price_tick where currency = 'AUD' and ceil(10000 * price / 1000000) = ?`, [op.amount_aud_cents]);
    expect(Number(priced?.n)).toBeGreaterThan(0);

    const raised = await until('the destination alerts', async () => {
      const r = await alerts(w.id);
      return r.some((x) => x.rule === 'SCREENED_DESTINATION') ? r : undefined;
    });
    // The first withdrawal to this address is also a NEW_DESTINATION.
    expect(raised.map((x) => [x.rule, x.action])).toEqual([
      ['NEW_DESTINATION', 'ALERT'],
      ['SCREENED_DESTINATION', 'HOLD'],
    ]);
    expect(raised.find((x) => x.rule === 'SCREENED_DESTINATION')?.facts).toMatchObject({ address: LISTED, network: 'bitcoin', listSource: 'LIQUID_ABT_TEST' });
    expect(await amlJobs(w.id)).toEqual([{ id: amlFactJobId(AML_OPERATION_JOB, w.id) }]);
    // Tipping off (s123): nothing about the alert reaches the tenant's own audit chain.
    const own = await sql<{ event_type: string }>(`select event_type from pool.audit_event where tenant_id = ?`, [owner.tenant.id]);
    expect(own.map((r) => r.event_type).filter((e) => e.startsWith('aml.'))).toEqual([]);
  }, 90_000);

  it('lets only the compliance officer read and change the rules; bad settings are refused whole; the next operation runs with the stored one', async () => {
    const operator = (
      await gw().request<{ signUp: Session }>(gql`mutation ($i: SignUpInput!) { signUp(input: $i) { ${SESSION} } }`, {
        i: { tenantName: 'Liquid ABT Operator', email: 'officer@operator.example', password: PASSWORD },
      })
    ).signUp;
    await sql(`insert into public.platform_role (user_id, role, granted_by) values (?, 'COMPLIANCE_OFFICER', 'e2e')`, [subOf(operator.accessToken)]);
    const officer = gw(operator.accessToken);
    const READ = gql`{ monitoringConfig { ${CONFIG} } }`;

    // Tenant users, owners included, never see or change the rules.
    expect(await failure(gw(owner.accessToken).request(READ))).toMatchObject({ code: 'FORBIDDEN', reason: 'NOT_COMPLIANCE_OFFICER' });
    expect(await failure(gw(owner.accessToken).request(SET, { r: 'THRESHOLD', s: { amountAudCents: '1' } }))).toMatchObject({ code: 'FORBIDDEN' });

    const { monitoringConfig } = await officer.request<{ monitoringConfig: { timeZone: string; rules: RuleView[] } }>(READ);
    expect(monitoringConfig.timeZone).toBe('Australia/Sydney');
    expect(monitoringConfig.rules.map((r) => [r.rule, r.enabled, r.overridden])).toEqual([
      ['THRESHOLD', true, false],
      ['VELOCITY', true, false],
      ['STRUCTURING', true, false],
      ['SPIKE', true, false],
      ['SCREENED_DESTINATION', true, false],
      ['NEW_DESTINATION', true, false],
    ]);
    expect(monitoringConfig.rules[0]).toMatchObject({ amountAudCents: '1000000', kinds: ['REVENUE', 'REFUND', 'PURCHASE', 'SALE', 'WITHDRAWAL'] });

    // Refused with a typed reason, nothing written.
    const invalid = { code: 'BAD_USER_INPUT', reason: 'INVALID_MONITORING_CONFIG' };
    expect(await failure(officer.request(SET, { r: 'THRESHOLD', s: { amountAudCents: '-100' } }))).toEqual({ ...invalid, field: 'threshold.amountAudCents' });
    expect(await failure(officer.request(SET, { r: 'THRESHOLD', s: { amountAudCents: '0' } }))).toEqual({ ...invalid, field: 'threshold.amountAudCents' });
    expect(await failure(officer.request(SET, { r: 'VELOCITY', s: { windowMinutes: 0 } }))).toEqual({ ...invalid, field: 'velocity.windowMinutes' });
    expect(await failure(officer.request(SET, { r: 'VELOCITY', s: { kinds: [] } }))).toEqual({ ...invalid, field: 'velocity.kinds' });
    expect(await failure(officer.request(SET, { r: 'STRUCTURING', s: { marginAudCents: '2000000' } }))).toEqual({ ...invalid, field: 'structuring.marginAudCents' });
    expect(await failure(officer.request(SET, { r: 'SCREENED_DESTINATION', s: { amountAudCents: '100' } }))).toEqual({ ...invalid, field: 'screenedDestination.amountAudCents' });
    expect(await failure(officer.request(SET, { r: 'THRESHOLD', s: {} }))).toEqual({ ...invalid, field: 'threshold' });
    expect(await sql(`select rule from public.aml_monitoring_rule`)).toEqual([]);

    // A$5,000 from now on, for revenue only.
    const { setMonitoringRule } = await officer.request<{ setMonitoringRule: { rules: RuleView[] } }>(SET, { r: 'THRESHOLD', s: { amountAudCents: '500000', kinds: ['REVENUE'] } });
    expect(setMonitoringRule.rules[0]).toMatchObject({ rule: 'THRESHOLD', enabled: true, amountAudCents: '500000', kinds: ['REVENUE'], overridden: true, updatedBy: subOf(operator.accessToken) });
    expect(setMonitoringRule.rules.filter((r) => r.overridden).map((r) => r.rule)).toEqual(['THRESHOLD']);
    // A second change keeps the first's other settings.
    await officer.request(SET, { r: 'VELOCITY', s: { count: 50 } });
    const again = await officer.request<{ monitoringConfig: { rules: RuleView[] } }>(READ);
    expect(again.monitoringConfig.rules.slice(0, 2)).toMatchObject([
      { rule: 'THRESHOLD', amountAudCents: '500000', kinds: ['REVENUE'] },
      { rule: 'VELOCITY', count: 50, windowMinutes: 60 },
    ]);

    const mid = await revenue('evt_aml_mid', 600_000);
    await operation(mid);
    expect((await alerts(mid)).map((a) => [a.rule, a.facts.thresholdAudCents])).toEqual([['THRESHOLD', '500000']]);

    // Audited in the platform chain (the officer's tenant), never the monitored tenant's.
    const platform = await until('the officer’s audit facts', async () => {
      const rows = await sql<{ event_type: string; subject_id: string }>(`select event_type, subject_id from pool.audit_event where tenant_id = ? order by seq`, [operator.tenant.id]);
      const set = rows.filter((r) => r.event_type === 'aml.monitoring_rule.set');
      return set.length === 2 ? rows : undefined;
    });
    expect(platform.filter((r) => r.event_type === 'aml.monitoring_rule.set').map((r) => r.subject_id)).toEqual(['threshold', 'velocity']);
    expect(platform.map((r) => r.event_type)).toContain('aml.officer.read');
    const own = await sql<{ event_type: string }>(`select event_type from pool.audit_event where tenant_id = ?`, [owner.tenant.id]);
    expect(own.map((r) => r.event_type).filter((e) => e.startsWith('aml.'))).toEqual([]);
  }, 60_000);
});
