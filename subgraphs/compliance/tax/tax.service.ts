import { createHash, randomUUID } from 'node:crypto';
import type { TenantTx } from '../../../lib/db/tenant-tx';
import { AppError, ErrorCode } from '../../../lib/errors';
import { capitalGainsReport, serializeReport } from './cgt-report';
import { appendToHistory, assertClosedYearsUnchanged, changeIdentification } from './closed-year';
import { importHistoryCsv } from './history-csv';
import { movedParcelId, parcelsAsOf, replayHistory } from './parcel-ledger';
import { assertCents, assertPositiveSats } from './tax-amounts';
import { DEFAULT_TIME_ZONE, endOfFinancialYearExclusive, financialYearLabel } from './tax-calendar';
import { TaxErrorReason, badTaxInput, taxError } from './tax-errors';
import { resolveProfile } from './tax-profile';
import {
  closeYear,
  identificationToJson,
  insertAcquisitions,
  insertAdjustment,
  insertDisposals,
  insertImportBatch,
  lateFacts,
  loadHistory,
  lockTaxLedger,
  relocalize,
  saveProfile,
  updateIdentification,
  type LoadedHistory,
} from './tax.store';
import type {
  CapitalGainsReport,
  CompanyLossTest,
  CostBaseAdjustment,
  Disposal,
  DisposalFlag,
  DisposalResult,
  EntityType,
  Identification,
  LossOrder,
  Parcel,
  PriorNetCapitalLoss,
  TaxHistory,
  TaxProfile,
} from './tax.types';

/**
 * The tax ledger's use cases, each in the caller's tenant transaction: reads replay the stored
 * history through the kernel; writes take the tenant's ledger lock, check the new history with the
 * kernel (open years, replay, closed years byte-identical) and only then write and audit. A refused
 * change writes nothing.
 */

type Tx = Pick<TenantTx, 'em' | 'tenantId' | 'now' | 'audit'>;

export type ProfileInput = {
  entityType: EntityType;
  gstRegistered: boolean;
  timeZone?: string | null;
  lossOrder?: LossOrder | null;
  companyLossTests?: CompanyLossTest[] | null;
  priorNetCapitalLosses?: PriorNetCapitalLoss[] | null;
};

async function lockedHistory(tx: Tx): Promise<LoadedHistory> {
  await lockTaxLedger(tx);
  return loadHistory(tx);
}

/** Flags of the given disposals after replaying `history` (e.g. UNKNOWN_ACQUISITION_HISTORY on an import). */
function flagsOf(history: TaxHistory, profile: TaxProfile, ids: readonly string[]): Map<string, DisposalFlag[]> {
  const wanted = new Set(ids);
  const out = new Map<string, DisposalFlag[]>();
  for (const d of replayHistory(history, profile).disposals) if (wanted.has(d.disposalId)) out.set(d.disposalId, d.flags);
  return out;
}

export async function getTaxProfile(tx: Tx): Promise<{ profile: TaxProfile; configured: boolean }> {
  const { profile, configured } = await loadHistory(tx);
  return { profile, configured };
}

/** Sets the profile's own fields; refused (YEAR_CLOSED) when it would change a closed year's report. */
export async function setTaxProfile(tx: Tx, actorId: string | null, input: ProfileInput): Promise<TaxProfile> {
  const before = await lockedHistory(tx);
  const next: TaxProfile = {
    entityType: input.entityType,
    gstRegistered: input.gstRegistered,
    timeZone: input.timeZone ?? before.profile.timeZone ?? 'Australia/Sydney',
    lossOrder: input.lossOrder ?? 'NON_DISCOUNTABLE_FIRST',
    companyLossTests: input.companyLossTests ?? [],
    priorNetCapitalLosses: input.priorNetCapitalLosses ?? [],
    ...(before.profile.closedThroughYear === undefined ? {} : { closedThroughYear: before.profile.closedThroughYear }),
  };
  resolveProfile(next);
  replayHistory(before.history, next);
  assertClosedYearsUnchanged(before, { history: before.history, profile: next });
  await saveProfile(tx, next, actorId);
  if (next.timeZone !== before.profile.timeZone && next.timeZone !== undefined) await relocalize(tx, next.timeZone);
  await tx.audit({
    eventType: 'tax.profile_set',
    actorId,
    subjectType: 'tax_profile',
    subjectId: tx.tenantId,
    data: {
      entityType: next.entityType,
      gstRegistered: next.gstRegistered,
      timeZone: next.timeZone ?? null,
      lossOrder: next.lossOrder ?? null,
      companyLossTests: (next.companyLossTests ?? []).map((t) => ({ ...t })),
      priorNetCapitalLosses: (next.priorNetCapitalLosses ?? []).map((l) => ({ lossYear: l.lossYear, amountAudCents: l.amountAudCents.toString() })),
    },
  });
  return next;
}

