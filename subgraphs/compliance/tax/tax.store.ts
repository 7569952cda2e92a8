import type { EntityManager } from '@mikro-orm/postgresql';
import type { TenantTx } from '../../../lib/db/tenant-tx';
import { IdentificationV1, type IdentificationFact, type TaxAcquisitionFact, type TaxDisposalFact } from '../../../lib/events/tax-facts';
import { DEFAULT_TIME_ZONE, endOfFinancialYearExclusive, localDate } from './tax-calendar';
import { TaxErrorReason, badTaxInput } from './tax-errors';
import type {
  Acquisition,
  AcquisitionSource,
  CompanyLossTest,
  CostBaseAdjustment,
  Disposal,
  DisposalFlag,
  DisposalSource,
  DisposalType,
  EntityType,
  FeeGst,
  Identification,
  LossOrder,
  PriorNetCapitalLoss,
  TaxHistory,
  TaxProfile,
  Transfer,
} from './tax.types';

/**
 * The tax ledger's rows (migrations 0020_*) as the kernel's types. Every function runs in the
 * caller's tenant transaction (RLS scopes every statement); amounts are bigint both ways.
 */

/** What a tenant without a tax profile is computed as: a company (no discount is the cautious default). */
export const DEFAULT_TAX_PROFILE: TaxProfile = { entityType: 'COMPANY', gstRegistered: false, timeZone: DEFAULT_TIME_ZONE };

export type LoadedHistory = {
  history: TaxHistory;
  profile: TaxProfile;
  /** False when the tenant never set its profile (DEFAULT_TAX_PROFILE is used). */
  configured: boolean;
};

type Raw = Record<string, unknown>;

const big = (v: unknown): bigint => BigInt(String(v));
const bigOrUndef = (v: unknown): bigint | undefined => (v === null || v === undefined ? undefined : big(v));
const str = (v: unknown): string => String(v);
const strOrUndef = (v: unknown): string | undefined => (v === null || v === undefined ? undefined : str(v));
const boolOrUndef = (v: unknown): boolean | undefined => (v === null || v === undefined ? undefined : v === true || v === 't');
const instant = (v: unknown): Date => (v instanceof Date ? v : new Date(String(v)));
const json = (v: unknown): unknown => (typeof v === 'string' ? (JSON.parse(v) as unknown) : v);

/** Copies only the defined properties (the kernel's optional fields are absent, never undefined). */
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

const SOURCE_TO_ROW: Record<AcquisitionSource, string> = { PURCHASE_FILL: 'FILL', IMPORT: 'IMPORT', MANUAL: 'MANUAL' };
const SOURCE_FROM_ROW: Record<string, AcquisitionSource> = { FILL: 'PURCHASE_FILL', IMPORT: 'IMPORT', MANUAL: 'MANUAL' };

/** The parcel choice as stored (the tax-facts JSON shape: sats as strings, instants ISO). */
export function identificationToJson(i: Identification): IdentificationFact {
  switch (i.method) {
    case 'FIFO':
      return { method: 'FIFO' };
    case 'SPECIFIC':
      return { method: 'SPECIFIC', parcels: i.parcels.map((p) => ({ parcelId: p.parcelId, sats: p.sats.toString() })) };
    case 'SAME_DAY_AVERAGE':
      return i.acquiredOn === undefined ? { method: 'SAME_DAY_AVERAGE' } : { method: 'SAME_DAY_AVERAGE', acquiredOn: i.acquiredOn };
    default:
      return { method: i.method, chosenAt: i.chosenAt.toISOString() };
  }
}

