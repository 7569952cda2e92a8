import { randomUUID } from 'node:crypto';
import type { AbstractSqlConnection, MikroORM } from '@mikro-orm/postgresql';
import { openAppOrm } from '../../lib/db/orm';
import { TenantDirectory } from '../../lib/db/tenant-context';
import { TenantTransactions } from '../../lib/db/tenant-tx';
import { AppError } from '../../lib/errors';
import { configureLogger } from '../../lib/logger';
import { complianceEntities } from '../../subgraphs/compliance';
import { reportsProcessor } from '../../subgraphs/compliance/jobs/reports.processor';
import { formatAud } from '../../subgraphs/compliance/reports/render';
import { pdfText } from '../../subgraphs/compliance/reports/pdf-text';
import { TAX_REPORT_JOB, downloadUrl, findTaxReport, requestTaxReport } from '../../subgraphs/compliance/reports/reports.service';
import { importTaxHistory, setTaxProfile, taxReport } from '../../subgraphs/compliance/tax/tax.service';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { startTestS3, type TestS3 } from '../helpers/s3';

const need = <T>(v: T | null | undefined): T => {
  if (v === null || v === undefined) throw new Error('missing');
  return v;
};

/** Report files end to end below GraphQL: real PostgreSQL (RLS), the reports processor, a real S3-compatible server. */
describe('tax report files in PostgreSQL and S3', () => {
  let db: TestDatabase;
  let app: MikroORM;
  let txs: TenantTransactions;
  let owner: Pick<AbstractSqlConnection, 'execute'>;
  let s3: TestS3;

  beforeAll(async () => {
    configureLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
    db = await createTestDatabase();
    owner = db.owner.em.getConnection();
    app = await openAppOrm(db.appUrl, complianceEntities, 5);
    txs = new TenantTransactions(app, new TenantDirectory(app));
    s3 = await startTestS3();
  });
  afterAll(async () => {
    await s3?.stop();
    await app?.close(true);
    await db?.drop();
  });

  it('request → job → READY; the signed CSV and PDF match capitalGainsReport', async () => {
    const t = randomUUID();
    await owner.execute(`insert into public.tenant (id, name) values (?, ?)`, [t, 'reports']);
    await txs.run(t, (tx) => setTaxProfile(tx, null, { entityType: 'INDIVIDUAL', gstRegistered: false }));
    const csvIn = [
      'time,type,sats,aud,fee,source,id',
      '2023-01-10T10:00:00+11:00,BUY,100000,300.00,1.00,coinspot,a1',
      '2024-03-01T10:00:00+11:00,BUY,100000,600.00,0,coinspot,a2',
      '2024-08-01T10:00:00+10:00,SELL,150000,1350.00,0,coinspot,s1',
      '',
    ].join('\n');
    await txs.run(t, (tx) => importTaxHistory(tx, null, csvIn));

    const bad = await txs.run(t, (tx) => requestTaxReport(tx, null, '2025')).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(AppError);
    expect((bad as AppError).extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_FINANCIAL_YEAR' });

    const queued = await txs.run(t, (tx) => requestTaxReport(tx, null, '2024-25'));
    expect(queued).toMatchObject({ status: 'QUEUED', financialYear: 2025 });
    const jobs = await owner.execute<{ id: string; job_name: string; payload: Record<string, unknown> }[]>(
      `select id, job_name, payload from pool.outbox where tenant_id = ? and queue = 'reports'`,
      [t],
    );
    expect(jobs).toEqual([{ id: queued.id, job_name: TAX_REPORT_JOB, payload: { tenantId: t, reportId: queued.id } }]);
    const job = jobs[0];
    if (!job) throw new Error('no job');

    await reportsProcessor(txs, s3.store)({ id: job.id, name: job.job_name, data: job.payload, attempt: 1 });
    const ready = await txs.run(t, (tx) => findTaxReport(tx, queued.id));
    if (!ready) throw new Error('report gone');
    expect(ready.status).toBe('READY');
    expect(ready.csvKey?.startsWith(`${t}/reports/tax/${queued.id}/`)).toBe(true);

    const expected = await txs.run(t, (tx) => taxReport(tx, 2025));
    expect(ready.netCapitalGainAudCents).toBe(expected.summary.netCapitalGainAudCents);
    expect(expected.summary.netCapitalGainAudCents).toBe(44_950n);

    const csvUrl = await downloadUrl(s3.store, ready, 'CSV', 60);
    const csv = await (await fetch(need(csvUrl))).text();
    const rows = csv.split('\r\n');
    expect(rows.slice(1, 3)).toEqual([
      's1,SALE,2024-08-01,2024-08-01T00:00:00.000Z,a1,2023-01-10,100000,301.00,900.00,599.00,568,yes,FIFO,no',
      's1,SALE,2024-08-01,2024-08-01T00:00:00.000Z,a2,2024-03-01,50000,300.00,450.00,150.00,152,no,FIFO,no',
    ]);
    const pdfUrl = await downloadUrl(s3.store, ready, 'PDF', 60);
    const pdf = Buffer.from(await (await fetch(need(pdfUrl))).arrayBuffer());
    const text = pdfText(pdf);
    const after = (label: string) => text[text.indexOf(label) + 1];
    expect(after('Net capital gain (A)')).toBe(formatAud(expected.summary.netCapitalGainAudCents));
    expect(after('Total current year capital gains (H)')).toBe(formatAud(expected.summary.grossCapitalGainsAudCents));
    expect(after('CGT discount (1/2)')).toBe(formatAud(expected.summary.discountAudCents));

    // A replayed job does nothing more; every generation is audited.
    await reportsProcessor(txs, s3.store)({ id: job.id, name: job.job_name, data: job.payload, attempt: 2 });
    const audits = await owner.execute<{ e: string }[]>(`select payload->>'eventType' as e from pool.outbox where tenant_id = ? and queue = 'audit' and payload->>'eventType' like 'tax.report%'`, [t]);
    expect(audits.map((a) => a.e).sort()).toEqual(['tax.report_generated', 'tax.report_requested']);
    // Another tenant cannot see it (RLS).
    const other = randomUUID();
    await owner.execute(`insert into public.tenant (id, name) values (?, ?)`, [other, 'other']);
    expect(await txs.run(other, (tx) => findTaxReport(tx, queued.id))).toBeNull();
  });
});
