import { basSummary, capitalGainsReport, serializeReport, yearComputations } from './cgt-report';
import { at } from '../../../test/helpers/present';
import { buy, company, individual, sell, smsf, typedError } from './tax.fixtures';
import type { TaxHistory, TaxProfile } from './tax.types';

const $ = (dollars: number): bigint => BigInt(dollars) * 100n;

describe('capitalGainsReport', () => {
  it("reproduces the ATO Guide to capital gains tax worked example 'Net capital gain' (Kathleen): $1,260", () => {
    // Guide to CGT (2001–02 and later editions, step "Working out your net capital gain"):
    //   $3,000 discount gain (bought 17 Nov 1998, sold 17 Dec 2001); $520 gain held under 12 months
    //   (bought 10 Oct 2001, sold 27 Feb 2002); a $600 capital loss; a $400 net capital loss from earlier years.
    //   $520 − $600 = −$80; $3,000 − $80 = $2,920; $2,920 − $400 = $2,520; $2,520 × 50% = $1,260.
    const history: TaxHistory = {
      acquisitions: [
        buy('K1', '1998-11-17T12:00:00+11:00', 1_000_000n, $(3000)),
        buy('K3', '2001-08-01T12:00:00+10:00', 160_000n, $(1600)),
        buy('K2', '2001-10-10T12:00:00+10:00', 130_000n, $(520)),
      ],
      disposals: [
        sell('SK1', '2001-12-17T12:00:00+11:00', 1_000_000n, $(6000), 0n, { identification: { method: 'SPECIFIC', parcels: [{ parcelId: 'K1', sats: 1_000_000n }] } }),
        sell('SK2', '2002-02-27T12:00:00+11:00', 130_000n, $(1040), 0n, { identification: { method: 'SPECIFIC', parcels: [{ parcelId: 'K2', sats: 130_000n }] } }),
        sell('SK3', '2002-04-01T12:00:00+10:00', 160_000n, $(1000), 0n, { identification: { method: 'SPECIFIC', parcels: [{ parcelId: 'K3', sats: 160_000n }] } }),
      ],
    };
    const profile: TaxProfile = { ...individual, priorNetCapitalLosses: [{ lossYear: 2001, amountAudCents: $(400) }] };
    const r = capitalGainsReport(history, profile, 2002);
    expect(r.summary).toMatchObject({
      label: '2001-02',
      grossCapitalGainsAudCents: $(3520), // label H
      discountableGainsAudCents: $(3000),
      nonDiscountableGainsAudCents: $(520),
      currentYearCapitalLossesAudCents: $(600),
      currentYearLossesAppliedAudCents: { nonDiscountable: $(520), discountable: $(80) },
      priorLossesAppliedAudCents: { nonDiscountable: 0n, discountable: $(400) },
      discountableRemainingAudCents: $(2520),
      discountAudCents: $(1260),
      netCapitalGainAudCents: $(1260), // label A
      netCapitalLossCarriedForwardAudCents: 0n,
      cgtScheduleRequired: null,
    });
    expect(r.summary.priorLosses).toEqual([{ lossYear: 2001, availableAudCents: $(400), appliedAudCents: $(400), remainingAudCents: 0n, blocked: null }]);
    expect(r.disposals.map((d) => [d.disposalId, d.matches[0]?.heldAtLeast12Months, d.gainAudCents])).toEqual([
      ['SK1', true, $(3000)],
      ['SK2', false, $(520)],
      ['SK3', false, -$(600)],
    ]);
  });

  it('applies earlier net capital losses in the order made (ITAA 1997 s 102-15 example): $100 of the later loss carries forward', () => {
    // s 102-15 example: gains $1,000, losses $600 → $400; net capital losses $300 (last year) and $200 (the year before)
    // are applied oldest first: the $200 is extinguished, $200 of the $300 used, $100 carried forward.
    const history: TaxHistory = {
      acquisitions: [buy('G', '2023-08-01T12:00:00+10:00', 1_000_000n, $(1000)), buy('L', '2023-08-02T12:00:00+10:00', 1_000_000n, $(1000))],
      disposals: [sell('SG', '2023-09-01T12:00:00+10:00', 1_000_000n, $(2000)), sell('SL', '2023-09-02T12:00:00+10:00', 1_000_000n, $(400))],
    };
    const profile: TaxProfile = {
      ...individual,
      priorNetCapitalLosses: [
        { lossYear: 2023, amountAudCents: $(300) },
        { lossYear: 2022, amountAudCents: $(200) },
      ],
    };
    const s = capitalGainsReport(history, profile, 2024).summary;
    expect(s.priorLosses.map((l) => [l.lossYear, l.appliedAudCents, l.remainingAudCents])).toEqual([
      [2022, $(200), 0n],
      [2023, $(200), $(100)],
    ]);
    expect(s.netCapitalGainAudCents).toBe(0n);
    expect(s.carriedForward).toEqual([{ lossYear: 2023, amountAudCents: $(100), blocked: null }]);
  });

  describe('a company, an individual, a trust and an SMSF on the same history', () => {
    // P1 1,000,000 sats for 30,000c on 15 Jul 2022; P2 1,000,000 sats for 25,000c on 1 Sep 2023.
    // S1 20 Nov 2023: all 2,000,000 sats for 70,000c → P1 35,000 − 30,000 = 5,000 (held over 12 months),
    //                                                    P2 35,000 − 25,000 = 10,000 (under 12 months).
    // P3 500,000 sats for 20,000c on 1 Dec 2023, sold 1 Feb 2024 for 16,999c → a 3,001c loss.
    const history: TaxHistory = {
      acquisitions: [
        buy('P1', '2022-07-15T10:00:00+10:00', 1_000_000n, 30_000n),
        buy('P2', '2023-09-01T10:00:00+10:00', 1_000_000n, 25_000n),
        buy('P3', '2023-12-01T10:00:00+11:00', 500_000n, 20_000n),
      ],
      disposals: [sell('S1', '2023-11-20T10:00:00+11:00', 2_000_000n, 70_000n), sell('S2', '2024-02-01T10:00:00+11:00', 500_000n, 16_999n)],
    };

    it('individual: loss against the non-discountable gain first, then 50% off the rest', () => {
      // ND 10,000 − 3,001 = 6,999; D 5,000 × 50% = 2,500; net 6,999 + 2,500 = 9,499.
      expect(capitalGainsReport(history, individual, 2024).summary).toMatchObject({
        grossCapitalGainsAudCents: 15_000n,
        nonDiscountableRemainingAudCents: 6_999n,
        discountableRemainingAudCents: 5_000n,
        discountRate: { label: '1/2' },
        discountAudCents: 2_500n,
        netCapitalGainAudCents: 9_499n,
        cgtScheduleRequired: null,
      });
    });

    it('trust: the same 50% discount, and a CGT-schedule flag (false under $10,000)', () => {
      expect(capitalGainsReport(history, { entityType: 'TRUST', gstRegistered: false }, 2024).summary).toMatchObject({
        netCapitalGainAudCents: 9_499n,
        cgtScheduleRequired: false,
      });
    });

    it('SMSF: a third off, the discount rounded down to the cent', () => {
      // 5,000 / 3 = 1,666.67 → discount 1,666; net 6,999 + 5,000 − 1,666 = 10,333 (exact two-thirds would be 10,332.33).
      expect(capitalGainsReport(history, smsf, 2024).summary).toMatchObject({
        discountRate: { label: '1/3' },
        discountAudCents: 1_666n,
        netCapitalGainAudCents: 10_333n,
      });
    });

    it('company: no discount, every gain non-discountable', () => {
      // 15,000 − 3,001 = 11,999.
      const r = capitalGainsReport(history, company, 2024);
      expect(r.summary).toMatchObject({
        discountableGainsAudCents: 0n,
        nonDiscountableGainsAudCents: 15_000n,
        discountRate: { label: '0' },
        discountAudCents: 0n,
        netCapitalGainAudCents: 11_999n,
        cgtScheduleRequired: false,
      });
      // The parcel was still held 12 months; the company just cannot discount it.
      expect(r.disposals[0]?.matches.map((m) => [m.parcelId, m.heldAtLeast12Months, m.discountEligible])).toEqual([
        ['P1', true, false],
        ['P2', false, false],
      ]);
    });
  });

  describe('losses carried across years', () => {
    // FY2023: L1 bought 1 Aug 2022 for 100,000c, sold 1 Mar 2023 for 95,000c → a 5,000c net capital loss.
    // FY2024: L2 (1 Aug 2023, 10,000c) sold 10 Jan 2024 for 12,000c → 2,000 non-discountable;
    //         L0 (2 Aug 2022, 10,000c) sold 10 Feb 2024 for 16,000c → 6,000 discountable.
    const history: TaxHistory = {
      acquisitions: [
        buy('L1', '2022-08-01T12:00:00+10:00', 1_000_000n, 100_000n),
        buy('L0', '2022-08-02T12:00:00+10:00', 1_000_000n, 10_000n),
        buy('L2', '2023-08-01T12:00:00+10:00', 1_000_000n, 10_000n),
      ],
      disposals: [
        sell('S1', '2023-03-01T12:00:00+11:00', 1_000_000n, 95_000n),
        sell('S2', '2024-01-10T12:00:00+11:00', 1_000_000n, 12_000n, 0n, { identification: { method: 'SPECIFIC', parcels: [{ parcelId: 'L2', sats: 1_000_000n }] } }),
        sell('S3', '2024-02-10T12:00:00+11:00', 1_000_000n, 16_000n, 0n, { identification: { method: 'SPECIFIC', parcels: [{ parcelId: 'L0', sats: 1_000_000n }] } }),
      ],
    };

    it('a net capital loss carries into the next year and is used before the discount', () => {
      const fy23 = capitalGainsReport(history, individual, 2023).summary;
      expect(fy23).toMatchObject({ netCapitalGainAudCents: 0n, netCapitalLossOfYearAudCents: 5_000n, carriedForward: [{ lossYear: 2023, amountAudCents: 5_000n, blocked: null }] });
      // FY2024: the 5,000 loss takes ND 2,000 then D 3,000; D 3,000 × 50% = 1,500 net.
      const fy24 = capitalGainsReport(history, individual, 2024).summary;
      expect(fy24).toMatchObject({
        priorLossesAppliedAudCents: { nonDiscountable: 2_000n, discountable: 3_000n },
        discountAudCents: 1_500n,
        netCapitalGainAudCents: 1_500n,
        carriedForward: [],
      });
      // Applying the loss to discountable gains first instead: D 6,000 − 5,000 = 1,000 → 500 after discount; + ND 2,000 = 2,500 (worse).
      expect(capitalGainsReport(history, { ...individual, lossOrder: 'DISCOUNTABLE_FIRST' }, 2024).summary.netCapitalGainAudCents).toBe(2_500n);
    });

    it('with no time limit: a loss too big for one year keeps carrying through empty years', () => {
      const big: TaxHistory = { ...history, disposals: [{ ...at(history.disposals, 0), proceedsAudCents: 50_000n }, ...history.disposals.slice(1)] };
      // FY2023 loss 50,000; FY2024 uses 8,000 (all gains) → 42,000 left; FY2025 and FY2026 have no disposals.
      const years = yearComputations(big, individual, 2026);
      expect(years.map((y) => [y.financialYear, y.netCapitalGainAudCents, y.netCapitalLossCarriedForwardAudCents])).toEqual([
        [2023, 0n, 50_000n],
        [2024, 0n, 42_000n],
        [2025, 0n, 42_000n],
        [2026, 0n, 42_000n],
      ]);
    });
  });

  describe("a company's earlier losses need the continuity of ownership or business continuity test", () => {
    const history: TaxHistory = {
      acquisitions: [buy('P', '2023-08-01T12:00:00+10:00', 1_000_000n, 100_000n)],
      disposals: [sell('S', '2023-09-01T12:00:00+10:00', 1_000_000n, 200_000n)],
    };
    const withLoss = (extra: Partial<TaxProfile>): TaxProfile => ({ ...company, priorNetCapitalLosses: [{ lossYear: 2023, amountAudCents: 50_000n }], ...extra });

    it('no record, or both tests failed: the loss is blocked and stays carried forward, and the report says why', () => {
      const none = capitalGainsReport(history, withLoss({}), 2024).summary;
      expect(none).toMatchObject({ netCapitalGainAudCents: 100_000n, carriedForward: [{ lossYear: 2023, amountAudCents: 50_000n, blocked: 'LOSS_TEST_NOT_RECORDED' }] });
      expect(none.priorLosses).toEqual([{ lossYear: 2023, availableAudCents: 50_000n, appliedAudCents: 0n, remainingAudCents: 50_000n, blocked: 'LOSS_TEST_NOT_RECORDED' }]);
      const failed = capitalGainsReport(history, withLoss({ companyLossTests: [{ lossYear: 2023, cotMet: false, bctMet: false }] }), 2024).summary;
      expect(failed.carriedForward).toEqual([{ lossYear: 2023, amountAudCents: 50_000n, blocked: 'COT_AND_BCT_NOT_MET' }]);
    });

    it('either test met: the loss is applied (100,000 − 50,000)', () => {
      for (const t of [
        { lossYear: 2023, cotMet: true, bctMet: false },
        { lossYear: 2023, cotMet: false, bctMet: true },
      ]) {
        expect(capitalGainsReport(history, withLoss({ companyLossTests: [t] }), 2024).summary).toMatchObject({ netCapitalGainAudCents: 50_000n, carriedForward: [] });
      }
    });

    it('loss-test records belong to companies only', () => {
      expect(typedError(() => capitalGainsReport(history, { ...individual, companyLossTests: [{ lossYear: 2023, cotMet: true, bctMet: true }] }, 2024)).reason).toBe('INVALID_PROFILE');
    });
  });

  it('CGT schedule: companies, trusts and funds with gains or losses over $10,000', () => {
    const gain = (cents: bigint): TaxHistory => ({
      acquisitions: [buy('P', '2023-08-01T12:00:00+10:00', 1_000n, 0n)],
      disposals: [sell('S', '2023-09-01T12:00:00+10:00', 1_000n, cents)],
    });
    expect(capitalGainsReport(gain(1_000_000n), company, 2024).summary.cgtScheduleRequired).toBe(false); // exactly $10,000
    expect(capitalGainsReport(gain(1_000_001n), company, 2024).summary.cgtScheduleRequired).toBe(true);
    const loss: TaxHistory = {
      acquisitions: [buy('P', '2023-08-01T12:00:00+10:00', 1_000n, 1_000_001n)],
      disposals: [sell('S', '2023-09-01T12:00:00+10:00', 1_000n, 0n)],
    };
    expect(capitalGainsReport(loss, company, 2024).summary.cgtScheduleRequired).toBe(true);
    expect(capitalGainsReport(gain(1_000_001n), individual, 2024).summary.cgtScheduleRequired).toBeNull();
  });

  describe('the financial-year boundary in the tenant timezone', () => {
    // S1 at 23:59:59 on 30 June (AEST), S2 at 00:00 on 1 July AEST — which is still 30 June 14:00 in UTC and 22:00 in Perth.
    const history: TaxHistory = {
      acquisitions: [buy('B', '2024-01-10T12:00:00+11:00', 1_000_000n, 100_000n)],
      disposals: [sell('S1', '2024-06-30T23:59:59+10:00', 100_000n, 20_000n), sell('S2', '2024-07-01T00:00:00+10:00', 100_000n, 30_000n)],
    };

    it('Sydney: S1 is in 2023–24, S2 in 2024–25; the year-end inventory is before S2', () => {
      const fy24 = capitalGainsReport(history, individual, 2024);
      expect(fy24.disposals.map((d) => [d.disposalId, d.disposedOn])).toEqual([['S1', '2024-06-30']]);
      // 100,000 of 1,000,000 sats: cost 10,000, gain 20,000 − 10,000 = 10,000.
      expect(fy24.summary.netCapitalGainAudCents).toBe(10_000n);
      expect(fy24.inventoryAtYearEnd.map((p) => [p.id, p.sats, p.costBaseAudCents])).toEqual([['B', 900_000n, 90_000n]]);
      const fy25 = capitalGainsReport(history, individual, 2025);
      expect(fy25.disposals.map((d) => [d.disposalId, d.disposedOn, d.financialYear])).toEqual([['S2', '2024-07-01', 2025]]);
      expect(fy25.summary.netCapitalGainAudCents).toBe(20_000n); // 30,000 − 10,000
    });

    it('Perth: both sales fall on 30 June, so both are in 2023–24', () => {
      const perth = { ...individual, timeZone: 'Australia/Perth' };
      expect(capitalGainsReport(history, perth, 2024).disposals.map((d) => [d.disposalId, d.disposedOn])).toEqual([
        ['S1', '2024-06-30'],
        ['S2', '2024-06-30'],
      ]);
      expect(capitalGainsReport(history, perth, 2024).summary.netCapitalGainAudCents).toBe(30_000n);
    });
  });

  it('flags unknown acquisition history in the report and marks it incomplete', () => {
    const r = capitalGainsReport(
      {
        acquisitions: [buy('P', '2024-01-10T12:00:00+11:00', 100_000n, 5_000n)],
        disposals: [sell('X', '2024-02-10T12:00:00+11:00', 150_000n, 9_000n, 0n, { source: 'IMPORT' })],
      },
      individual,
      2024,
    );
    expect(r.complete).toBe(false);
    expect(r.flags).toEqual([{ code: 'UNKNOWN_ACQUISITION_HISTORY', disposalId: 'X', sats: 50_000n }]);
    // The unknown 50,000 sats are counted with a zero cost base, never silently: 6,000 − 5,000 + 3,000 = 4,000 gain.
    expect(r.summary.grossCapitalGainsAudCents).toBe(4_000n);
  });

  it('is deterministic: the same facts in any order serialise to the same bytes, and stay the same on re-run', () => {
    const history: TaxHistory = {
      acquisitions: [buy('A', '2024-01-10T12:00:00+11:00', 100_000n, 5_000n), buy('B', '2024-01-10T12:00:00+11:00', 100_000n, 7_000n)],
      disposals: [sell('S1', '2024-02-10T12:00:00+11:00', 150_000n, 9_000n), sell('S0', '2024-02-10T12:00:00+11:00', 10_000n, 900n)],
    };
    const reversed: TaxHistory = { acquisitions: [...history.acquisitions].reverse(), disposals: [...history.disposals].reverse() };
    const a = serializeReport(capitalGainsReport(history, individual, 2024));
    expect(serializeReport(capitalGainsReport(reversed, individual, 2024))).toBe(a);
    expect(serializeReport(capitalGainsReport(history, individual, 2024))).toBe(a);
    // Same instant: ids order the events, so S0 takes from A first.
    expect(capitalGainsReport(history, individual, 2024).disposals.map((d) => d.disposalId)).toEqual(['S0', 'S1']);
    expect(a).toContain('"netCapitalGainAudCents":"');
    expect(a).toContain('"at":"2024-02-10T01:00:00.000Z"');
  });

  it('refuses a bad financial year', () => {
    expect(typedError(() => capitalGainsReport({ acquisitions: [], disposals: [] }, individual, 24)).reason).toBe('INVALID_FINANCIAL_YEAR');
  });
});