/** Stored or wire JSON → the kernel's Identification; BAD_USER_INPUT INVALID_IDENTIFICATION when malformed. */
export function identificationFromJson(v: unknown): Identification {
  const parsed = IdentificationV1.safeParse(v);
  if (!parsed.success) throw badTaxInput(TaxErrorReason.INVALID_IDENTIFICATION, `identification is not valid: ${parsed.error.issues[0]?.message ?? 'malformed'}`);
  const i = parsed.data;
  switch (i.method) {
    case 'FIFO':
      return { method: 'FIFO' };
    case 'SPECIFIC':
      return { method: 'SPECIFIC', parcels: i.parcels.map((p) => ({ parcelId: p.parcelId, sats: BigInt(p.sats) })) };
    case 'SAME_DAY_AVERAGE':
      return i.acquiredOn === undefined ? { method: 'SAME_DAY_AVERAGE' } : { method: 'SAME_DAY_AVERAGE', acquiredOn: i.acquiredOn };
    default:
      return { method: i.method, chosenAt: new Date(i.chosenAt) };
  }
}

function feeGstOf(r: Raw): FeeGst {
  return defined({
    feeGstAudCents: bigOrUndef(r.fee_gst_aud_cents),
    feeGstInclusive: boolOrUndef(r.fee_gst_inclusive),
    feeItcClaimed: boolOrUndef(r.fee_itc_claimed),
  });
}

const acquisitionOf = (r: Raw): Acquisition =>
  defined({
    id: str(r.id),
    source: SOURCE_FROM_ROW[str(r.source)] ?? 'MANUAL',
    at: instant(r.at),
    sats: big(r.sats),
    costAudCents: big(r.cost_aud_cents),
    feeAudCents: big(r.fee_aud_cents),
    exchange: str(r.exchange),
    wallet: strOrUndef(r.wallet),
    purchaseId: strOrUndef(r.purchase_id),
    fillId: strOrUndef(r.fill_id),
    ...feeGstOf(r),
  });

const disposalOf = (r: Raw): Disposal =>
  defined({
    id: str(r.id),
    type: str(r.type) as DisposalType,
    source: str(r.source) as DisposalSource,
    at: instant(r.at),
    sats: big(r.sats),
    proceedsAudCents: big(r.proceeds_aud_cents),
    feeAudCents: big(r.fee_aud_cents),
    exchange: strOrUndef(r.exchange),
    wallet: strOrUndef(r.wallet),
    identification: r.identification === null || r.identification === undefined ? undefined : identificationFromJson(json(r.identification)),
    ...feeGstOf(r),
  });

const transferOf = (r: Raw): Transfer =>
  defined({
    id: str(r.id),
    at: instant(r.at),
    fromWallet: str(r.from_wallet),
    toWallet: str(r.to_wallet),
    sats: big(r.sats),
    networkFeeSats: big(r.network_fee_sats),
    networkFeeMarketValueAudCents: big(r.network_fee_market_value_aud_cents),
    identification: r.identification === null || r.identification === undefined ? undefined : identificationFromJson(json(r.identification)),
  });

const adjustmentOf = (r: Raw): CostBaseAdjustment =>
  defined({
    id: str(r.id),
    parcelId: str(r.parcel_id),
    effectiveAt: instant(r.effective_at),
    recordedAt: instant(r.recorded_at),
    costBaseAudCents: big(r.cost_base_aud_cents),
    reason: str(r.reason),
    actorId: strOrUndef(r.actor_id),
  });

/** The tenant's tax profile as the kernel takes it (closedThroughYear from the closed years), or null when never set. */
export async function loadProfile(em: EntityManager): Promise<TaxProfile | null> {
  const [row] = await em.execute<Raw[]>(
    `select p.entity_type, p.gst_registered, p.time_zone, p.loss_order, p.company_loss_tests, p.prior_net_capital_losses,
            (select max(financial_year) from tax_closed_year) as closed_through_year
       from tax_profile p`,
  );
  if (!row) {
    const [closed] = await em.execute<Raw[]>(`select max(financial_year) as y from tax_closed_year`);
    return closed?.y === null || closed?.y === undefined ? null : { ...DEFAULT_TAX_PROFILE, closedThroughYear: Number(closed.y) };
  }
  const tests = json(row.company_loss_tests) as CompanyLossTest[];
  const priors = (json(row.prior_net_capital_losses) as { lossYear: number; amountAudCents: string }[]).map(
    (l): PriorNetCapitalLoss => ({ lossYear: l.lossYear, amountAudCents: BigInt(l.amountAudCents) }),
  );
  return defined({
    entityType: str(row.entity_type) as EntityType,
    gstRegistered: row.gst_registered === true,
    timeZone: str(row.time_zone),
    lossOrder: str(row.loss_order) as LossOrder,
    companyLossTests: tests,
    priorNetCapitalLosses: priors,
    closedThroughYear: row.closed_through_year === null ? undefined : Number(row.closed_through_year),
  });
}

