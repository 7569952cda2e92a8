import { createHash } from 'node:crypto';
import type { TenantTransactions, TenantTx } from '../../../lib/db/tenant-tx';
import { AppError, notFound } from '../../../lib/errors';
import { NOTICE_JOB, NOTICES_QUEUE, NoticeV1, noticeId, type Notice } from '../../../lib/events/notices';
import { log } from '../../../lib/logger';
import type { ObjectStore } from '../../../lib/storage/object-store';
import { loadHistory, parcelsAsOf, type Parcel } from '../tax';
import { localDate } from '../tax/tax-calendar';
import { statementId, statementMonth, type StatementMonth } from './statement-month';
import { statementTotals, type StatementData, type StatementPurchase, type StatementSale } from './statement.data';
import { renderStatementPdf } from './statement.render';

/**
 * Monthly statements (#12). A statement is a `monthly_statement` row (QUEUED) and a `reports` job
 * written to the tenant's outbox in one transaction; `unique (tenant_id, period)` and the job id
 * (= the statement id, derived from tenant and period) make a second scheduler pass, or a second
 * job delivery, a no-op. The job renders the PDF, stores it under the tenant's prefix and, in the
 * transaction that marks it READY, writes the `statement.ready` notice through the outbox: the email
 * with the PDF attached goes out once, to the members who opted in (tenant/notifications).
 */

export const STATEMENT_JOB = 'statement.generate';
export type StatementStatus = 'QUEUED' | 'READY' | 'FAILED';

/** The BTC/AUD price at an instant (market-price's port `closeAt`), or null when none is known. */
export type PriceAt = (at: Date) => Promise<string | null>;

export type StatementRow = {
  id: string;
  period: string;
  timeZone: string;
  periodStart: Date;
  periodEnd: Date;
  status: StatementStatus;
  pdfKey: string | null;
  pdfSha256: string | null;
  purchases: number | null;
  sales: number | null;
  purchasedAudCents: bigint | null;
  purchasedSats: bigint | null;
  soldSats: bigint | null;
  saleProceedsAudCents: bigint | null;
  feesAudCents: bigint | null;
  holdingsSats: bigint | null;
  holdingsValueAudCents: bigint | null;
  priceAtEnd: string | null;
  error: string | null;
  createdAt: Date;
  completedAt: Date | null;
};

type Tx = Pick<TenantTx, 'em' | 'tenantId' | 'now' | 'audit' | 'outbox'>;
type Raw = Record<string, unknown>;

const COLUMNS = `id, period, time_zone, period_start, period_end, status, pdf_key, pdf_sha256, purchases, sales,
  purchased_aud_cents::text as purchased_aud_cents, purchased_sats::text as purchased_sats, sold_sats::text as sold_sats,
  sale_proceeds_aud_cents::text as sale_proceeds_aud_cents, fees_aud_cents::text as fees_aud_cents, holdings_sats::text as holdings_sats,
  holdings_value_aud_cents::text as holdings_value_aud_cents, price_at_end, error, created_at, completed_at`;

/** A column's value as text (pg returns text, numbers and dates here; bigint columns are cast to text). */
const text = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'bigint' ? v.toString() : v instanceof Date ? v.toISOString() : '');
const big = (v: unknown): bigint | null => (v === null || v === undefined ? null : BigInt(text(v)));
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(text(v)));
const str = (v: unknown): string | null => (v === null || v === undefined ? null : text(v));
const date = (v: unknown): Date => (v instanceof Date ? v : new Date(String(v)));

const toRow = (r: Raw): StatementRow => ({
  id: String(r.id),
  period: String(r.period),
  timeZone: String(r.time_zone),
  periodStart: date(r.period_start),
  periodEnd: date(r.period_end),
  status: String(r.status) as StatementStatus,
  pdfKey: str(r.pdf_key),
  pdfSha256: str(r.pdf_sha256),
  purchases: num(r.purchases),
  sales: num(r.sales),
  purchasedAudCents: big(r.purchased_aud_cents),
  purchasedSats: big(r.purchased_sats),
  soldSats: big(r.sold_sats),
  saleProceedsAudCents: big(r.sale_proceeds_aud_cents),
  feesAudCents: big(r.fees_aud_cents),
  holdingsSats: big(r.holdings_sats),
  holdingsValueAudCents: big(r.holdings_value_aud_cents),
  priceAtEnd: str(r.price_at_end),
  error: str(r.error),
  createdAt: date(r.created_at),
  completedAt: r.completed_at === null || r.completed_at === undefined ? null : date(r.completed_at),
});

