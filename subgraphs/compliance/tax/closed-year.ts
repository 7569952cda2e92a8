import { ErrorCode } from '../../../lib/errors';
import { capitalGainsReport, serializeReport } from './cgt-report';
import { replayResolved } from './parcel-ledger';
import { assertInstant, financialYearLabel, financialYearOf, localDate } from './tax-calendar';
import { TaxErrorReason, taxError } from './tax-errors';
import { isClosedYear, resolveProfile, type ResolvedProfile } from './tax-profile';
import type { Acquisition, CostBaseAdjustment, Disposal, Identification, TaxHistory, TaxProfile, Transfer } from './tax.types';

/** A closed (lodged) financial year never changes: no new or edited event in it, no new parcel choice for its disposals. */

const yearClosed = (fy: number, what: string): Error =>
  taxError(ErrorCode.CONFLICT, TaxErrorReason.YEAR_CLOSED, `${what}: financial year ${financialYearLabel(fy)} is closed`, {
    financialYear: fy,
  });

export function assertYearOpen(profile: TaxProfile, financialYear: number, what = 'change'): void {
  if (isClosedYear(resolveProfile(profile), financialYear)) throw yearClosed(financialYear, what);
}

function assertOpenAtResolved(p: ResolvedProfile, at: Date, what: string): void {
  assertInstant(at, what);
  const fy = financialYearOf(localDate(at, p.timeZone));
  if (isClosedYear(p, fy)) throw yearClosed(fy, what);
}

/** An event dated `at` may be added or edited only in an open year (dates in the tenant's timezone). */
export function assertOpenAt(profile: TaxProfile, at: Date, what = 'event'): void {
  assertOpenAtResolved(resolveProfile(profile), at, what);
}

/**
 * Records a new parcel choice for a disposal: refused with YEAR_CLOSED once the disposal's year is
 * closed, and validated by replaying the whole history with it. Returns the new history.
 */
export function changeIdentification(history: TaxHistory, profile: TaxProfile, disposalId: string, identification: Identification): TaxHistory {
  const p = resolveProfile(profile);
  const index = history.disposals.findIndex((d) => d.id === disposalId);
  const disposal = history.disposals[index];
  if (!disposal) {
    throw taxError(ErrorCode.NOT_FOUND, TaxErrorReason.UNKNOWN_DISPOSAL, `no disposal ${disposalId}`, { disposalId });
  }
  assertOpenAtResolved(p, disposal.at, `the parcel choice of disposal ${disposalId}`);
  const disposals = history.disposals.map((d, i) => (i === index ? { ...d, identification } : d));
  const next = { ...history, disposals };
  replayResolved(next, p);
  return next;
}

export type HistoryAdditions = {
  acquisitions?: Acquisition[];
  disposals?: Disposal[];
  transfers?: Transfer[];
  adjustments?: CostBaseAdjustment[];
};

/**
 * Adds events after checking each is dated in an open year (an adjustment by its effectiveAt) and
 * that the whole history still replays (e.g. a sale above holdings is INSUFFICIENT_HOLDINGS).
 * Nothing is added unless everything is valid. Returns the new history.
 */
export function appendToHistory(history: TaxHistory, profile: TaxProfile, additions: HistoryAdditions): TaxHistory {
  const p = resolveProfile(profile);
  for (const a of additions.acquisitions ?? []) assertOpenAtResolved(p, a.at, `acquisition ${a.id}`);
  for (const d of additions.disposals ?? []) assertOpenAtResolved(p, d.at, `disposal ${d.id}`);
  for (const t of additions.transfers ?? []) assertOpenAtResolved(p, t.at, `transfer ${t.id}`);
  for (const adj of additions.adjustments ?? []) assertOpenAtResolved(p, adj.effectiveAt, `cost base adjustment ${adj.id}`);
  const next: TaxHistory = {
    acquisitions: [...history.acquisitions, ...(additions.acquisitions ?? [])],
    disposals: [...history.disposals, ...(additions.disposals ?? [])],
    transfers: [...(history.transfers ?? []), ...(additions.transfers ?? [])],
    adjustments: [...(history.adjustments ?? []), ...(additions.adjustments ?? [])],
  };
  replayResolved(next, p);
  return next;
}

function firstYear(history: TaxHistory, p: ResolvedProfile): number | null {
  const times = [
    ...history.acquisitions.map((a) => a.at),
    ...history.disposals.map((d) => d.at),
    ...(history.transfers ?? []).map((t) => t.at),
    ...(history.adjustments ?? []).map((a) => a.effectiveAt),
  ];
  if (times.length === 0) return null;
  const earliest = times.reduce((a, b) => (a.getTime() <= b.getTime() ? a : b));
  return financialYearOf(localDate(earliest, p.timeZone));
}

/**
 * The catch-all guard for any edit (history or profile): every closed year's report must come out
 * byte-identical before and after, and a closed year cannot be reopened. Throws YEAR_CLOSED naming
 * the first year that would change.
 */
export function assertClosedYearsUnchanged(
  before: { history: TaxHistory; profile: TaxProfile },
  after: { history: TaxHistory; profile: TaxProfile },
): void {
  const pb = resolveProfile(before.profile);
  const pa = resolveProfile(after.profile);
  if (pb.closedThroughYear === null) return;
  if (pa.closedThroughYear === null || pa.closedThroughYear < pb.closedThroughYear) throw yearClosed(pb.closedThroughYear, 'reopening');
  const starts = [firstYear(before.history, pb), firstYear(after.history, pa), ...pb.priorNetCapitalLosses.map((l) => l.lossYear + 1)].filter(
    (y): y is number => y !== null,
  );
  if (starts.length === 0) return;
  for (let fy = Math.min(...starts); fy <= pb.closedThroughYear; fy++) {
    const b = serializeReport({ ...capitalGainsReport(before.history, before.profile, fy), closed: true });
    const a = serializeReport({ ...capitalGainsReport(after.history, after.profile, fy), closed: true });
    if (a !== b) throw yearClosed(fy, 'this change alters a closed year');
  }
}