/**
 * The whole tax history and profile of the transaction's tenant, in the kernel's types: what
 * replayHistory, capitalGainsReport and parcelsAsOf take. A tenant without a profile gets
 * DEFAULT_TAX_PROFILE (`configured: false`). Rows come in a stable order (the kernel sorts anyway).
 */
export async function loadHistory(tx: Pick<TenantTx, 'em'>): Promise<LoadedHistory> {
  const em = tx.em;
  const stored = await loadProfile(em);
  // One after another: the statements share the transaction's connection.
  const acq = await em.execute<Raw[]>(`select * from tax_acquisition order by at, id`);
  const dis = await em.execute<Raw[]>(`select * from tax_disposal order by at, id`);
  const tr = await em.execute<Raw[]>(`select * from tax_transfer order by at, id`);
  const adj = await em.execute<Raw[]>(`select * from tax_cost_base_adjustment order by effective_at, id`);
  return {
    history: { acquisitions: acq.map(acquisitionOf), disposals: dis.map(disposalOf), transfers: tr.map(transferOf), adjustments: adj.map(adjustmentOf) },
    profile: stored ?? DEFAULT_TAX_PROFILE,
    configured: stored !== null,
  };
}

/**
 * Facts dated before the end of a closed year but recorded after the close that lodged it (e.g. a
 * fill or sale fact held up in the queue): the lodged report did not have them. None for an open year.
 */
export async function lateFacts(
  tx: Pick<TenantTx, 'em'>,
  financialYear: number,
  timeZone: string,
): Promise<Array<{ id: string; kind: 'acquisition' | 'disposal'; sats: bigint }>> {
  const end = endOfFinancialYearExclusive(financialYear, timeZone);
  const closedAt = `(select min(closed_at) from tax_closed_year where financial_year >= ?)`;
  const rows = await tx.em.execute<Array<{ id: string; kind: 'acquisition' | 'disposal'; sats: string }>>(
    `select id, 'acquisition' as kind, sats::text as sats from tax_acquisition where at < ? and recorded_at > ${closedAt}
     union all
     select id, 'disposal' as kind, sats::text as sats from tax_disposal where at < ? and recorded_at > ${closedAt}
     order by id`,
    [end, financialYear, end, financialYear],
  );
  return rows.map((r) => ({ id: r.id, kind: r.kind, sats: BigInt(r.sats) }));
}

/** Serializes the tenant's tax writes that check the history before writing (mutations, imports). */
export async function lockTaxLedger(tx: Pick<TenantTx, 'em' | 'tenantId'>): Promise<void> {
  await tx.em.execute(`select pg_advisory_xact_lock(hashtextextended(?, 0))`, [`tax-ledger:${tx.tenantId}`]);
}

/** Writes the profile's own fields (closed years are written by closeYear only). */
export async function saveProfile(tx: Pick<TenantTx, 'em'>, p: TaxProfile, actorId: string | null): Promise<void> {
  const tests = JSON.stringify(p.companyLossTests ?? []);
  const priors = JSON.stringify((p.priorNetCapitalLosses ?? []).map((l) => ({ lossYear: l.lossYear, amountAudCents: l.amountAudCents.toString() })));
  await tx.em.execute(
    `insert into tax_profile (entity_type, gst_registered, time_zone, loss_order, company_loss_tests, prior_net_capital_losses, updated_by)
     values (?, ?, ?, ?, ?::jsonb, ?::jsonb, ?)
     on conflict (tenant_id) do update set entity_type = excluded.entity_type, gst_registered = excluded.gst_registered,
       time_zone = excluded.time_zone, loss_order = excluded.loss_order, company_loss_tests = excluded.company_loss_tests,
       prior_net_capital_losses = excluded.prior_net_capital_losses, updated_by = excluded.updated_by, updated_at = now()`,
    [p.entityType, p.gstRegistered, p.timeZone ?? DEFAULT_TIME_ZONE, p.lossOrder ?? 'NON_DISCOUNTABLE_FIRST', tests, priors, actorId],
  );
}