/** The object key of a statement's PDF, under the tenant's prefix. */
export const statementKey = (tenantId: string, id: string, period: string): string => `${tenantId}/statements/${id}/statement-${period}.pdf`;

export async function findStatement(tx: Pick<Tx, 'em'>, id: string): Promise<StatementRow | null> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) return null;
  const [r] = await tx.em.execute<Raw[]>(`select ${COLUMNS} from monthly_statement where id = ?`, [id]);
  return r ? toRow(r) : null;
}

export async function listStatements(tx: Pick<Tx, 'em'>): Promise<StatementRow[]> {
  return (await tx.em.execute<Raw[]>(`select ${COLUMNS} from monthly_statement order by period desc limit 120`)).map(toRow);
}

/**
 * Opens the statement of `month` once: the row and its job in this transaction. False when it
 * already exists (a second pass, another worker), and then nothing is written.
 */
export async function openStatement(tx: Tx, month: StatementMonth): Promise<boolean> {
  const id = statementId(tx.tenantId, month.period);
  const inserted = await tx.em.execute<{ id: string }[]>(
    `insert into monthly_statement (id, period, time_zone, period_start, period_end, status, created_at) values (?, ?, ?, ?, ?, 'QUEUED', ?)
     on conflict do nothing returning id`,
    [id, month.period, month.timeZone, month.start, month.end, tx.now],
  );
  if (inserted.length === 0) return false;
  await tx.outbox({ queue: 'reports', jobName: STATEMENT_JOB, payload: { tenantId: tx.tenantId, statementId: id }, id });
  await tx.audit({ eventType: 'statement.requested', actorId: null, subjectType: 'monthly_statement', subjectId: id, data: { period: month.period } });
  return true;
}

/** The month's fills and platform sales, and the parcels held at its end, in the tenant's transaction. */
async function collect(tx: Pick<Tx, 'em' | 'tenantId'>, month: StatementMonth): Promise<Omit<StatementData, 'priceAtEnd' | 'totals'>> {
  const [t] = await tx.em.execute<{ name: string }[]>(`select name from public.tenant where id = ?`, [tx.tenantId]);
  const acq = await tx.em.execute<Raw[]>(
    `select id, at, cost_aud_cents::text as cost, sats::text as sats, fee_aud_cents::text as fee, exchange
       from tax_acquisition where source = 'FILL' and at >= ? and at < ? order by at, id`,
    [month.start, month.end],
  );
  const dis = await tx.em.execute<Raw[]>(
    `select id, at, proceeds_aud_cents::text as proceeds, sats::text as sats, fee_aud_cents::text as fee, exchange
       from tax_disposal where type = 'SALE' and source = 'PLATFORM' and at >= ? and at < ? order by at, id`,
    [month.start, month.end],
  );
  const purchases = acq.map(
    (r): StatementPurchase => ({
      id: String(r.id),
      at: date(r.at),
      localDate: localDate(date(r.at), month.timeZone),
      costAudCents: BigInt(String(r.cost)),
      sats: BigInt(String(r.sats)),
      feeAudCents: BigInt(String(r.fee)),
      exchange: String(r.exchange),
    }),
  );
  const sales = dis.map(
    (r): StatementSale => ({
      id: String(r.id),
      at: date(r.at),
      localDate: localDate(date(r.at), month.timeZone),
      proceedsAudCents: BigInt(String(r.proceeds)),
      sats: BigInt(String(r.sats)),
      feeAudCents: BigInt(String(r.fee)),
      exchange: str(r.exchange),
    }),
  );
  let parcels: Parcel[] | null = null;
  let parcelsUnavailable: string | null = null;
  const { history, profile } = await loadHistory(tx);
  try {
    // Inclusive instant: the last millisecond of the month.
    parcels = parcelsAsOf(history, profile, new Date(month.end.getTime() - 1));
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    parcelsUnavailable = String(err.extensions.reason ?? err.extensions.code);
  }
  return { tenantName: t?.name ?? 'your business', month, purchases, sales, parcels, parcelsUnavailable };
}

/** The statement's figures and PDF, without storing anything (for the job and for tests). */
export async function buildStatement(tenants: TenantTransactions, priceAt: PriceAt, tenantId: string, month: StatementMonth): Promise<{ data: StatementData; pdf: Buffer }> {
  const base = await tenants.run(tenantId, (tx) => collect(tx, month));
  const priceAtEnd = await priceAt(month.end);
  const data: StatementData = { ...base, priceAtEnd, totals: statementTotals(base.purchases, base.sales, base.parcels, priceAtEnd) };
  return { data, pdf: await renderStatementPdf(data) };
}

