import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { AbstractSqlConnection, MikroORM } from '@mikro-orm/postgresql';
import { openAppOrm } from '../../lib/db/orm';
import { TenantDirectory } from '../../lib/db/tenant-context';
import { TenantTransactions } from '../../lib/db/tenant-tx';
import { NoticeV1 } from '../../lib/events/notices';
import type { TaxAcquisitionFact, TaxDisposalFact } from '../../lib/events/tax-facts';
import { configureLogger } from '../../lib/logger';
import { LocalObjectStore } from '../../lib/storage/local-store';
import { complianceEntities } from '../../subgraphs/compliance';
import { reportsProcessor } from '../../subgraphs/compliance/jobs/reports.processor';
import { pdfText } from '../../subgraphs/compliance/reports/pdf-text';
import { statementId } from '../../subgraphs/compliance/statements/statement-month';
import { StatementScheduler } from '../../subgraphs/compliance/statements/statement.scheduler';
import { STATEMENT_JOB, findStatement, listStatements } from '../../subgraphs/compliance/statements/statement.service';
import { recordAcquisitionFact, recordDisposalFact } from '../../subgraphs/compliance/tax/tax.store';
import { candlePrices } from '../../subgraphs/market-price/prices.port';
import { EmailSink } from '../../subgraphs/tenant/notifications/email.sink';
import { smtpTransport } from '../../subgraphs/tenant/notifications/mail-transport';
import { startFakeSmtp } from '../fakes/smtp.server';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

const SYDNEY = 'Australia/Sydney';

const fill = (tenantId: string, id: string, at: string, sats: string, costAudCents: string, feeAudCents: string): TaxAcquisitionFact => ({
  version: 1,
  kind: 'acquisition',
  tenantId,
  id,
  purchaseId: randomUUID(),
  exchange: 'kraken',
  exchangeOrderId: `K-${id}`,
  at: new Date(at).toISOString(),
  sats,
  costAudCents,
  feeAudCents,
});

/**
 * Monthly statements on real PostgreSQL (row-level security), the reports processor, the local object
 * store and market-price's real price port: a month computed by hand, checked in the PDF's text.
 */