const orNull = <T>(v: T | undefined): T | null => (v === undefined ? null : v);
const bigText = (v: bigint | undefined): string | null => (v === undefined ? null : v.toString());

/** Acquisitions, each once by id (`on conflict do nothing`); returns the ids actually recorded. */
export async function insertAcquisitions(
  tx: Pick<TenantTx, 'em'>,
  rows: readonly Acquisition[],
  opts: { timeZone: string; importBatchId?: string; exchangeOrderId?: string | null },
): Promise<string[]> {
  const recorded: string[] = [];
  for (const a of rows) {
    const res = await tx.em.execute<{ id: string }[]>(
      `insert into tax_acquisition (id, source, at, local_date, sats, cost_aud_cents, fee_aud_cents, fee_gst_aud_cents, fee_gst_inclusive,
         fee_itc_claimed, exchange, wallet, purchase_id, fill_id, exchange_order_id, import_batch_id)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) on conflict (tenant_id, id) do nothing returning id`,
      [
        a.id,
        SOURCE_TO_ROW[a.source],
        a.at,
        localDate(a.at, opts.timeZone),
        a.sats.toString(),
        a.costAudCents.toString(),
        a.feeAudCents.toString(),
        bigText(a.feeGstAudCents),
        orNull(a.feeGstInclusive),
        orNull(a.feeItcClaimed),
        a.exchange,
        orNull(a.wallet),
        orNull(a.purchaseId),
        orNull(a.fillId),
        opts.exchangeOrderId ?? null,
        opts.importBatchId ?? null,
      ],
    );
    if (res[0]) recorded.push(res[0].id);
  }
  return recorded;
}

/** Disposals, each once by id; returns the ids actually recorded. */
export async function insertDisposals(
  tx: Pick<TenantTx, 'em'>,
  rows: readonly Disposal[],
  opts: {
    timeZone: string;
    importBatchId?: string;
    saleId?: string;
    exchangeOrderId?: string | null;
    recordedBy?: string | null;
    flags?: ReadonlyMap<string, readonly DisposalFlag[]>;
  },
): Promise<string[]> {
  const recorded: string[] = [];
  for (const d of rows) {
    const res = await tx.em.execute<{ id: string }[]>(
      `insert into tax_disposal (id, type, source, at, local_date, sats, proceeds_aud_cents, fee_aud_cents, fee_gst_aud_cents,
         fee_gst_inclusive, fee_itc_claimed, exchange, wallet, identification, flags, sale_id, exchange_order_id, import_batch_id, recorded_by)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?::jsonb, ?, ?, ?, ?) on conflict (tenant_id, id) do nothing returning id`,
      [
        d.id,
        d.type,
        d.source,
        d.at,
        localDate(d.at, opts.timeZone),
        d.sats.toString(),
        d.proceedsAudCents.toString(),
        d.feeAudCents.toString(),
        bigText(d.feeGstAudCents),
        orNull(d.feeGstInclusive),
        orNull(d.feeItcClaimed),
        orNull(d.exchange),
        orNull(d.wallet),
        d.identification ? JSON.stringify(identificationToJson(d.identification)) : null,
        JSON.stringify(opts.flags?.get(d.id) ?? []),
        opts.saleId ?? null,
        opts.exchangeOrderId ?? null,
        opts.importBatchId ?? null,
        opts.recordedBy ?? null,
      ],
    );
    if (res[0]) recorded.push(res[0].id);
  }
  return recorded;
}

