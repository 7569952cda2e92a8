import type { MikroORM } from '@mikro-orm/postgresql';
import { ClientError, gql } from 'graphql-request';
import { createClient, type Client } from 'graphql-ws';
import Stripe from 'stripe';
import WebSocket from 'ws';
import { openAppOrm } from '../../lib/db/orm';
import { TenantDirectory } from '../../lib/db/tenant-context';
import { TenantTransactions } from '../../lib/db/tenant-tx';
import { complianceEntities } from '../../subgraphs/compliance';
import { OfficerPath } from '../../subgraphs/compliance/aml/officer';
import { SmrClock } from '../../subgraphs/compliance/aml/smr-clock';
import { client, startTestPlatform, type TestPlatform } from '../helpers/platform';
import { present } from '../helpers/present';
import { until } from '../helpers/wait';

/**
 * The compliance officer's live alerts (#11) over graphql-ws through the gateway: a revenue event of
 * A$10,000 raises THRESHOLD and the alert reaches the officer's `complianceAlerts` subscription (via
 * the outbox, the aml queue and the platform channel); the subscription start is in the platform's
 * audit chain; a tenant owner's subscription is FORBIDDEN and anonymous UNAUTHENTICATED. The SMR
 * clock, moved past the deadline of the escalated case, publishes SMR_OVERDUE on the same feed.
 */

const PASSWORD = 'Correct-Horse-42-Battery';
const STRIPE_SECRET = 'whsec_compliancealerts_0123456789abcdef';
const SESSION = `accessToken user { id } tenant { id }`;
const ALERTS = 'subscription { complianceAlerts { id tenantId kind severity summary caseId raisedAt dueAt } }';

type Session = { accessToken: string; user: { id: string }; tenant: { id: string } };
type AlertEvent = { id: string; tenantId: string; kind: string; severity: string; summary: string; caseId: string; raisedAt: string; dueAt: string | null };
/** `errors`: the codes of errors received (a refused subscribe arrives as `error` with a list). */
type Stream = { values: AlertEvent[]; errors: string[]; ended: Promise<unknown> };
const codeOf = (e: unknown): string => String((e as { extensions?: { code?: unknown } }).extensions?.code);

const subOf = (token: string): string => (JSON.parse(Buffer.from(present(token.split('.')[1], 'jwt payload'), 'base64url').toString()) as { sub: string }).sub;

