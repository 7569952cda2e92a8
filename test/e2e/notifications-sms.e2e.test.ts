import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { gql } from 'graphql-request';
import { openAppOrm } from '../../lib/db/orm';
import { TenantDirectory } from '../../lib/db/tenant-context';
import { TenantTransactions } from '../../lib/db/tenant-tx';
import { noticeId } from '../../lib/events/notices';
import { configureLogger } from '../../lib/logger';
import { tenantEntities } from '../../subgraphs/tenant';
import { pseudonymiseSmsNumber } from '../../subgraphs/tenant/notifications/notification-preferences';
import { noticesProcessor } from '../../subgraphs/tenant/notifications/notices.processor';
import { SmsSink } from '../../subgraphs/tenant/notifications/sms.sink';
import { TwilioClient } from '../../subgraphs/tenant/notifications/twilio.client';
import { limitNotice } from '../../subgraphs/treasury/rules/limit-notices';
import { RuleType } from '../../subgraphs/treasury/rules/rule.entity';
import { startFakeTwilio, type FakeTwilio } from '../fakes/twilio.server';
import { client, errorCodes, startTestPlatform, type TestPlatform } from '../helpers/platform';
import { until } from '../helpers/wait';
import { captureLogs } from '../helpers/logs';

/**
 * Notifications (#12) by SMS through Twilio's Programmable Messaging API (a local fake that checks
 * Basic auth, the form body and E.164): a member sets a number and turns SMS on for fills; a fill
 * sends exactly one SMS to them and none to a member who set a number but did not opt in; a 429 from
 * Twilio is retried; a bad number is refused with BAD_USER_INPUT and changes nothing; no log line
 * holds a number or the auth token.
 */

const PASSWORD = 'Correct-Horse-42-Battery';
const OWNER_NUMBER = '+61412345678';
const USER_NUMBER = '+61400000002';
/** Twilio's magic test number for an invalid 'To' (error 21211). */
const REFUSED_NUMBER = '+15005550001';

type Session = { token: string; tenantId: string };

const PREFS = gql`query { notificationPreferences { type email sms explicit } }`;
const SET_PREF = gql`mutation ($t: NotificationType!, $e: Boolean, $s: Boolean) { setNotificationPreference(type: $t, email: $e, sms: $s) { type email sms explicit } }`;
const NUMBER = gql`query { notificationSmsNumber { number masked } }`;
const SET_NUMBER = gql`mutation ($n: String) { setNotificationSmsNumber(number: $n) { number masked } }`;
const BUY = gql`mutation ($a: AudCents!, $k: String!) { requestPurchase(amountAudCents: $a, idempotencyKey: $k) { id } }`;
const PURCHASE = gql`query ($id: ID!) { purchase(id: $id) { status satoshis } }`;