export async function taxParcels(tx: Tx, asOf: Date): Promise<Parcel[]> {
  const { history, profile } = await loadHistory(tx);
  return parcelsAsOf(history, profile, asOf);
}

export async function taxReport(tx: Pick<Tx, 'em'>, financialYear: number): Promise<CapitalGainsReport> {
  const { history, profile } = await loadHistory(tx);
  // A closed year is reported as lodged: facts recorded after its close are named, not counted.
  const late = await lateFacts(tx, financialYear, profile.timeZone ?? DEFAULT_TIME_ZONE);
  if (late.length === 0) return capitalGainsReport(history, profile, financialYear);
  const lateAcq = new Set(late.filter((f) => f.kind === 'acquisition').map((f) => f.id));
  const lateDis = new Set(late.filter((f) => f.kind === 'disposal').map((f) => f.id));
  const lodged = {
    ...history,
    acquisitions: history.acquisitions.filter((a) => !lateAcq.has(a.id)),
    disposals: history.disposals.filter((d) => !lateDis.has(d.id)),
  };
  const report = capitalGainsReport(lodged, profile, financialYear);
  const flags = [...report.flags, ...late.map((f) => ({ code: 'LATE_FACT_IN_CLOSED_YEAR' as const, disposalId: f.id, sats: f.sats }))];
  return { ...report, flags, complete: false };
}

/** Every disposal as the ledger matched it, oldest first; only the year's when `financialYear` is given. */
export async function taxDisposals(tx: Tx, financialYear?: number): Promise<DisposalResult[]> {
  const { history, profile } = await loadHistory(tx);
  const all = replayHistory(history, profile).disposals;
  return financialYear === undefined ? all : all.filter((d) => d.financialYear === financialYear);
}

export type ImportResult = { batchId: string; acquisitions: number; disposals: number; flaggedDisposalIds: string[] };

/** The kernel's history CSV, all or nothing: CSV_INVALID (with every bad line) or DUPLICATE_ID writes nothing. */
export async function importTaxHistory(tx: Tx, actorId: string | null, csv: string): Promise<ImportResult> {
  const before = await lockedHistory(tx);
  const batchId = randomUUID();
  const { history, parsed } = importHistoryCsv(before.history, before.profile, csv, { batchId });
  assertClosedYearsUnchanged(before, { history, profile: before.profile });
  const disposalIds = parsed.disposals.map((d) => d.id);
  const flags = flagsOf(history, before.profile, disposalIds);
  const timeZone = before.profile.timeZone ?? 'Australia/Sydney';
  const sha256 = createHash('sha256').update(csv).digest('hex');
  await insertImportBatch(tx, { id: batchId, actorId, sha256, acquisitions: parsed.acquisitions.length, disposals: parsed.disposals.length });
  const acq = await insertAcquisitions(tx, parsed.acquisitions, { timeZone, importBatchId: batchId });
  const dis = await insertDisposals(tx, parsed.disposals, { timeZone, importBatchId: batchId, recordedBy: actorId, flags });
  if (acq.length !== parsed.acquisitions.length || dis.length !== parsed.disposals.length) {
    // A row id already recorded (replay catches those it sees; this is the race-free backstop): roll back everything.
    throw taxError(ErrorCode.CONFLICT, TaxErrorReason.DUPLICATE_ID, 'history CSV not imported: an event id is already recorded');
  }
  const flaggedDisposalIds = [...flags].filter(([, f]) => f.length > 0).map(([id]) => id);
  await tx.audit({
    eventType: 'tax.history_imported',
    actorId,
    subjectType: 'tax_import_batch',
    subjectId: batchId,
    data: { sha256, acquisitions: acq.length, disposals: dis.length, flaggedDisposalIds },
  });
  return { batchId, acquisitions: acq.length, disposals: dis.length, flaggedDisposalIds };
}

