import { financialYearBounds } from './tax-calendar';
import { TaxErrorReason, badTaxInput } from './tax-errors';
import { discountRateFor, type ResolvedProfile } from './tax-profile';
import type { CarriedLoss, DisposalResult, LossBlock, LossOrder, PriorLossApplication, YearComputation } from './tax.types';

/**
 * The method statement of ITAA 1997 s 102-5(1), per financial year: total the year's capital
 * gains; reduce them by the year's capital losses, then by earlier net capital losses in the order
 * they were made (s 102-15), each against non-discountable gains first by default; discount what is
 * left of the discount gains (s 115-100); what losses remain carry forward with no time limit.
 */

/** Companies, trusts and funds lodge a CGT schedule when the year's gains or losses exceed $10,000. */
export const CGT_SCHEDULE_THRESHOLD_AUD_CENTS = 1_000_000n;

type Gains = { nd: bigint; d: bigint };

/** Reduces gains by a loss in the chosen order; returns what was applied to each kind. */
function applyLoss(loss: bigint, gains: Gains, order: LossOrder): { nd: bigint; d: bigint } {
  const first: keyof Gains = order === 'NON_DISCOUNTABLE_FIRST' ? 'nd' : 'd';
  const second: keyof Gains = first === 'nd' ? 'd' : 'nd';
  const applied = { nd: 0n, d: 0n };
  let left = loss;
  for (const k of [first, second]) {
    const a = gains[k] < left ? gains[k] : left;
    gains[k] -= a;
    applied[k] += a;
    left -= a;
  }
  return applied;
}

/** A company may apply an earlier net capital loss only if it meets the COT or the BCT (s 165-96). */
function blockOf(p: ResolvedProfile, lossYear: number): LossBlock | null {
  if (p.entityType !== 'COMPANY') return null;
  const test = p.companyLossTests.get(lossYear);
  if (!test) return 'LOSS_TEST_NOT_RECORDED';
  return test.cotMet || test.bctMet ? null : 'COT_AND_BCT_NOT_MET';
}

/** Every year from the first with a loss or disposal to `throughYear`, carrying losses forward. */
export function computeYears(disposals: readonly DisposalResult[], p: ResolvedProfile, throughYear: number): YearComputation[] {
  financialYearBounds(throughYear);
  const byYear = new Map<number, DisposalResult[]>();
  for (const d of disposals) {
    const list = byYear.get(d.financialYear) ?? [];
    list.push(d);
    byYear.set(d.financialYear, list);
  }
  const firstDisposalYear = Math.min(...byYear.keys());
  for (const l of p.priorNetCapitalLosses) {
    if (l.lossYear >= firstDisposalYear) {
      throw badTaxInput(
        TaxErrorReason.INVALID_PROFILE,
        `a prior net capital loss for ${l.lossYear} overlaps the history, which has disposals from ${firstDisposalYear}`,
        { field: 'priorNetCapitalLosses' },
      );
    }
  }
  const firstYear = Math.min(throughYear, firstDisposalYear, ...p.priorNetCapitalLosses.map((l) => l.lossYear + 1));
  const pool: { lossYear: number; amount: bigint }[] = [];
  const rate = discountRateFor(p.entityType);
  const out: YearComputation[] = [];

  for (let fy = firstYear; fy <= throughYear; fy++) {
    for (const l of p.priorNetCapitalLosses) if (l.lossYear === fy - 1 && l.amountAudCents > 0n) pool.push({ lossYear: l.lossYear, amount: l.amountAudCents });
    pool.sort((a, b) => a.lossYear - b.lossYear);

    const gains: Gains = { nd: 0n, d: 0n };
    let currentLosses = 0n;
    for (const d of byYear.get(fy) ?? []) {
      for (const m of d.matches) {
        if (m.gainAudCents > 0n) {
          if (m.discountEligible) gains.d += m.gainAudCents;
          else gains.nd += m.gainAudCents;
        } else currentLosses -= m.gainAudCents;
      }
    }
    const gross = gains.nd + gains.d;
    const nonDiscountable = gains.nd;
    const discountable = gains.d;

    const cur = applyLoss(currentLosses, gains, p.lossOrder);
    const ownNetLoss = currentLosses - cur.nd - cur.d;

    const priorLosses: PriorLossApplication[] = [];
    const priorApplied = { nd: 0n, d: 0n };
    for (const entry of pool) {
      const blocked = blockOf(p, entry.lossYear);
      const available = entry.amount;
      let applied = 0n;
      if (!blocked) {
        const a = applyLoss(entry.amount, gains, p.lossOrder);
        priorApplied.nd += a.nd;
        priorApplied.d += a.d;
        applied = a.nd + a.d;
        entry.amount -= applied;
      }
      priorLosses.push({ lossYear: entry.lossYear, availableAudCents: available, appliedAudCents: applied, remainingAudCents: entry.amount, blocked });
    }
    for (let i = pool.length - 1; i >= 0; i--) if (pool[i]?.amount === 0n) pool.splice(i, 1);
    if (ownNetLoss > 0n) pool.push({ lossYear: fy, amount: ownNetLoss });

    // Rounded down to the cent, so rounding never claims more discount than the law gives.
    const discount = (gains.d * rate.numerator) / rate.denominator;
    const carriedForward: CarriedLoss[] = pool.map((e) => ({ lossYear: e.lossYear, amountAudCents: e.amount, blocked: blockOf(p, e.lossYear) }));
    const bounds = financialYearBounds(fy);
    out.push({
      financialYear: fy,
      label: bounds.label,
      startDate: bounds.startDate,
      endDate: bounds.endDate,
      entityType: p.entityType,
      lossOrder: p.lossOrder,
      grossCapitalGainsAudCents: gross,
      discountableGainsAudCents: discountable,
      nonDiscountableGainsAudCents: nonDiscountable,
      currentYearCapitalLossesAudCents: currentLosses,
      currentYearLossesAppliedAudCents: { nonDiscountable: cur.nd, discountable: cur.d },
      priorLosses,
      priorLossesAppliedAudCents: { nonDiscountable: priorApplied.nd, discountable: priorApplied.d },
      nonDiscountableRemainingAudCents: gains.nd,
      discountableRemainingAudCents: gains.d,
      discountRate: rate,
      discountAudCents: discount,
      netCapitalGainAudCents: gains.nd + gains.d - discount,
      netCapitalLossOfYearAudCents: ownNetLoss,
      carriedForward,
      netCapitalLossCarriedForwardAudCents: carriedForward.reduce((s, c) => s + c.amountAudCents, 0n),
      cgtScheduleRequired:
        p.entityType === 'INDIVIDUAL' ? null : gross > CGT_SCHEDULE_THRESHOLD_AUD_CENTS || currentLosses > CGT_SCHEDULE_THRESHOLD_AUD_CENTS,
    });
  }
  return out;
}