describe('complianceAlerts: the officer’s live alert feed (#11)', () => {
  let t: TestPlatform;
  let owner: Session;
  let operator: Session;
  let hook: string;
  let orm: MikroORM | undefined;
  const clients: Client[] = [];
  const sql = <T>(q: string, params: unknown[] = []): Promise<T[]> => t.db.owner.em.getConnection().execute<T[]>(q, params);
  const gw = (token?: string) => client(t.gateway, token);

  const connect = (token?: string): Client => {
    const c = createClient({
      url: `${t.gateway.replace(/^http/, 'ws').replace(/\/graphql$/, '')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: token ? { authorization: `Bearer ${token}` } : {},
      retryAttempts: 0,
      lazy: false,
      onNonLazyError: () => undefined,
    });
    clients.push(c);
    return c;
  };
  const stream = (c: Client): Stream => {
    const s: Stream = { values: [], errors: [], ended: Promise.resolve() };
    s.ended = new Promise((resolve) => {
      c.subscribe<{ complianceAlerts: AlertEvent }>(
        { query: ALERTS },
        {
          next: (r) => {
            if (r.data?.complianceAlerts) s.values.push(r.data.complianceAlerts);
            if (r.errors) s.errors.push(...r.errors.map(codeOf));
          },
          error: (e) => {
            if (Array.isArray(e)) s.errors.push(...e.map(codeOf));
            resolve(e);
          },
          complete: () => resolve('complete'),
        },
      );
    });
    return s;
  };

  async function revenue(eventId: string, cents: number): Promise<void> {
    const body = JSON.stringify({
      id: eventId,
      object: 'event',
      created: Math.floor(Date.now() / 1000),
      type: 'payment_intent.succeeded',
      data: { object: { id: `pi_${eventId}`, object: 'payment_intent', amount: cents, amount_received: cents, currency: 'aud', status: 'succeeded' } },
    });
    const res = await fetch(hook, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload: body, secret: STRIPE_SECRET }) }, body });
    expect(res.status).toBe(200);
  }

  beforeAll(async () => {
    t = await startTestPlatform();
    owner = (
      await gw().request<{ signUp: Session }>(gql`mutation ($i: SignUpInput!) { signUp(input: $i) { ${SESSION} } }`, {
        i: { tenantName: 'Alerted Cafe Pty Ltd', email: 'owner@alerted.example', password: PASSWORD },
      })
    ).signUp;
    hook = (
      await gw(owner.accessToken).request<{ connectPaymentIntegration: { webhookUrl: string } }>(
        gql`mutation { connectPaymentIntegration(input: { provider: STRIPE, name: "Stripe", stripeWebhookSecret: "${STRIPE_SECRET}" }) { webhookUrl } }`,
      )
    ).connectPaymentIntegration.webhookUrl;
    operator = (
      await gw().request<{ signUp: Session }>(gql`mutation ($i: SignUpInput!) { signUp(input: $i) { ${SESSION} } }`, {
        i: { tenantName: 'Liquid ABT Operator', email: 'officer@operator-alerts.example', password: PASSWORD },
      })
    ).signUp;
    await sql(`insert into public.platform_role (user_id, role, granted_by) values (?, 'COMPLIANCE_OFFICER', 'e2e')`, [subOf(operator.accessToken)]);
  }, 90_000);
  afterAll(async () => {
    for (const c of clients.splice(0)) await c.dispose();
    await orm?.close(true);
    await t?.stop();
  });

  it('refuses tenant owners (FORBIDDEN) and anonymous callers (UNAUTHENTICATED)', async () => {
    const o = stream(connect(owner.accessToken));
    await o.ended;
    expect(o.errors).toEqual(['FORBIDDEN']);
    const a = stream(connect());
    await a.ended;
    expect(a.errors).toEqual(['UNAUTHENTICATED']);
  }, 30_000);

  it('delivers a A$10,000 revenue alert to the officer, audits the start in the platform chain, and publishes SMR_OVERDUE from the clock', async () => {
    const officer = stream(connect(operator.accessToken));
    await until('the subscription start in the platform chain', async () => {
      const rows = await sql<{ event_type: string }>(`select event_type from pool.audit_event where tenant_id = ? and event_type = 'aml.officer.subscribe'`, [operator.tenant.id]);
      return rows.length ? rows : undefined;
    });
    // The tenant's own chain never hears of it (tipping off, s123).
    const own = await sql<{ event_type: string }>(`select event_type from pool.audit_event where tenant_id = ? and event_type like 'aml.%'`, [owner.tenant.id]);
    expect(own).toEqual([]);
    // The probe ran before the gateway joined the channel; give the join a moment.
    await new Promise((r) => setTimeout(r, 500));

    await revenue('evt_alert_big', 1_000_000);
    const alert = await until('the THRESHOLD alert on the officer’s feed', () => Promise.resolve(officer.values.find((v) => v.kind === 'THRESHOLD')), 30_000);
    expect(alert).toMatchObject({ tenantId: owner.tenant.id, kind: 'THRESHOLD', severity: 'MEDIUM', dueAt: null });
    expect(alert.summary).toContain('at or above');
    const [row] = await sql<{ id: string; case_id: string }>(`select id, case_id from pool.aml_alert where tenant_id = ? and rule = 'THRESHOLD'`, [owner.tenant.id]);
    expect(alert).toMatchObject({ id: row?.id, caseId: row?.case_id });

    // The officer escalates; the clock, moved past the deadline, publishes SMR_OVERDUE.
    const officerHttp = gw(operator.accessToken);
    await officerHttp.request(gql`mutation ($id: ID!) { assignCase(caseId: $id) { id } }`, { id: alert.caseId });
    const { escalateCase } = await officerHttp.request<{ escalateCase: { smrDeadline: { dueAt: string; status: string } } }>(
      gql`mutation ($id: ID!) { escalateCase(caseId: $id, grounds: [MONEY_LAUNDERING]) { smrDeadline { dueAt status } } }`,
      { id: alert.caseId },
    );
    expect(escalateCase.smrDeadline.status).toBe('ON_TRACK');
    orm = await openAppOrm(t.db.appUrl, [...complianceEntities], 2);
    const txs = new TenantTransactions(orm, new TenantDirectory(orm), t.platform.bus);
    const late = new Date(Date.parse(escalateCase.smrDeadline.dueAt) + 60_000);
    const raised = await new SmrClock({ officerPath: new OfficerPath(orm, txs), tenants: txs, now: () => late }).tick();
    expect(raised).toEqual([{ tenantId: owner.tenant.id, caseId: alert.caseId, level: 'OVERDUE', dueAt: new Date(escalateCase.smrDeadline.dueAt) }]);
    const overdue = await until('the SMR_OVERDUE alert on the officer’s feed', () => Promise.resolve(officer.values.find((v) => v.kind === 'SMR_OVERDUE')), 30_000);
    expect(overdue.summary).toContain('overdue');
    expect({ ...overdue, summary: undefined }).toEqual({
      id: `${alert.caseId}:OVERDUE`,
      tenantId: owner.tenant.id,
      kind: 'SMR_OVERDUE',
      severity: 'CRITICAL',
      summary: undefined,
      caseId: alert.caseId,
      raisedAt: late.toISOString(),
      dueAt: new Date(escalateCase.smrDeadline.dueAt).toISOString(),
    });
    expect(officer.errors).toEqual([]);
  }, 120_000);

  it('is not a query any tenant user can ask either: startComplianceAlertFeed is FORBIDDEN to a tenant owner', async () => {
    const err = await gw(owner.accessToken)
      .request(gql`mutation { startComplianceAlertFeed }`)
      .then(
        () => undefined,
        (e: unknown) => (e instanceof ClientError ? e.response.errors?.[0]?.extensions?.code : String(e)),
      );
    expect(err).toBe('FORBIDDEN');
  });

  it('ends an open feed when the platform role is revoked (the re-verification asks complianceOfficerActive)', async () => {
    const officer = stream(connect(operator.accessToken));
    let ended = false;
    void officer.ended.then(() => (ended = true));
    // Still the officer: a re-verification (every 5 s) keeps the feed open.
    await new Promise((r) => setTimeout(r, 6_500));
    expect(ended).toBe(false);
    const { complianceOfficerActive } = await gw(operator.accessToken).request<{ complianceOfficerActive: boolean }>(gql`{ complianceOfficerActive }`);
    expect(complianceOfficerActive).toBe(true);

    await sql(`delete from public.platform_role where user_id = ? and role = 'COMPLIANCE_OFFICER'`, [subOf(operator.accessToken)]);
    const closed = (await officer.ended) as { code?: number; reason?: string };
    expect(closed.code).toBe(4401);
    expect(closed.reason).toContain('no longer the compliance officer');
    // The session itself is still good for the tenant's own work; only the officer's feed ended.
    const again = await gw(operator.accessToken)
      .request(gql`{ complianceOfficerActive }`)
      .then(
        () => undefined,
        (e: unknown) => (e instanceof ClientError ? e.response.errors?.[0]?.extensions?.code : String(e)),
      );
    expect(again).toBe('FORBIDDEN');
  }, 60_000);
});