/** A treasury fill fact → one acquisition row (once by the fact id). True when this call recorded it. */
export async function recordAcquisitionFact(tx: Pick<TenantTx, 'em'>, fact: TaxAcquisitionFact, timeZone: string): Promise<boolean> {
  const a: Acquisition = {
    id: fact.id,
    source: 'PURCHASE_FILL',
    at: new Date(fact.at),
    sats: BigInt(fact.sats),
    costAudCents: BigInt(fact.costAudCents),
    feeAudCents: BigInt(fact.feeAudCents),
    exchange: fact.exchange,
    purchaseId: fact.purchaseId,
    fillId: fact.id,
  };
  return (await insertAcquisitions(tx, [a], { timeZone, exchangeOrderId: fact.exchangeOrderId })).length === 1;
}

/** A treasury sale-settlement fact → one SALE disposal row (once by the fact id). True when this call recorded it. */
export async function recordDisposalFact(tx: Pick<TenantTx, 'em'>, fact: TaxDisposalFact, timeZone: string): Promise<boolean> {
  const d: Disposal = defined({
    id: fact.id,
    type: 'SALE' as const,
    source: 'PLATFORM' as const,
    at: new Date(fact.at),
    sats: BigInt(fact.sats),
    proceedsAudCents: BigInt(fact.proceedsAudCents),
    feeAudCents: BigInt(fact.feeAudCents),
    exchange: fact.exchange,
    identification: fact.identification === undefined ? undefined : identificationFromJson(fact.identification),
  });
  return (await insertDisposals(tx, [d], { timeZone, saleId: fact.saleId, exchangeOrderId: fact.exchangeOrderId })).length === 1;
}

export async function insertAdjustment(tx: Pick<TenantTx, 'em'>, a: CostBaseAdjustment): Promise<void> {
  await tx.em.execute(
    `insert into tax_cost_base_adjustment (id, parcel_id, effective_at, recorded_at, cost_base_aud_cents, reason, actor_id) values (?, ?, ?, ?, ?, ?, ?)`,
    [a.id, a.parcelId, a.effectiveAt, a.recordedAt, a.costBaseAudCents.toString(), a.reason, a.actorId ?? null],
  );
}

export async function insertImportBatch(
  tx: Pick<TenantTx, 'em'>,
  b: { id: string; actorId: string | null; sha256: string; acquisitions: number; disposals: number },
): Promise<void> {
  await tx.em.execute(`insert into tax_import_batch (id, actor_id, sha256, acquisitions, disposals) values (?, ?, ?, ?, ?)`, [
    b.id,
    b.actorId,
    b.sha256,
    b.acquisitions,
    b.disposals,
  ]);
}

export async function updateIdentification(tx: Pick<TenantTx, 'em'>, disposalId: string, identification: Identification): Promise<void> {
  await tx.em.execute(`update tax_disposal set identification = ?::jsonb where id = ?`, [JSON.stringify(identificationToJson(identification)), disposalId]);
}

/** Replaces the stored flags of the given disposals (the ledger's verdict after a write). */
export async function updateDisposalFlags(tx: Pick<TenantTx, 'em'>, flags: ReadonlyMap<string, readonly DisposalFlag[]>): Promise<void> {
  for (const [id, f] of flags) await tx.em.execute(`update tax_disposal set flags = ?::jsonb where id = ?`, [JSON.stringify(f), id]);
}

/** Recomputes every stored local date in a new time zone (the kernel recomputes them anyway; the rows stay honest). */
export async function relocalize(tx: Pick<TenantTx, 'em'>, timeZone: string): Promise<void> {
  for (const table of ['tax_acquisition', 'tax_disposal']) {
    await tx.em.execute(`update ${table} set local_date = to_char(at at time zone ?, 'YYYY-MM-DD') where local_date <> to_char(at at time zone ?, 'YYYY-MM-DD')`, [
      timeZone,
      timeZone,
    ]);
  }
}

export async function closeYear(tx: Pick<TenantTx, 'em'>, financialYear: number, actorId: string | null): Promise<void> {
  await tx.em.execute(`insert into tax_closed_year (financial_year, closed_by) values (?, ?) on conflict (tenant_id, financial_year) do nothing`, [
    financialYear,
    actorId,
  ]);
}
