import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { gql } from 'graphql-request';
import { openAppOrm } from '../../lib/db/orm';
import { TenantDirectory } from '../../lib/db/tenant-context';
import { TenantTransactions } from '../../lib/db/tenant-tx';
import { noticeId } from '../../lib/events/notices';
import { tenantEntities } from '../../subgraphs/tenant';
import { EmailSink } from '../../subgraphs/tenant/notifications/email.sink';
import { MailSendError, smtpTransport } from '../../subgraphs/tenant/notifications/mail-transport';
import { noticesProcessor } from '../../subgraphs/tenant/notifications/notices.processor';
import { purchaseNotice } from '../../subgraphs/treasury/purchases/purchase-notices';
import { PurchaseStatus } from '../../subgraphs/treasury/purchases/purchase-state';
import { financialYearLabel, financialYearOf, localDate } from '../../subgraphs/compliance/tax/tax-calendar';
import { FAKE_ABNS, startFakeAbr, type FakeAbr } from '../fakes/abr.server';
import { startFakeSmtp, type FakeSmtp, type ReceivedMail } from '../fakes/smtp.server';
import { client, errorCodes, startTestPlatform, type TestPlatform } from '../helpers/platform';
import { until } from '../helpers/wait';

/**
 * Notifications (#12), email first: a purchase reaching FILLED becomes a notice in the tenant's outbox,
 * the notices processor hands it to the email sink, and a real SMTP server (AUTH required) receives
 * exactly one message per member who wants it; a re-run sends nothing, an opted-out member gets none,
 * and no notice of one tenant reaches another tenant's members.
 */

const PASSWORD = 'Correct-Horse-42-Battery';
const SMTP_USER = 'abt-notify';
const SMTP_PASSWORD = `smtp-${randomUUID()}`;

type Session = { token: string; tenantId: string };

const PREFS = gql`query { notificationPreferences { type email explicit } }`;
const SET_PREF = gql`mutation ($t: NotificationType!, $e: Boolean!) { setNotificationPreference(type: $t, email: $e) { type email explicit } }`;
const BUY = gql`mutation ($a: AudCents!, $k: String!) { requestPurchase(amountAudCents: $a, idempotencyKey: $k) { id } }`;
const PURCHASE = gql`query ($id: ID!) { purchase(id: $id) { status satoshis exchange } }`;