/** When a parcel id came to exist: its acquisition's time, or the transfer's that moved part of it. */
function parcelStart(history: TaxHistory, parcelId: string): Date | null {
  const acq = history.acquisitions.find((a) => a.id === parcelId);
  if (acq) return acq.at;
  for (const t of history.transfers ?? []) {
    const from = parcelId.endsWith(`>${t.id}`) ? parcelId.slice(0, -(t.id.length + 1)) : null;
    if (from !== null && movedParcelId(from, t.id) === parcelId) return t.at;
  }
  return null;
}

export type AdjustInput = { parcelId: string; costAudCents: bigint; reason: string; effectiveAt?: Date | null };

/** An audited cost-base edit; by default it corrects the whole parcel (effective at its acquisition). */
export async function adjustCostBase(tx: Tx, actorId: string | null, input: AdjustInput): Promise<CostBaseAdjustment & { previousCostBaseAudCents: bigint; sats: bigint }> {
  const before = await lockedHistory(tx);
  assertCents(input.costAudCents, 'costAudCents');
  const start = parcelStart(before.history, input.parcelId);
  if (start === null) {
    throw taxError(ErrorCode.NOT_FOUND, TaxErrorReason.UNKNOWN_PARCEL, `no parcel ${input.parcelId}`, { parcelId: input.parcelId });
  }
  const adj: CostBaseAdjustment = {
    id: randomUUID(),
    parcelId: input.parcelId,
    effectiveAt: input.effectiveAt ?? start,
    recordedAt: tx.now,
    costBaseAudCents: input.costAudCents,
    reason: input.reason.trim(),
    ...(actorId === null ? {} : { actorId }),
  };
  const history = appendToHistory(before.history, before.profile, { adjustments: [adj] });
  assertClosedYearsUnchanged(before, { history, profile: before.profile });
  const applied = replayHistory(history, before.profile).adjustments.find((a) => a.id === adj.id);
  if (!applied) throw new Error(`cost base adjustment ${adj.id} was not applied`);
  await insertAdjustment(tx, adj);
  await tx.audit({
    eventType: 'tax.cost_base_adjusted',
    actorId,
    subjectType: 'tax_parcel',
    subjectId: adj.parcelId,
    data: {
      adjustmentId: adj.id,
      effectiveAt: adj.effectiveAt.toISOString(),
      sats: applied.sats.toString(),
      previousCostBaseAudCents: applied.previousCostBaseAudCents.toString(),
      costBaseAudCents: adj.costBaseAudCents.toString(),
      reason: adj.reason,
    },
  });
  return { ...adj, previousCostBaseAudCents: applied.previousCostBaseAudCents, sats: applied.sats };
}

export type RecordDisposalInput = {
  type: 'SPEND' | 'FEE';
  sats: bigint;
  marketValueAudCents: bigint;
  at: Date;
  wallet?: string | null;
  identification?: Identification | null;
};