describe('monthly statements', () => {
  let db: TestDatabase;
  let app: MikroORM;
  let txs: TenantTransactions;
  let owner: Pick<AbstractSqlConnection, 'execute'>;
  let dir: string;
  let store: LocalObjectStore;

  // The pass runs at 00:05 on 1 December in Sydney (AEDT, UTC+11): the month is November 2026.
  const now = new Date('2026-12-01T00:05:00+11:00');
  const active = randomUUID();
  const quiet = randomUUID();
  const newcomer = randomUUID();

  beforeAll(async () => {
    configureLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
    db = await createTestDatabase();
    owner = db.owner.em.getConnection();
    app = await openAppOrm(db.appUrl, complianceEntities, 5);
    txs = new TenantTransactions(app, new TenantDirectory(app));
    dir = mkdtempSync(join(tmpdir(), 'abt-statements-'));
    store = new LocalObjectStore({ root: dir, secret: 'test-signing-secret', baseUrl: 'http://127.0.0.1:9' });
    await owner.execute(`insert into public.tenant (id, name, timezone, created_at) values (?, 'Acme Pty Ltd', ?, '2026-09-01T00:00:00Z'), (?, 'Quiet Co', ?, '2026-09-01T00:00:00Z'), (?, 'Newcomer', ?, ?)`, [
      active,
      SYDNEY,
      quiet,
      SYDNEY,
      newcomer,
      SYDNEY,
      // Signed up after November ended in Sydney (though still 30 November in UTC): no statement.
      new Date('2026-12-01T00:01:00+11:00'),
    ]);
    await txs.run(active, async (tx) => {
      // October: 0.002 BTC for A$300.00 + A$1.50 fee, the parcel the sale takes first (FIFO).
      await recordAcquisitionFact(tx, fill(active, 'oct-1', '2026-10-20T10:00:00+11:00', '200000', '30000', '150'), SYDNEY);
      // 1 Nov 00:30 in Sydney is still 31 October in UTC: November's by the tenant's calendar.
      await recordAcquisitionFact(tx, fill(active, 'nov-1', '2026-11-01T00:30:00+11:00', '100000', '16000', '80'), SYDNEY);
      await recordAcquisitionFact(tx, fill(active, 'nov-2', '2026-11-15T10:00:00+11:00', '123457', '20000', '101'), SYDNEY);
      const sale: TaxDisposalFact = {
        version: 1,
        kind: 'disposal',
        tenantId: active,
        id: randomUUID(),
        saleId: randomUUID(),
        type: 'SALE',
        exchange: 'kraken',
        exchangeOrderId: 'K-s1',
        at: new Date('2026-11-20T12:00:00+11:00').toISOString(),
        sats: '150000',
        proceedsAudCents: '25500',
        feeAudCents: '128',
      };
      await recordDisposalFact(tx, sale, SYDNEY);
      // 1 Dec 00:10 in Sydney (30 November in UTC): December's, not on November's statement.
      await recordAcquisitionFact(tx, fill(active, 'dec-1', '2026-12-01T00:10:00+11:00', '50000', '8500', '43'), SYDNEY);
    });
    // market-price's 1-minute candles: the last one ending by midnight counts, the one after does not.
    const candle = `insert into public.price_candle (currency, "interval", bucket_start, open, high, low, close, open_at, close_at, ticks) values ('AUD', '1m', ?, ?, ?, ?, ?, ?, ?, 1)`;
    for (const [start, close] of [
      ['2026-11-30T12:58:00Z', '170000.50'],
      ['2026-11-30T13:00:00Z', '999999.99'],
    ] as const) {
      await owner.execute(candle, [start, close, close, close, close, start, start]);
    }
  });
  afterAll(async () => {
    await app?.close(true);
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  const jobsOf = (tenantId: string, queue: string) =>
    owner.execute<{ id: string; job_name: string; payload: Record<string, unknown> }[]>(`select id, job_name, payload from pool.outbox where tenant_id = ? and queue = ? order by id`, [
      tenantId,
      queue,
    ]);

  it('opens one statement per tenant and month, however often the schedule runs; none for a month the tenant did not exist in', async () => {
    const scheduler = new StatementScheduler({ orm: app, tenants: txs, now: () => now });
    expect((await scheduler.pass()).sort()).toEqual([active, quiet].sort());
    expect(await scheduler.pass()).toEqual([]);
    const jobs = await jobsOf(active, 'reports');
    expect(jobs).toEqual([{ id: statementId(active, '2026-11'), job_name: STATEMENT_JOB, payload: { tenantId: active, statementId: statementId(active, '2026-11') } }]);
    expect(await jobsOf(newcomer, 'reports')).toEqual([]);
    const rows = await txs.run(active, (tx) => listStatements(tx));
    expect(rows.map((r) => [r.period, r.status, r.periodStart.toISOString(), r.periodEnd.toISOString()])).toEqual([
      ['2026-11', 'QUEUED', '2026-10-31T13:00:00.000Z', '2026-11-30T13:00:00.000Z'],
    ]);
  });

  it('the job renders the hand-computed month: purchases, sales, fees, parcels and value at month end, exact to the cent and satoshi', async () => {
    const prices = candlePrices(app);
    const run = reportsProcessor(txs, store, (at) => prices.closeAt(at));
    const [job] = await jobsOf(active, 'reports');
    if (!job) throw new Error('no job');
    await run({ id: job.id, name: job.job_name, data: job.payload, attempt: 1 });

    const row = await txs.run(active, (tx) => findStatement(tx, job.id));
    expect(row).toMatchObject({
      status: 'READY',
      purchases: 2,
      sales: 1,
      purchasedAudCents: 36_000n,
      purchasedSats: 223_457n,
      soldSats: 150_000n,
      saleProceedsAudCents: 25_500n,
      // 80 + 101 (purchases) + 128 (the sale)
      feesAudCents: 309n,
      // 200,000 + 100,000 + 123,457 − 150,000
      holdingsSats: 273_457n,
      // 273,457 sats × A$170,000.50 = A$464.8782...
      holdingsValueAudCents: 46_488n,
      priceAtEnd: '170000.50',
    });
    const pdf = await store.get(row?.pdfKey ?? '');
    if (!pdf) throw new Error('no pdf stored');
    const text = pdfText(Buffer.from(pdf));
    const after = (label: string): string | undefined => text[text.indexOf(label) + 1];
    expect(after('Period')).toBe('November 2026 (Australia/Sydney)');
    expect(after('Purchases')).toBe('2');
    expect(after('Bitcoin bought')).toBe('0.00223457 BTC');
    expect(after('AUD spent on bitcoin')).toBe('A$360.00');
    expect(after('Sales')).toBe('1');
    expect(after('Bitcoin sold')).toBe('0.00150000 BTC');
    expect(after('AUD received from sales')).toBe('A$255.00');
    expect(after('Fees total')).toBe('A$3.09');
    expect(after('Bitcoin held at month end')).toBe('0.00273457 BTC');
    // Cost bases: what is left of October's parcel (30,150 − 22,613 taken by the sale) + 16,080 + 20,101.
    expect(after('Cost base of holdings')).toBe('A$437.18');
    expect(after('BTC/AUD price at month end')).toBe('A$170,000.50');
    expect(after('Value of holdings at month end')).toBe('A$464.88');
    const joined = text.join('|');
    // Purchase rows: local date, AUD, BTC, price per BTC (cost ÷ sats, half up), exchange, fee.
    expect(joined).toContain('2026-11-01|A$160.00|0.00100000 BTC|A$160,000.00|Kraken|A$0.80');
    expect(joined).toContain('2026-11-15|A$200.00|0.00123457 BTC|A$161,999.72|Kraken|A$1.01');
    expect(joined).toContain('2026-11-20|A$255.00|0.00150000 BTC|A$170,000.00|Kraken|A$1.28');
    // December's fill (30 November in UTC) and the 999,999.99 candle after midnight are not November's.
    expect(joined).not.toContain('A$85.00');
    expect(joined).not.toContain('999,999');
    // Parcels held: October's remainder, then November's two.
    expect(joined).toContain('2026-10-20|oct-1|0.00050000 BTC|A$75.37|Kraken');
    expect(joined).toContain('2026-11-15|nov-2|0.00123457 BTC|A$201.01|Kraken');
    expect(joined).not.toContain('No purchases or sales');

    // The notice is written once, in the transaction that made it READY; a replayed job changes nothing.
    await run({ id: job.id, name: job.job_name, data: job.payload, attempt: 2 });
    const notices = await jobsOf(active, 'notifications');
    expect(notices).toHaveLength(1);
    const notice = NoticeV1.parse(notices[0]?.payload);
    expect(notice).toMatchObject({ type: 'statement.ready', subjectId: job.id, data: { period: '2026-11', pdfKey: row?.pdfKey, feesAudCents: '309', holdingsValueAudCents: '46488' } });
    const audits = await owner.execute<{ e: string }[]>(`select payload->>'eventType' as e from pool.outbox where tenant_id = ? and queue = 'audit' and payload->>'eventType' like 'statement.%' order by 1`, [active]);
    expect(audits.map((a) => a.e)).toEqual(['statement.generated', 'statement.requested']);
  });

  it('emails the statement with its PDF attached to the members who want it (owners by default), once however often the notice is delivered', async () => {
    const smtp = await startFakeSmtp('mailer', 'smtp-pass');
    const transport = smtpTransport(smtp.url);
    try {
      const member = async (email: string, role: string): Promise<string> => {
        const id = randomUUID();
        await owner.execute(`insert into public.app_user (id, email, password_hash) values (?, ?, 'x')`, [id, email]);
        await owner.execute(`insert into public.membership (tenant_id, user_id, role) values (?, ?, ?)`, [active, id, role]);
        return id;
      };
      await member('owner@acme.example', 'OWNER');
      const optedOut = await member('quiet-owner@acme.example', 'OWNER');
      await member('admin@acme.example', 'ADMIN');
      const optedIn = await member('bookkeeper@acme.example', 'USER');
      await owner.execute(`insert into pool.notification_preference (tenant_id, user_id, notice_type, email) values (?, ?, 'statement.ready', false), (?, ?, 'statement.ready', true)`, [
        active,
        optedOut,
        active,
        optedIn,
      ]);
      const [job] = await jobsOf(active, 'notifications');
      const notice = NoticeV1.parse(job?.payload);
      const sink = new EmailSink({ tenants: txs, transport, from: 'Liquid ABT <noreply@liquid.example>', files: store });
      await sink.handle(notice);
      await sink.handle(notice);

      const mails = smtp.messages();
      expect(mails.map((m) => m.to).sort()).toEqual([['bookkeeper@acme.example'], ['owner@acme.example']]);
      const stored = await store.get(String(notice.data.pdfKey));
      for (const m of mails) {
        expect(m.subject).toBe('Acme Pty Ltd: your statement for November 2026');
        expect(m.text).toContain('Fees:               $3.09 AUD');
        expect(m.text).toContain('Value at month end: $464.88 AUD');
        expect(m.attachments).toHaveLength(1);
        expect(m.attachments[0]).toMatchObject({ filename: 'statement-2026-11.pdf', contentType: 'application/pdf' });
        // The very bytes stored, a PDF whose text has the month's totals.
        expect(Buffer.compare(m.attachments[0]?.content ?? Buffer.alloc(0), Buffer.from(stored ?? new Uint8Array()))).toBe(0);
        expect(pdfText(m.attachments[0]?.content ?? Buffer.alloc(0))).toContain('A$464.88');
        // No ids of the tenant, no keys, no exchange order ids in the mail.
        expect(m.raw).not.toContain(active);
        expect(m.raw).not.toContain('K-nov-1');
      }
      // A notice naming another tenant's file attaches nothing and sends nothing.
      const forged = NoticeV1.parse({ ...notice, id: randomUUID(), data: { ...notice.data, pdfKey: `${quiet}/statements/x/statement-2026-11.pdf` } });
      await expect(sink.handle(forged)).rejects.toThrow(/no statement file of this tenant/);
      expect(smtp.messages()).toHaveLength(2);
    } finally {
      transport.close();
      await smtp.close();
    }
  });

  it('a tenant with no activity gets a statement that says so, with its (empty) holdings; another tenant cannot see it', async () => {
    const run = reportsProcessor(txs, store, () => Promise.resolve(null));
    const [job] = await jobsOf(quiet, 'reports');
    if (!job) throw new Error('no job');
    await run({ id: job.id, name: job.job_name, data: job.payload, attempt: 1 });
    const row = await txs.run(quiet, (tx) => findStatement(tx, job.id));
    expect(row).toMatchObject({ status: 'READY', purchases: 0, sales: 0, feesAudCents: 0n, holdingsSats: 0n, holdingsValueAudCents: null, priceAtEnd: null });
    const text = pdfText(Buffer.from((await store.get(row?.pdfKey ?? '')) ?? new Uint8Array()));
    expect(text).toContain('No purchases or sales in November 2026.');
    expect(text[text.indexOf('BTC/AUD price at month end') + 1]).toBe('no price recorded');
    expect(text).toContain('No parcels held.');
    // Row-level security: the active tenant's statement is not the quiet tenant's.
    expect(await txs.run(quiet, (tx) => findStatement(tx, statementId(active, '2026-11')))).toBeNull();
  });
});
