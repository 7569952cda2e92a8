import { canonicalJson } from '../audit-chain';
import { computeYears } from './cgt-year';
import { feeGstOf } from './fee-gst';
import { replayResolved } from './parcel-ledger';
import {
  assertFinancialYear,
  basQuarterBounds,
  basQuarterOf,
  endOfFinancialYearExclusive,
  financialYearBounds,
  financialYearOf,
  localDate,
} from './tax-calendar';
import { isClosedYear, resolveProfile, type ResolvedProfile } from './tax-profile';
import type { BasFee, BasQuarter, BasSummary, CapitalGainsReport, ReportFlag, TaxHistory, TaxProfile, YearComputation } from './tax.types';

/** capitalGainsReport(financialYear) and the quarterly BAS summary, computed only from events up to the year's end. */

function basOf(history: TaxHistory, p: ResolvedProfile, fy: number): BasSummary {
  const fees: { quarter: 1 | 2 | 3 | 4; fee: BasFee }[] = [];
  const add = (eventId: string, eventKind: BasFee['eventKind'], at: Date, fee: bigint, gst: Parameters<typeof feeGstOf>[1]): void => {
    if (fee === 0n) return;
    const day = localDate(at, p.timeZone);
    if (financialYearOf(day) !== fy) return;
    const g = feeGstOf(fee, gst, p.gstRegistered, `${eventKind.toLowerCase()} ${eventId}`);
    fees.push({
      quarter: basQuarterOf(day),
      fee: {
        eventId,
        eventKind,
        at,
        localDate: day,
        feeAudCents: fee,
        gstAudCents: g.gstAudCents,
        gstStatus: g.gstStatus,
        itcClaimed: g.itcClaimed,
      },
    });
  };
  for (const a of history.acquisitions) add(a.id, 'ACQUISITION', a.at, a.feeAudCents, a);
  for (const d of history.disposals) add(d.id, 'DISPOSAL', d.at, d.feeAudCents, d);
  fees.sort(({ fee: a }, { fee: b }) => a.at.getTime() - b.at.getTime() || (a.eventKind < b.eventKind ? -1 : a.eventKind > b.eventKind ? 1 : 0) || (a.eventId < b.eventId ? -1 : 1));
  const quarters: BasQuarter[] = ([1, 2, 3, 4] as const).map((q) => {
    const inQ = fees.filter((f) => f.quarter === q).map(({ fee }) => fee);
    return {
      quarter: q,
      ...basQuarterBounds(fy, q),
      fees: inQ,
      totalFeesAudCents: inQ.reduce((s, f) => s + f.feeAudCents, 0n),
      totalGstAudCents: inQ.reduce((s, f) => s + f.gstAudCents, 0n),
      inputTaxCreditsAudCents: inQ.reduce((s, f) => s + (f.itcClaimed ? f.gstAudCents : 0n), 0n),
    };
  });
  return { financialYear: fy, gstRegistered: p.gstRegistered, gstOnBitcoinSuppliesAudCents: 0n, quarters };
}

/** The quarterly BAS summary of GST on fees for one financial year (the history is validated first). */
export function basSummary(history: TaxHistory, profile: TaxProfile, financialYear: number): BasSummary {
  const p = resolveProfile(profile);
  assertFinancialYear(financialYear);
  replayResolved(history, p, { before: endOfFinancialYearExclusive(financialYear, p.timeZone) });
  return basOf(history, p, financialYear);
}

/** Every year's computation from the first with a disposal or loss up to `financialYear`. */
export function yearComputations(history: TaxHistory, profile: TaxProfile, financialYear: number): YearComputation[] {
  const p = resolveProfile(profile);
  assertFinancialYear(financialYear);
  const ledger = replayResolved(history, p, { before: endOfFinancialYearExclusive(financialYear, p.timeZone) });
  return computeYears(ledger.disposals, p, financialYear);
}

/** computeYears always ends with the requested year; an empty list is a kernel bug. */
function lastYear(years: readonly YearComputation[], financialYear: number): YearComputation {
  const last = years.at(-1);
  if (!last) throw new Error(`no computation for financial year ${financialYear}`);
  return last;
}

export function capitalGainsReport(history: TaxHistory, profile: TaxProfile, financialYear: number): CapitalGainsReport {
  const p = resolveProfile(profile);
  assertFinancialYear(financialYear);
  // Events after the year's end never change it: a closed year re-runs to the same bytes.
  const ledger = replayResolved(history, p, { before: endOfFinancialYearExclusive(financialYear, p.timeZone) });
  const years = computeYears(ledger.disposals, p, financialYear);
  const disposals = ledger.disposals.filter((d) => d.financialYear === financialYear);
  const flags: ReportFlag[] = disposals.flatMap((d) =>
    d.flags.map((code) => ({ code, disposalId: d.disposalId, sats: d.matches.filter((m) => m.unknownHistory).reduce((s, m) => s + m.sats, 0n) })),
  );
  return {
    financialYear,
    label: financialYearBounds(financialYear).label,
    timeZone: p.timeZone,
    entityType: p.entityType,
    gstRegistered: p.gstRegistered,
    closed: isClosedYear(p, financialYear),
    summary: lastYear(years, financialYear),
    disposals,
    inventoryAtYearEnd: ledger.parcels,
    adjustments: ledger.adjustments.filter((a) => financialYearOf(localDate(a.effectiveAt, p.timeZone)) === financialYear),
    flags,
    complete: flags.length === 0,
    bas: basOf(history, p, financialYear),
  };
}

/** Canonical JSON (keys sorted, bigint as decimal strings, instants as ISO UTC): the bytes a report file holds. */
export function serializeReport(report: CapitalGainsReport | YearComputation | BasSummary | object): string {
  return canonicalJson(report);
}