/** A spend or a fee paid in bitcoin (market value), on the platform: above holdings it is refused. */
export async function recordTaxDisposal(tx: Tx, actorId: string | null, input: RecordDisposalInput): Promise<DisposalResult> {
  const before = await lockedHistory(tx);
  assertPositiveSats(input.sats, 'sats');
  assertCents(input.marketValueAudCents, 'marketValueAudCents');
  if (input.at.getTime() > tx.now.getTime()) throw badTaxInput(TaxErrorReason.INVALID_TIME, 'a disposal cannot be recorded in the future', { field: 'at' });
  const d: Disposal = {
    id: randomUUID(),
    type: input.type,
    source: 'PLATFORM',
    at: input.at,
    sats: input.sats,
    proceedsAudCents: input.marketValueAudCents,
    feeAudCents: 0n,
    ...(input.wallet ? { wallet: input.wallet } : {}),
    ...(input.identification ? { identification: input.identification } : {}),
  };
  const history = appendToHistory(before.history, before.profile, { disposals: [d] });
  assertClosedYearsUnchanged(before, { history, profile: before.profile });
  const result = replayHistory(history, before.profile).disposals.find((r) => r.disposalId === d.id);
  if (!result) throw new Error(`disposal ${d.id} was not replayed`);
  await insertDisposals(tx, [d], { timeZone: before.profile.timeZone ?? 'Australia/Sydney', recordedBy: actorId, flags: new Map([[d.id, result.flags]]) });
  await tx.audit({
    eventType: 'tax.disposal_recorded',
    actorId,
    subjectType: 'tax_disposal',
    subjectId: d.id,
    data: {
      type: d.type,
      sats: d.sats.toString(),
      marketValueAudCents: d.proceedsAudCents.toString(),
      at: d.at.toISOString(),
      identification: identificationToJson(result.identification),
      gainAudCents: result.gainAudCents.toString(),
    },
  });
  return result;
}

/** A new parcel choice for a disposal: YEAR_CLOSED (CONFLICT) once its year is closed. */
export async function changeDisposalIdentification(tx: Tx, actorId: string | null, disposalId: string, identification: Identification): Promise<DisposalResult> {
  const before = await lockedHistory(tx);
  const previous = before.history.disposals.find((d) => d.id === disposalId)?.identification ?? null;
  const history = changeIdentification(before.history, before.profile, disposalId, identification);
  assertClosedYearsUnchanged(before, { history, profile: before.profile });
  const result = replayHistory(history, before.profile).disposals.find((r) => r.disposalId === disposalId);
  if (!result) throw new Error(`disposal ${disposalId} was not replayed`);
  await updateIdentification(tx, disposalId, identification);
  await tx.audit({
    eventType: 'tax.identification_changed',
    actorId,
    subjectType: 'tax_disposal',
    subjectId: disposalId,
    data: { previous: previous ? identificationToJson(previous) : null, identification: identificationToJson(identification) },
  });
  return result;
}

/**
 * Closes (lodges) a financial year and every earlier one: their reports never change again. Only a
 * year that has ended; the audit event carries the SHA-256 of the closed report's canonical bytes.
 */
export async function closeFinancialYear(tx: Tx, actorId: string | null, financialYear: number): Promise<CapitalGainsReport> {
  const before = await lockedHistory(tx);
  const timeZone = before.profile.timeZone ?? 'Australia/Sydney';
  if (endOfFinancialYearExclusive(financialYear, timeZone).getTime() > tx.now.getTime()) {
    throw new AppError(ErrorCode.CONFLICT, `financial year ${financialYearLabel(financialYear)} has not ended yet`, {
      reason: 'YEAR_NOT_ENDED',
      financialYear,
    });
  }
  const current = before.profile.closedThroughYear;
  if (current !== undefined && current >= financialYear) {
    throw taxError(ErrorCode.CONFLICT, TaxErrorReason.YEAR_CLOSED, `financial year ${financialYearLabel(financialYear)} is already closed`, { financialYear });
  }
  const closedProfile: TaxProfile = { ...before.profile, closedThroughYear: financialYear };
  const report = capitalGainsReport(before.history, closedProfile, financialYear);
  await closeYear(tx, financialYear, actorId);
  await tx.audit({
    eventType: 'tax.year_closed',
    actorId,
    subjectType: 'tax_year',
    subjectId: financialYearLabel(financialYear),
    data: {
      financialYear,
      netCapitalGainAudCents: report.summary.netCapitalGainAudCents.toString(),
      netCapitalLossCarriedForwardAudCents: report.summary.netCapitalLossCarriedForwardAudCents.toString(),
      reportSha256: createHash('sha256').update(serializeReport(report)).digest('hex'),
    },
  });
  return report;
}