describe('notifications: SMS through Twilio (real PostgreSQL, fake Twilio API)', () => {
  let twilio: FakeTwilio;
  let t: TestPlatform;
  let orm: MikroORM;
  let a: Session;
  let userA: string;
  const lines: string[] = [];

  const sql = <T>(q: string, params: unknown[] = []): Promise<T[]> => t.db.owner.em.getConnection().execute<T[]>(q, params);
  const signUp = async (tenantName: string, email: string): Promise<Session> => {
    const r = await client(t.gateway).request<{ signUp: { accessToken: string; tenant: { id: string } } }>(
      gql`mutation ($i: SignUpInput!) { signUp(input: $i) { accessToken tenant { id } } }`,
      { i: { tenantName, email, password: PASSWORD } },
    );
    return { token: r.signUp.accessToken, tenantId: r.signUp.tenant.id };
  };
  const join = async (owner: Session, email: string): Promise<string> => {
    const { inviteUser } = await client(t.gateway, owner.token).request<{ inviteUser: { token: string } }>(
      gql`mutation ($e: String!, $r: Role!) { inviteUser(email: $e, role: $r) { token } }`,
      { e: email, r: 'USER' },
    );
    const { acceptInvite } = await client(t.gateway).request<{ acceptInvite: { accessToken: string } }>(
      gql`mutation ($t: String!, $p: String) { acceptInvite(token: $t, password: $p) { accessToken } }`,
      { t: inviteUser.token, p: PASSWORD },
    );
    return acceptInvite.accessToken;
  };
  const smsAbout = (purchaseId: string) => twilio.messages().filter((m) => m.body.includes(`ref ${purchaseId.replace(/-/g, '').slice(0, 8)}`));

  beforeAll(async () => {
    twilio = await startFakeTwilio();
    t = await startTestPlatform({
      env: { SMS_PROVIDER: 'twilio', TWILIO_ACCOUNT_SID: twilio.accountSid, TWILIO_AUTH_TOKEN: twilio.authToken, TWILIO_FROM: '+61400000001', TWILIO_API_BASE_URL: twilio.url },
    });
    // From here on every log line of the platform is kept, to prove no number or token is in one.
    captureLogs(lines, 'debug');
    orm = await openAppOrm(t.db.appUrl, tenantEntities, 2);
    a = await signUp('Texting Pty Ltd', 'owner@sms.example');
    userA = await join(a, 'user@sms.example');
  }, 120_000);
  afterAll(async () => {
    configureLogger('silent');
    await orm?.close(true);
    await t?.stop();
    await twilio?.close();
  });

  it('refuses a bad number, and SMS without a number, with BAD_USER_INPUT; nothing changes', async () => {
    for (const bad of ['0412 345 678', '+0412345678', '+61 412 345 678 999 999', 'call me', '']) {
      expect(await errorCodes(client(t.gateway, a.token).request(SET_NUMBER, { n: bad }))).toEqual(['BAD_USER_INPUT']);
    }
    expect(await errorCodes(client(t.gateway, a.token).request(SET_PREF, { t: 'PURCHASE_FILLED', s: true }))).toEqual(['BAD_USER_INPUT']);
    expect(await errorCodes(client(t.gateway, a.token).request(SET_PREF, { t: 'PURCHASE_FILLED' }))).toEqual(['BAD_USER_INPUT']);
    expect(await sql(`select 1 from pool.notification_contact`)).toEqual([]);
    expect(await sql(`select 1 from pool.notification_preference`)).toEqual([]);
    const { notificationSmsNumber } = await client(t.gateway, a.token).request<{ notificationSmsNumber: unknown }>(NUMBER);
    expect(notificationSmsNumber).toEqual({ number: null, masked: null });
  });

  it('a member sets a number (separators dropped) and turns SMS on for fills; email keeps its default', async () => {
    const set = await client(t.gateway, a.token).request<{ setNotificationSmsNumber: unknown }>(SET_NUMBER, { n: '+61 412-345 678' });
    expect(set.setNotificationSmsNumber).toEqual({ number: OWNER_NUMBER, masked: '+61 ••• ••• 678' });
    const on = await client(t.gateway, a.token).request<{ setNotificationPreference: unknown }>(SET_PREF, { t: 'PURCHASE_FILLED', s: true });
    expect(on.setNotificationPreference).toEqual({ type: 'PURCHASE_FILLED', email: true, sms: true, explicit: true });
    const prefs = await client(t.gateway, a.token).request<{ notificationPreferences: unknown[] }>(PREFS);
    expect(prefs.notificationPreferences).toEqual([
      { type: 'PURCHASE_FILLED', email: true, sms: true, explicit: true },
      { type: 'PURCHASE_FAILED', email: true, sms: false, explicit: false },
      { type: 'LIMIT_REACHED', email: true, sms: false, explicit: false },
      { type: 'STATEMENT_READY', email: true, sms: false, explicit: false },
      { type: 'KYB_ACTION_NEEDED', email: true, sms: false, explicit: false },
      { type: 'REPORT_READY', email: true, sms: false, explicit: false },
    ]);
    // The USER sets a number but does not opt in.
    await client(t.gateway, userA).request(SET_NUMBER, { n: USER_NUMBER });
    // The audit trail says a number was set, never which.
    const audit = await sql<{ payload: unknown }>(`select payload from pool.outbox where queue = 'audit' and payload::text like '%notification.sms_number_set%'`);
    expect(audit).toHaveLength(2);
    expect(JSON.stringify(audit)).not.toMatch(/412345678|400000002/);
  });

  it('a fill sends one SMS to the member who opted in, none to the one who did not; a 429 from Twilio is retried', async () => {
    twilio.throttleNext(1);
    const before = twilio.requests().length;
    const { requestPurchase } = await client(t.gateway, a.token).request<{ requestPurchase: { id: string } }>(BUY, { a: '12345', k: `sms-${randomUUID()}` });
    const id = requestPurchase.id;
    const p = await until(`purchase ${id} to fill`, async () => {
      const { purchase } = await client(t.gateway, a.token).request<{ purchase: { status: string; satoshis: string } }>(PURCHASE, { id });
      return purchase.status === 'FILLED' ? purchase : undefined;
    });
    const [sms] = await until('the fill SMS', () => Promise.resolve(smsAbout(id).length >= 1 ? smsAbout(id) : undefined));
    await new Promise((r) => setTimeout(r, 1500)); // a duplicate would arrive now
    expect(smsAbout(id)).toHaveLength(1);
    expect(sms).toMatchObject({ to: OWNER_NUMBER, from: '+61400000001' });
    const sats = BigInt(p.satoshis);
    expect(sms?.body).toBe(`Liquid ABT: Texting Pty Ltd bought ${(sats / 100_000_000n).toString()}.${(sats % 100_000_000n).toString().padStart(8, '0')} BTC for $123.45 AUD (ref ${id.replace(/-/g, '').slice(0, 8)}).`);
    expect(twilio.messages().filter((m) => m.to === USER_NUMBER)).toEqual([]);
    // The first request was throttled (429 / 20429), the retry was accepted.
    expect(twilio.requests().slice(before).map((r) => r.status)).toEqual([429, 201]);
    const deliveries = await sql<{ channel: string; message_id: string }>(`select channel, message_id from pool.notification_delivery where notice_id = ? and channel = 'sms'`, [
      noticeId('purchase.filled', `${id}:FILLED`),
    ]);
    expect(deliveries).toEqual([{ channel: 'sms', message_id: sms?.sid }]);
  });

  it('a number Twilio refuses (21211) is recorded once and not retried; the others still get theirs', async () => {
    await client(t.gateway, userA).request(SET_NUMBER, { n: REFUSED_NUMBER });
    await client(t.gateway, userA).request(SET_PREF, { t: 'PURCHASE_FILLED', s: true });
    const { requestPurchase } = await client(t.gateway, a.token).request<{ requestPurchase: { id: string } }>(BUY, { a: '5000', k: `sms-${randomUUID()}` });
    const id = requestPurchase.id;
    await until('the owner SMS', () => Promise.resolve(smsAbout(id).length >= 1 ? true : undefined));
    const notice = noticeId('purchase.filled', `${id}:FILLED`);
    const rows = await until('both SMS deliveries', async () => {
      const r = await sql<{ email: string; message_id: string | null }>(
        `select u.email, d.message_id from pool.notification_delivery d join public.app_user u on u.id = d.user_id where d.notice_id = ? and d.channel = 'sms' order by u.email`,
        [notice],
      );
      return r.length === 2 && r.every((x) => x.message_id !== null) ? r : undefined;
    });
    expect(rows).toEqual([
      { email: 'owner@sms.example', message_id: smsAbout(id)[0]?.sid },
      { email: 'user@sms.example', message_id: 'error:SMS_INVALID_NUMBER:21211' },
    ]);
    await new Promise((r) => setTimeout(r, 1500)); // a retried job would ask again now
    expect(twilio.requests().filter((r) => r.to === REFUSED_NUMBER)).toEqual([{ status: 400, to: REFUSED_NUMBER }]);
    await client(t.gateway, userA).request(SET_NUMBER, { n: null });
  });

  it('limit.reached by SMS for a member who opted in to it, once however often the job runs; a pseudonymised number gets nothing', async () => {
    await client(t.gateway, a.token).request(SET_PREF, { t: 'LIMIT_REACHED', s: true });
    const tenants = new TenantTransactions(orm, new TenantDirectory(orm));
    const handler = noticesProcessor([
      new SmsSink({ tenants, provider: new TwilioClient({ accountSid: twilio.accountSid, authToken: twilio.authToken, from: '+61400000001', apiBaseUrl: twilio.url }) }),
    ]);
    const ruleId = randomUUID();
    const rule = { id: ruleId, type: RuleType.PERCENTAGE_OF_REVENUE, daily_cap_aud_cents: '50000', monthly_cap_aud_cents: null };
    const notice = limitNotice(a.tenantId, new Date(), '2026-12-03', rule, 'daily cap');
    await handler({ id: 'limit-1', name: 'notice', data: notice, attempt: 1 });
    await handler({ id: 'limit-2', name: 'notice', data: notice, attempt: 2 });
    const ref = ruleId.replace(/-/g, '').slice(0, 8);
    expect(twilio.messages().filter((m) => m.body.includes(ref))).toEqual([
      expect.objectContaining({ to: OWNER_NUMBER, body: `Liquid ABT: Texting Pty Ltd's percentage of revenue rule reached its daily cap of $500.00 AUD; the rest waits (ref ${ref}).` }),
    ]);

    // Erasure pseudonymises the number: it is no longer shown, and the next notice sends nothing.
    const [owner] = await sql<{ id: string }>(`select id::text from public.app_user where email = 'owner@sms.example'`);
    await tenants.run(a.tenantId, ({ em }) => pseudonymiseSmsNumber(em, owner?.id ?? '', 'pseud_AbCdEfGhIjKlMnOpQrStUv'));
    const { notificationSmsNumber } = await client(t.gateway, a.token).request<{ notificationSmsNumber: unknown }>(NUMBER);
    expect(notificationSmsNumber).toEqual({ number: null, masked: null });
    const next = limitNotice(a.tenantId, new Date(), '2026-12-04', rule, 'daily cap');
    const sent = twilio.messages().length;
    await handler({ id: 'limit-3', name: 'notice', data: next, attempt: 1 });
    expect(twilio.messages()).toHaveLength(sent);
    await client(t.gateway, a.token).request(SET_NUMBER, { n: OWNER_NUMBER });
  });

  it('clearing the number turns SMS off; no log line holds a number or the Twilio auth token', async () => {
    const cleared = await client(t.gateway, a.token).request<{ setNotificationSmsNumber: unknown }>(SET_NUMBER, { n: null });
    expect(cleared.setNotificationSmsNumber).toEqual({ number: null, masked: null });
    const prefs = await client(t.gateway, a.token).request<{ notificationPreferences: { type: string; sms: boolean }[] }>(PREFS);
    expect(prefs.notificationPreferences.every((x) => !x.sms)).toBe(true);
    const logged = lines.join('');
    expect(logged).toContain('notification SMS');
    for (const secret of [OWNER_NUMBER, USER_NUMBER, REFUSED_NUMBER, '412345678', '5005550001', twilio.authToken]) expect(logged).not.toContain(secret);
  });
});
