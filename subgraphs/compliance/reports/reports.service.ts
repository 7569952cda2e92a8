import { createHash, randomUUID } from 'node:crypto';
import type { TenantTransactions, TenantTx } from '../../../lib/db/tenant-tx';
import { notFound } from '../../../lib/errors';
import { NOTICE_JOB, NOTICES_QUEUE, NoticeV1, noticeId, type Notice } from '../../../lib/events/notices';
import { log } from '../../../lib/logger';
import type { ObjectStore } from '../../../lib/storage/object-store';
import { financialYearLabel, parseFinancialYear } from '../tax';
import { taxReport } from '../tax/tax.service';
import { renderReportCsv, renderSummaryPdf } from './render';

/**
 * Tax report files: a request is a `tax_report` row (QUEUED) and a `reports` job written to the
 * tenant's outbox in the same transaction (job id = the report id, so a replay is one job); the
 * processor moves it RUNNING → READY (or FAILED with the reason), storing the CSV and PDF under the
 * tenant's prefix, and publishes each step as TaxReportUpdated on `tenant.<tid>.report`.
 */

export const TAX_REPORT_JOB = 'tax-report.generate';
export type TaxReportStatus = 'QUEUED' | 'RUNNING' | 'READY' | 'FAILED';
export type TaxReportFormat = 'CSV' | 'PDF';

export type TaxReportRow = {
  id: string;
  financialYear: number;
  status: TaxReportStatus;
  csvKey: string | null;
  csvSha256: string | null;
  pdfKey: string | null;
  pdfSha256: string | null;
  netCapitalGainAudCents: bigint | null;
  requestedBy: string | null;
  error: string | null;
  createdAt: Date;
  updatedAt: Date;
  completedAt: Date | null;
};

type Tx = Pick<TenantTx, 'em' | 'tenantId' | 'now' | 'audit' | 'outbox' | 'publish'>;

type DbRow = {
  id: string;
  financial_year: number;
  status: TaxReportStatus;
  csv_key: string | null;
  csv_sha256: string | null;
  pdf_key: string | null;
  pdf_sha256: string | null;
  net_capital_gain_aud_cents: string | null;
  requested_by: string | null;
  error: string | null;
  created_at: Date;
  updated_at: Date;
  completed_at: Date | null;
};

const COLUMNS = `id, financial_year, status, csv_key, csv_sha256, pdf_key, pdf_sha256, net_capital_gain_aud_cents::text as net_capital_gain_aud_cents,
  requested_by, error, created_at, updated_at, completed_at`;

const toRow = (r: DbRow): TaxReportRow => ({
  id: r.id,
  financialYear: Number(r.financial_year),
  status: r.status,
  csvKey: r.csv_key,
  csvSha256: r.csv_sha256,
  pdfKey: r.pdf_key,
  pdfSha256: r.pdf_sha256,
  netCapitalGainAudCents: r.net_capital_gain_aud_cents === null ? null : BigInt(r.net_capital_gain_aud_cents),
  requestedBy: r.requested_by,
  error: r.error,
  createdAt: new Date(r.created_at),
  updatedAt: new Date(r.updated_at),
  completedAt: r.completed_at === null ? null : new Date(r.completed_at),
});

const PROGRESS: Record<TaxReportStatus, number> = { QUEUED: 0, RUNNING: 10, READY: 100, FAILED: 100 };

function published(tx: Tx, reportId: string, status: TaxReportStatus, progress = PROGRESS[status]): void {
  tx.publish('report', { __typename: 'TaxReportUpdated', version: 1, reportId, status, progress, at: tx.now.toISOString() });
}

/** Object keys of a report's files, under the tenant's prefix. */
export const reportKey = (tenantId: string, reportId: string, financialYear: number, format: TaxReportFormat): string =>
  `${tenantId}/reports/tax/${reportId}/capital-gains-${financialYear - 1}-${String(financialYear % 100).padStart(2, '0')}.${format === 'CSV' ? 'csv' : 'pdf'}`;

export async function findTaxReport(tx: Pick<Tx, 'em'>, id: string): Promise<TaxReportRow | null> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) return null;
  const rows = await tx.em.execute<DbRow[]>(`select ${COLUMNS} from tax_report where id = ?`, [id]);
  const r = rows[0];
  return r ? toRow(r) : null;
}

export async function listTaxReports(tx: Pick<Tx, 'em'>): Promise<TaxReportRow[]> {
  return (await tx.em.execute<DbRow[]>(`select ${COLUMNS} from tax_report order by created_at desc, id limit 100`)).map(toRow);
}