describe('notifications: purchase notices by email over SMTP (real PostgreSQL, real SMTP server)', () => {
  let smtp: FakeSmtp;
  let abr: FakeAbr;
  let t: TestPlatform;
  let orm: MikroORM;
  let a: Session;
  let b: Session;
  let adminA: string;
  let userA: string;

  const signUp = async (tenantName: string, email: string): Promise<Session> => {
    const r = await client(t.gateway).request<{ signUp: { accessToken: string; tenant: { id: string } } }>(
      gql`mutation ($i: SignUpInput!) { signUp(input: $i) { accessToken tenant { id } } }`,
      { i: { tenantName, email, password: PASSWORD } },
    );
    return { token: r.signUp.accessToken, tenantId: r.signUp.tenant.id };
  };
  const join = async (owner: Session, email: string, role: 'ADMIN' | 'USER'): Promise<string> => {
    const { inviteUser } = await client(t.gateway, owner.token).request<{ inviteUser: { token: string } }>(
      gql`mutation ($e: String!, $r: Role!) { inviteUser(email: $e, role: $r) { token } }`,
      { e: email, r: role },
    );
    const { acceptInvite } = await client(t.gateway).request<{ acceptInvite: { accessToken: string } }>(
      gql`mutation ($t: String!, $p: String) { acceptInvite(token: $t, password: $p) { accessToken } }`,
      { t: inviteUser.token, p: PASSWORD },
    );
    return acceptInvite.accessToken;
  };
  const buy = async (s: Session, cents: string): Promise<string> => {
    const { requestPurchase } = await client(t.gateway, s.token).request<{ requestPurchase: { id: string } }>(BUY, { a: cents, k: `notify-${randomUUID()}` });
    return requestPurchase.id;
  };
  const filled = (s: Session, id: string): Promise<{ status: string; satoshis: string; exchange: string }> =>
    until(`purchase ${id} to fill`, async () => {
      const { purchase } = await client(t.gateway, s.token).request<{ purchase: { status: string; satoshis: string; exchange: string } }>(PURCHASE, { id });
      return purchase.status === 'FILLED' ? purchase : undefined;
    });
  const mailsAbout = (purchaseId: string): ReceivedMail[] => smtp.messages().filter((m) => m.text.includes(purchaseId));
  const recipients = (mails: ReceivedMail[]): string[] => mails.flatMap((m) => m.to).sort();
  const sql = <T>(q: string, params: unknown[] = []): Promise<T[]> => t.db.owner.em.getConnection().execute<T[]>(q, params);

  beforeAll(async () => {
    smtp = await startFakeSmtp(SMTP_USER, SMTP_PASSWORD);
    abr = await startFakeAbr();
    t = await startTestPlatform({ env: { SMTP_URL: smtp.url, MAIL_FROM: 'Liquid ABT <alerts@notify.example>', ABR_GUID: abr.guid, ABR_BASE_URL: abr.url } });
    orm = await openAppOrm(t.db.appUrl, tenantEntities, 2);
    a = await signUp('Notify <A> Pty Ltd', 'owner@a.notify.example');
    adminA = await join(a, 'admin@a.notify.example', 'ADMIN');
    userA = await join(a, 'user@a.notify.example', 'USER');
    b = await signUp('Notify B Pty Ltd', 'owner@b.notify.example');
  }, 120_000);
  afterAll(async () => {
    await orm?.close(true);
    await t?.stop();
    await smtp?.close();
    await abr?.close();
  });

  it('shows each member their choices: on by default for OWNER and ADMIN, off for USER; a bad type changes nothing', async () => {
    const owner = await client(t.gateway, a.token).request<{ notificationPreferences: unknown[] }>(PREFS);
    expect(owner.notificationPreferences).toEqual([
      { type: 'PURCHASE_FILLED', email: true, explicit: false },
      { type: 'PURCHASE_FAILED', email: true, explicit: false },
      { type: 'LIMIT_REACHED', email: true, explicit: false },
      { type: 'STATEMENT_READY', email: true, explicit: false },
      { type: 'KYB_ACTION_NEEDED', email: true, explicit: false },
      { type: 'REPORT_READY', email: true, explicit: false },
    ]);
    const user = await client(t.gateway, userA).request<{ notificationPreferences: unknown[] }>(PREFS);
    expect(user.notificationPreferences).toEqual([
      { type: 'PURCHASE_FILLED', email: false, explicit: false },
      { type: 'PURCHASE_FAILED', email: false, explicit: false },
      { type: 'LIMIT_REACHED', email: false, explicit: false },
      { type: 'STATEMENT_READY', email: false, explicit: false },
      { type: 'KYB_ACTION_NEEDED', email: false, explicit: false },
      { type: 'REPORT_READY', email: false, explicit: false },
    ]);
    expect(await errorCodes(client(t.gateway, adminA).request(SET_PREF, { t: 'purchase.filled', e: false }))).toEqual(['BAD_USER_INPUT']);
    expect(await sql(`select 1 from pool.notification_preference`)).toEqual([]);

    // The ADMIN opts out of fills; the USER opts in.
    const off = await client(t.gateway, adminA).request<{ setNotificationPreference: unknown }>(SET_PREF, { t: 'PURCHASE_FILLED', e: false });
    expect(off.setNotificationPreference).toEqual({ type: 'PURCHASE_FILLED', email: false, explicit: true });
    await client(t.gateway, userA).request(SET_PREF, { t: 'PURCHASE_FILLED', e: true });
    const admin = await client(t.gateway, adminA).request<{ notificationPreferences: unknown[] }>(PREFS);
    expect(admin.notificationPreferences).toEqual([
      { type: 'PURCHASE_FILLED', email: false, explicit: true },
      { type: 'PURCHASE_FAILED', email: true, explicit: false },
      { type: 'LIMIT_REACHED', email: true, explicit: false },
      // The statement is on by default for OWNERs only.
      { type: 'STATEMENT_READY', email: false, explicit: false },
      { type: 'KYB_ACTION_NEEDED', email: true, explicit: false },
      { type: 'REPORT_READY', email: true, explicit: false },
    ]);
  });

  it('a FILLED purchase sends exactly one email to each member who wants it, through SMTP AUTH, with the exact amount', async () => {
    const id = await buy(a, '12345');
    const p = await filled(a, id);
    const mails = await until('the fill emails', () => Promise.resolve(mailsAbout(id).length >= 2 ? mailsAbout(id) : undefined));
    // A moment more: a duplicate would arrive now.
    await new Promise((r) => setTimeout(r, 1500));
    expect(recipients(mailsAbout(id))).toEqual(['owner@a.notify.example', 'user@a.notify.example']);
    const owner = mails.find((m) => m.to.includes('owner@a.notify.example'));
    expect(owner).toMatchObject({ from: 'alerts@notify.example', user: SMTP_USER, subject: 'Notify <A> Pty Ltd: bitcoin purchase of $123.45 filled' });
    expect(owner?.text).toContain('Amount:   $123.45 AUD');
    const sats = BigInt(p.satoshis);
    expect(owner?.text).toContain(`${(sats / 100_000_000n).toString()}.${(sats % 100_000_000n).toString().padStart(8, '0')} BTC`);
    expect(owner?.raw).toContain('Notify &lt;A&gt; Pty Ltd');
    expect(owner?.raw).not.toMatch(/<(p|td)>[^<]*<A>/);
    // Nothing secret: no SMTP credentials, no password hashes, no client order id.
    expect(owner?.raw).not.toContain(SMTP_PASSWORD);
    expect(owner?.raw).not.toMatch(/argon2|client.?order/i);
    expect(owner?.raw).toMatch(new RegExp(`^X-Liquid-Notice-Id: ${noticeId('purchase.filled', `${id}:FILLED`)}\r?$`, 'im'));
    const deliveries = await sql<{ user_id: string; channel: string; message_id: string | null }>(
      `select user_id::text, channel, message_id from pool.notification_delivery where notice_id = ?`,
      [noticeId('purchase.filled', `${id}:FILLED`)],
    );
    expect(deliveries).toHaveLength(2);
    expect(deliveries.every((d) => d.channel === 'email' && d.message_id !== null)).toBe(true);

    // The job again (a retry, a redelivery): the real processor over the same notice sends nothing.
    const [row] = await sql<{ payload: Record<string, unknown> }>(`select payload from pool.outbox where queue = 'notifications' and payload->>'subjectId' = ?`, [id]);
    expect(row).toBeDefined();
    const handler = noticesProcessor([new EmailSink({ tenants: new TenantTransactions(orm, new TenantDirectory(orm)), transport: smtpTransport(smtp.url), from: 'x@notify.example' })]);
    await handler({ id: 'rerun-1', name: 'notice', data: row?.payload ?? {}, attempt: 2 });
    await handler({ id: 'rerun-2', name: 'notice', data: row?.payload ?? {}, attempt: 3 });
    await new Promise((r) => setTimeout(r, 300));
    expect(mailsAbout(id)).toHaveLength(2);
    // The control: without the owner's delivery record, the same re-run sends the owner's email (and only it) again.
    await sql(`delete from pool.notification_delivery where notice_id = ? and user_id = (select id from public.app_user where email = 'owner@a.notify.example')`, [
      noticeId('purchase.filled', `${id}:FILLED`),
    ]);
    await handler({ id: 'rerun-3', name: 'notice', data: row?.payload ?? {}, attempt: 4 });
    await until('the re-sent email', () => Promise.resolve(mailsAbout(id).length === 3 ? true : undefined));
    expect(recipients(mailsAbout(id))).toEqual(['owner@a.notify.example', 'owner@a.notify.example', 'user@a.notify.example']);
  });

  it("never reaches another tenant's members: B's fill emails B's owner only, A's fill emailed none of B", async () => {
    const id = await buy(b, '5000');
    await filled(b, id);
    await until("B's fill email", () => Promise.resolve(mailsAbout(id).length >= 1 ? true : undefined));
    await new Promise((r) => setTimeout(r, 1500));
    expect(recipients(mailsAbout(id))).toEqual(['owner@b.notify.example']);
    expect(mailsAbout(id)[0]?.subject).toBe('Notify B Pty Ltd: bitcoin purchase of $50.00 filled');
    // Every message so far went to the tenant whose purchase it was.
    const toB = smtp.messages().filter((m) => m.to.includes('owner@b.notify.example'));
    expect(toB.every((m) => m.text.includes(id))).toBe(true);
    expect(smtp.messages().filter((m) => m.to.some((x) => x.endsWith('@a.notify.example')) && m.text.includes(id))).toEqual([]);

    // A notice naming tenant A but processed under B's id cannot happen: the sink reads members under the notice's tenant only.
    const rowsB = await sql<{ tenant_id: string }>(`select tenant_id::text from pool.notification_delivery where notice_id = ?`, [noticeId('purchase.filled', `${id}:FILLED`)]);
    expect(rowsB.map((r) => r.tenant_id)).toEqual([b.tenantId]);
  });

  it('purchase.failed goes by each member\'s choice for that type: OWNER and ADMIN by default, not the USER who opted in to fills only', async () => {
    // The producer side of FAILED is covered in test/integration/purchase-execution.test.ts; here its notice goes through the real sink.
    const purchaseId = randomUUID();
    const failed = purchaseNotice(a.tenantId, new Date(), { purchaseId, status: PurchaseStatus.FAILED, amountAudCents: 987654n, filledSats: 0n, exchange: null });
    const handler = noticesProcessor([new EmailSink({ tenants: new TenantTransactions(orm, new TenantDirectory(orm)), transport: smtpTransport(smtp.url), from: 'alerts@notify.example' })]);
    await handler({ id: 'failed-1', name: 'notice', data: failed ?? {}, attempt: 1 });
    await handler({ id: 'failed-2', name: 'notice', data: failed ?? {}, attempt: 2 });
    expect(recipients(mailsAbout(purchaseId))).toEqual(['admin@a.notify.example', 'owner@a.notify.example']);
    expect(mailsAbout(purchaseId)[0]?.subject).toBe('Notify <A> Pty Ltd: bitcoin purchase of $9,876.54 failed');
    expect(mailsAbout(purchaseId)[0]?.text).toContain('Nothing was bought');
  });

  it("KYB needing more information, and a finished tax report, each email the OWNER and ADMIN once, never the USER nor the officer's reason", async () => {
    // A records its legal entity; the operator's compliance officer (a platform role) asks for more.
    await client(t.gateway, a.token).request(gql`mutation ($i: LegalEntityInput!) { recordLegalEntity(input: $i) { status } }`, {
      i: { abn: FAKE_ABNS.company, directors: [{ fullName: 'Ada Director', dateOfBirth: '1980-02-03' }], beneficialOwners: [{ fullName: 'Bea Owner', ownershipBps: 6000, dateOfBirth: '1975-05-06' }] },
    });
    const operator = await signUp('Notify Operator', 'officer@operator.notify.example');
    const [officer] = await sql<{ user_id: string }>(`select user_id::text as user_id from public.membership where tenant_id = ?`, [operator.tenantId]);
    await sql(`insert into public.platform_role (user_id, role, granted_by) values (?, 'COMPLIANCE_OFFICER', 'e2e')`, [officer?.user_id]);
    const reason = 'trust deed page 4 missing; secret-officer-reason';
    await client(t.gateway, operator.token).request(gql`mutation ($t: ID!, $r: String!) { decideKyb(tenantId: $t, status: NEEDS_INFO, reason: $r) { status } }`, { t: a.tenantId, r: reason });
    const kyb = await until('the KYB emails', () => {
      const m = smtp.messages().filter((x) => x.subject.includes('business verification needs more information'));
      return Promise.resolve(m.length >= 2 ? m : undefined);
    });
    expect(recipients(kyb)).toEqual(['admin@a.notify.example', 'owner@a.notify.example']);
    expect(kyb[0]?.subject).toBe('Notify <A> Pty Ltd: business verification needs more information');
    for (const m of kyb) expect(m.raw).not.toContain('secret-officer-reason');

    // A tax report for this financial year: READY → one email each, naming the year, no figures.
    const fy = financialYearLabel(financialYearOf(localDate(new Date(), 'Australia/Sydney')));
    const { requestTaxReport } = await client(t.gateway, a.token).request<{ requestTaxReport: { id: string } }>(
      gql`mutation ($fy: String!) { requestTaxReport(financialYear: $fy) { id } }`,
      { fy },
    );
    const reports = await until('the report-ready emails', () => {
      const m = smtp.messages().filter((x) => x.subject.includes(`tax report for ${fy} is ready`));
      return Promise.resolve(m.length >= 2 ? m : undefined);
    });
    expect(recipients(reports)).toEqual(['admin@a.notify.example', 'owner@a.notify.example']);
    expect(reports[0]?.text).toContain(requestTaxReport.id.slice(0, 8));
    // One notice each in A's outbox; none reached B's owner.
    const notices = await sql<{ n: string }>(`select count(*)::text as n from pool.outbox where queue = 'notifications' and tenant_id = ? and payload->>'type' in ('kyb.action_needed', 'report.ready')`, [a.tenantId]);
    expect(notices).toEqual([{ n: '2' }]);
    await new Promise((r) => setTimeout(r, 300));
    expect(smtp.messages().filter((x) => x.to.includes('owner@b.notify.example') && /verification|tax report/.test(x.subject))).toEqual([]);
    expect(smtp.messages().filter((x) => /verification|tax report/.test(x.subject)).length).toBe(4);
  }, 120_000);

  it('refuses wrong SMTP credentials: the server says no, the error names no secret', async () => {
    const before = smtp.refusedLogins();
    const wrong = smtpTransport(smtp.url.replace(encodeURIComponent(SMTP_PASSWORD), 'not-the-password'));
    const err = await wrong
      .send({ from: 'x@notify.example', to: 'y@notify.example', subject: 's', text: 't', html: '<p>t</p>', headers: {} }, 'n')
      .catch((e: unknown) => e);
    wrong.close();
    expect(err).toBeInstanceOf(MailSendError);
    expect((err as Error).message).toMatch(/EAUTH/);
    expect((err as Error).message).not.toMatch(/not-the-password|y@notify/);
    expect(smtp.refusedLogins()).toBe(before + 1);
  });
});