describe('basSummary: GST on fees by quarter', () => {
  // A1 Q1: $1.10 GST-inclusive → 10c; A2 Q2: $1.05 inclusive → 105/11 = 9.55 → 10c; D1 Q3: 55c with 5c recorded;
  // A3 Q4: a $2.00 fee with no GST. Buying and selling the bitcoin itself carries no GST.
  const history: TaxHistory = {
    acquisitions: [
      buy('A1', '2024-08-05T12:00:00+10:00', 1_000_000n, 100_000n, 110n, { feeGstInclusive: true }),
      buy('A2', '2024-11-05T12:00:00+11:00', 1_000_000n, 100_000n, 105n, { feeGstInclusive: true }),
      buy('A3', '2025-05-05T12:00:00+10:00', 1_000_000n, 100_000n, 200n),
    ],
    disposals: [sell('D1', '2025-02-05T12:00:00+11:00', 500_000n, 60_000n, 55n, { feeGstAudCents: 5n })],
  };

  it('a registered company claims each quarter’s fee GST', () => {
    const bas = basSummary(history, company, 2025);
    expect(bas.gstOnBitcoinSuppliesAudCents).toBe(0n);
    expect(bas.quarters.map((q) => [q.label, q.totalFeesAudCents, q.totalGstAudCents, q.inputTaxCreditsAudCents])).toEqual([
      ['Jul–Sep 2024', 110n, 10n, 10n],
      ['Oct–Dec 2024', 105n, 10n, 10n],
      ['Jan–Mar 2025', 55n, 5n, 5n],
      ['Apr–Jun 2025', 200n, 0n, 0n],
    ]);
    expect(bas.quarters.flatMap((q) => q.fees.map((f) => [f.eventId, f.gstStatus]))).toEqual([
      ['A1', 'DERIVED'],
      ['A2', 'DERIVED'],
      ['D1', 'RECORDED'],
      ['A3', 'NONE'],
    ]);
    expect(capitalGainsReport(history, company, 2025).bas).toEqual(bas);
  });

  it('an unregistered tenant sees the GST but claims none', () => {
    const bas = basSummary(history, individual, 2025);
    expect(bas.quarters.map((q) => [q.totalGstAudCents, q.inputTaxCreditsAudCents])).toEqual([
      [10n, 0n],
      [10n, 0n],
      [5n, 0n],
      [0n, 0n],
    ]);
  });
});