/** Queues a report of a financial year ("2024-25"; BAD_USER_INPUT INVALID_FINANCIAL_YEAR otherwise, nothing written). */
export async function requestTaxReport(tx: Tx, actorId: string | null, financialYearLabel: string): Promise<TaxReportRow> {
  const fy = parseFinancialYear(financialYearLabel);
  const id = randomUUID();
  await tx.em.execute(`insert into tax_report (id, financial_year, status, requested_by, created_at, updated_at) values (?, ?, 'QUEUED', ?, ?, ?)`, [
    id,
    fy,
    actorId,
    tx.now,
    tx.now,
  ]);
  await tx.outbox({ queue: 'reports', jobName: TAX_REPORT_JOB, payload: { tenantId: tx.tenantId, reportId: id }, id });
  await tx.audit({ eventType: 'tax.report_requested', actorId, subjectType: 'tax_report', subjectId: id, data: { financialYear: fy } });
  published(tx, id, 'QUEUED');
  const row = await findTaxReport(tx, id);
  if (!row) throw notFound('tax report');
  return row;
}

/** A signed download URL of a READY report's file; null before then. */
export async function downloadUrl(store: ObjectStore, row: TaxReportRow, format: TaxReportFormat, ttlSeconds: number): Promise<string | null> {
  const key = format === 'CSV' ? row.csvKey : row.pdfKey;
  if (row.status !== 'READY' || key === null) return null;
  return store.signedDownloadUrl(key, ttlSeconds);
}

/**
 * The `report.ready` notice, written in the transaction that marks the report READY (so it exists if
 * and only if the report does); its id is the report's, so a re-run writes it once. It names the
 * report and its financial year only: the figures are in the files, behind the dashboard's sign-in.
 */
export function reportReadyNotice(tenantId: string, at: Date, reportId: string, financialYear: number): Notice {
  return NoticeV1.parse({
    version: 1,
    id: noticeId('report.ready', reportId),
    tenantId,
    type: 'report.ready',
    occurredAt: at.toISOString(),
    subjectId: reportId,
    data: { report: 'TAX', financialYear: financialYearLabel(financialYear) },
  });
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/**
 * The `reports` job: RUNNING → load the history in the tenant's transaction → render → store →
 * READY (audited with the files' SHA-256). Any error makes it FAILED with the reason (and rethrows
 * for the queue's retry, which starts over). A READY report is never redone.
 */
export async function generateTaxReport(tenants: TenantTransactions, store: ObjectStore, tenantId: string, reportId: string): Promise<void> {
  const started = await tenants.run(tenantId, async (tx) => {
    const rows = await tx.em.execute<DbRow[]>(`select ${COLUMNS} from tax_report where id = ? for update`, [reportId]);
    const r = rows[0];
    if (!r) throw notFound('tax report');
    if (r.status === 'READY') return null;
    await tx.em.execute(`update tax_report set status = 'RUNNING', error = null, updated_at = ? where id = ?`, [tx.now, reportId]);
    published(tx, reportId, 'RUNNING');
    return toRow(r);
  });
  if (!started) return;
  try {
    const fy = started.financialYear;
    const report = await tenants.run(tenantId, (tx) => taxReport(tx, fy));
    const csv = new TextEncoder().encode(renderReportCsv(report));
    const pdf = new Uint8Array(await renderSummaryPdf(report));
    const csvKey = reportKey(tenantId, reportId, fy, 'CSV');
    const pdfKey = reportKey(tenantId, reportId, fy, 'PDF');
    await tenants.run(tenantId, (tx) => {
      published(tx, reportId, 'RUNNING', 60);
      return Promise.resolve();
    });
    await store.put(csvKey, csv, 'text/csv; charset=utf-8');
    await store.put(pdfKey, pdf, 'application/pdf');
    await tenants.run(tenantId, async (tx) => {
      await tx.em.execute(
        `update tax_report set status = 'READY', csv_key = ?, csv_sha256 = ?, pdf_key = ?, pdf_sha256 = ?, net_capital_gain_aud_cents = ?,
           updated_at = ?, completed_at = ? where id = ?`,
        [csvKey, sha256(csv), pdfKey, sha256(pdf), report.summary.netCapitalGainAudCents.toString(), tx.now, tx.now, reportId],
      );
      await tx.audit({
        eventType: 'tax.report_generated',
        actorId: started.requestedBy,
        subjectType: 'tax_report',
        subjectId: reportId,
        data: { financialYear: fy, csvSha256: sha256(csv), pdfSha256: sha256(pdf), netCapitalGainAudCents: report.summary.netCapitalGainAudCents.toString() },
      });
      published(tx, reportId, 'READY');
      const notice = reportReadyNotice(tenantId, tx.now, reportId, fy);
      await tx.outbox({ queue: NOTICES_QUEUE, jobName: NOTICE_JOB, payload: notice, id: notice.id });
    });
  } catch (err) {
    const reason = err instanceof Error ? err.message.slice(0, 500) : 'report generation failed';
    log().warn({ reportId, err: reason }, 'tax report failed');
    await tenants.run(tenantId, async (tx) => {
      await tx.em.execute(`update tax_report set status = 'FAILED', error = ?, updated_at = ? where id = ?`, [reason, tx.now, reportId]);
      await tx.audit({ eventType: 'tax.report_failed', actorId: started.requestedBy, subjectType: 'tax_report', subjectId: reportId, data: { reason } });
      published(tx, reportId, 'FAILED');
    });
    throw err;
  }
}