/** The `statement.ready` notice: period, figures and the PDF's key under the tenant's prefix (the email sink attaches it). */
export function statementNotice(tenantId: string, at: Date, row: Pick<StatementRow, 'id' | 'period'>, data: StatementData, pdfKey: string): Notice {
  const t = data.totals;
  return NoticeV1.parse({
    version: 1,
    id: noticeId('statement.ready', row.id),
    tenantId,
    type: 'statement.ready',
    occurredAt: at.toISOString(),
    subjectId: row.id,
    data: {
      period: row.period,
      timeZone: data.month.timeZone,
      purchases: String(data.purchases.length),
      sales: String(data.sales.length),
      purchasedSats: t.purchasedSats.toString(),
      purchasedAudCents: t.purchasedAudCents.toString(),
      feesAudCents: t.feesAudCents.toString(),
      holdingsSats: data.parcels === null ? null : t.holdingsSats.toString(),
      holdingsValueAudCents: t.holdingsValueAudCents === null ? null : t.holdingsValueAudCents.toString(),
      pdfKey,
    },
  });
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/**
 * The `statement.generate` job: render the month, store the PDF, then READY + audit + notice in one
 * transaction. A READY statement is never redone (a replayed job does nothing, so nothing is sent twice).
 * A failure marks it FAILED with the reason and rethrows for the queue's retry.
 */
export async function generateStatement(tenants: TenantTransactions, store: ObjectStore, priceAt: PriceAt, tenantId: string, id: string): Promise<void> {
  const row = await tenants.run(tenantId, (tx) => findStatement(tx, id));
  if (!row) throw notFound('statement');
  if (row.status === 'READY') return;
  try {
    const month = statementMonth(row.period, row.timeZone);
    const { data, pdf } = await buildStatement(tenants, priceAt, tenantId, month);
    const key = statementKey(tenantId, id, row.period);
    await store.put(key, new Uint8Array(pdf), 'application/pdf');
    const t = data.totals;
    await tenants.run(tenantId, async (tx) => {
      const done = await tx.em.execute<{ id: string }[]>(
        `update monthly_statement set status = 'READY', error = null, pdf_key = ?, pdf_sha256 = ?, purchases = ?, sales = ?, purchased_aud_cents = ?, purchased_sats = ?,
           sold_sats = ?, sale_proceeds_aud_cents = ?, fees_aud_cents = ?, holdings_sats = ?, holdings_value_aud_cents = ?, price_at_end = ?, completed_at = ?
         where id = ? and status <> 'READY' returning id`,
        [
          key,
          sha256(pdf),
          data.purchases.length,
          data.sales.length,
          t.purchasedAudCents.toString(),
          t.purchasedSats.toString(),
          t.soldSats.toString(),
          t.saleProceedsAudCents.toString(),
          t.feesAudCents.toString(),
          data.parcels === null ? null : t.holdingsSats.toString(),
          t.holdingsValueAudCents === null ? null : t.holdingsValueAudCents.toString(),
          data.priceAtEnd,
          tx.now,
          id,
        ],
      );
      // A concurrent run made it READY first: it wrote the notice.
      if (done.length === 0) return;
      await tx.audit({ eventType: 'statement.generated', actorId: null, subjectType: 'monthly_statement', subjectId: id, data: { period: row.period, pdfSha256: sha256(pdf) } });
      const notice = statementNotice(tenantId, tx.now, row, data, key);
      await tx.outbox({ queue: NOTICES_QUEUE, jobName: NOTICE_JOB, payload: notice, id: notice.id });
    });
  } catch (err) {
    const reason = err instanceof Error ? err.message.slice(0, 500) : 'statement generation failed';
    log().warn({ tenantId, statementId: id, err: reason }, 'statement failed');
    await tenants.run(tenantId, (tx) => tx.em.execute(`update monthly_statement set status = 'FAILED', error = ? where id = ? and status <> 'READY'`, [reason, id]));
    throw err;
  }
}

/** A signed download URL of a READY statement's PDF; null before then (or when it failed). */
export async function statementDownloadUrl(store: ObjectStore, row: Pick<StatementRow, 'status' | 'pdfKey'>, ttlSeconds: number): Promise<string | null> {
  if (row.status !== 'READY' || row.pdfKey === null) return null;
  return store.signedDownloadUrl(row.pdfKey, ttlSeconds);
}
