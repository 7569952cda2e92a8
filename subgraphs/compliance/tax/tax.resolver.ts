import { Arg, Ctx, Field, ID, InputType, Int, Mutation, ObjectType, Query, Resolver, registerEnumType } from 'type-graphql';
import { AudCentsScalar, SatoshisScalar } from '../../../lib/money';
import type { SubgraphContext } from '../../../lib/subgraph';
import { financialYearLabel, parseFinancialYear } from './tax-calendar';
import { TaxErrorReason, badTaxInput } from './tax-errors';
import {
  adjustCostBase,
  changeDisposalIdentification,
  closeFinancialYear,
  getTaxProfile,
  importTaxHistory,
  recordTaxDisposal,
  setTaxProfile,
  taxDisposals,
  taxParcels,
  taxReport,
} from './tax.service';
import type { CapitalGainsReport, DisposalResult, Identification, TaxProfile } from './tax.types';

/** The tax ledger's API (compliance subgraph): tax:read for queries, tax:write for mutations. */

enum TaxEntityType {
  COMPANY = 'COMPANY',
  INDIVIDUAL = 'INDIVIDUAL',
  TRUST = 'TRUST',
  SMSF = 'SMSF',
}
registerEnumType(TaxEntityType, { name: 'TaxEntityType', description: 'COMPANY: no CGT discount; INDIVIDUAL and TRUST: 50%; SMSF: 33⅓%.' });

enum TaxLossOrder {
  NON_DISCOUNTABLE_FIRST = 'NON_DISCOUNTABLE_FIRST',
  DISCOUNTABLE_FIRST = 'DISCOUNTABLE_FIRST',
}
registerEnumType(TaxLossOrder, { name: 'TaxLossOrder', description: 'Which gains capital losses reduce first.' });

enum TaxIdentificationMethod {
  FIFO = 'FIFO',
  SPECIFIC = 'SPECIFIC',
  HIGHEST_COST_FIRST = 'HIGHEST_COST_FIRST',
  LOWEST_COST_FIRST = 'LOWEST_COST_FIRST',
  LIFO = 'LIFO',
  SAME_DAY_AVERAGE = 'SAME_DAY_AVERAGE',
}
registerEnumType(TaxIdentificationMethod, { name: 'TaxIdentificationMethod', description: 'How a disposal chooses its parcels (TD 33).' });

enum TaxRecordedDisposalType {
  SPEND = 'SPEND',
  FEE = 'FEE',
}
registerEnumType(TaxRecordedDisposalType, {
  name: 'TaxRecordedDisposalType',
  description: 'SPEND: bitcoin given for goods or services; FEE: bitcoin paid as a fee. Sales come from treasury.',
});

@ObjectType('TaxCompanyLossTest')
@InputType('TaxCompanyLossTestInput')
class TaxCompanyLossTestGql {
  @Field(() => Int, { description: 'The loss year (the year it ends in, e.g. 2024 for 2023-24).' }) lossYear!: number;
  @Field(() => Boolean, { description: 'Continuity of ownership test met.' }) cotMet!: boolean;
  @Field(() => Boolean, { description: 'Business continuity test met.' }) bctMet!: boolean;
  @Field(() => String, { nullable: true }) note?: string;
}

@ObjectType('TaxPriorNetCapitalLoss')
@InputType('TaxPriorNetCapitalLossInput')
class TaxPriorLossGql {
  @Field(() => Int, { description: 'The loss year (the year it ends in).' }) lossYear!: number;
  @Field(() => AudCentsScalar) amountAudCents!: bigint;
}

@ObjectType('TaxProfile', { description: 'How the tenant’s capital gains are computed.' })
class TaxProfileGql {
  @Field(() => TaxEntityType) entityType!: TaxEntityType;
  @Field(() => Boolean) gstRegistered!: boolean;
  @Field(() => String, { description: 'IANA zone of local dates (held days, financial years).' }) timeZone!: string;
  @Field(() => TaxLossOrder) lossOrder!: TaxLossOrder;
  @Field(() => [TaxCompanyLossTestGql]) companyLossTests!: TaxCompanyLossTestGql[];
  @Field(() => [TaxPriorLossGql]) priorNetCapitalLosses!: TaxPriorLossGql[];
  @Field(() => String, { nullable: true, description: 'Every financial year up to this one (e.g. "2023-24") is closed.' }) closedThroughYear!: string | null;
  @Field(() => Boolean, { description: 'False until setTaxProfile: a COMPANY (no discount) is assumed.' }) configured!: boolean;
}

@ObjectType('TaxParcel', { description: 'Bitcoin acquired in one fill or imported acquisition, as held at some instant.' })
export class TaxParcelGql {
  @Field(() => ID) id!: string;
  @Field(() => String) acquisitionId!: string;
  @Field(() => String, { description: 'PURCHASE_FILL, IMPORT or MANUAL.' }) source!: string;
  @Field(() => String) exchange!: string;
  @Field(() => String) wallet!: string;
  @Field(() => ID, { nullable: true }) purchaseId!: string | null;
  @Field(() => String, { nullable: true }) fillId!: string | null;
  @Field(() => Date) acquiredAt!: Date;
  @Field(() => String, { description: 'Acquisition date in the tenant’s timezone (YYYY-MM-DD).' }) acquiredOn!: string;
  @Field(() => SatoshisScalar) sats!: bigint;
  @Field(() => AudCentsScalar) costBaseAudCents!: bigint;
  @Field(() => Boolean) costBaseAdjusted!: boolean;
}

@ObjectType('TaxParcelChoice')
class TaxParcelChoiceGql {
  @Field(() => String) parcelId!: string;
  @Field(() => SatoshisScalar) sats!: bigint;
}

@InputType('TaxParcelChoiceInput')
class TaxParcelChoiceInput {
  @Field(() => String) parcelId!: string;
  @Field(() => SatoshisScalar) sats!: bigint;
}

@ObjectType('TaxIdentification', { description: 'The parcel choice recorded with a disposal.' })
class TaxIdentificationGql {
  @Field(() => TaxIdentificationMethod) method!: TaxIdentificationMethod;
  @Field(() => [TaxParcelChoiceGql], { nullable: true, description: 'SPECIFIC: the parcels named.' }) parcels!: TaxParcelChoiceGql[] | null;
  @Field(() => Date, { nullable: true, description: 'Named strategies: when it was chosen (at or before the disposal).' }) chosenAt!: Date | null;
  @Field(() => String, { nullable: true, description: 'SAME_DAY_AVERAGE: the acquisition day pooled.' }) acquiredOn!: string | null;
}

@InputType('TaxIdentificationInput')
class TaxIdentificationInput {
  @Field(() => TaxIdentificationMethod) method!: TaxIdentificationMethod;
  @Field(() => [TaxParcelChoiceInput], { nullable: true }) parcels?: TaxParcelChoiceInput[] | null;
  @Field(() => Date, { nullable: true }) chosenAt?: Date | null;
  @Field(() => String, { nullable: true }) acquiredOn?: string | null;
}

@ObjectType('TaxParcelMatch', { description: 'The part of one parcel a disposal used (a worksheet row).' })
class TaxParcelMatchGql {
  @Field(() => String, { nullable: true, description: 'Null when no acquisition history was found (flagged).' }) parcelId!: string | null;
  @Field(() => String, { nullable: true }) acquisitionId!: string | null;
  @Field(() => Date, { nullable: true }) acquiredAt!: Date | null;
  @Field(() => String, { nullable: true }) acquiredOn!: string | null;
  @Field(() => SatoshisScalar) sats!: bigint;
  @Field(() => AudCentsScalar) costBaseAudCents!: bigint;
  @Field(() => AudCentsScalar) proceedsAudCents!: bigint;
  @Field(() => AudCentsScalar, { description: 'Proceeds − cost base; negative is a capital loss.' }) gainAudCents!: bigint;
  @Field(() => Int, { nullable: true, description: 'Whole days held, both the acquisition and the disposal day excluded.' }) heldDays!: number | null;
  @Field(() => Boolean) heldAtLeast12Months!: boolean;
  @Field(() => Boolean) discountEligible!: boolean;
  @Field(() => Boolean) unknownHistory!: boolean;
}

@ObjectType('TaxDisposal', { description: 'A CGT event A1 (sale, spend, fee) as the ledger matched it to parcels.' })
class TaxDisposalGql {
  @Field(() => ID) id!: string;
  @Field(() => String, { description: 'SALE, SPEND or FEE.' }) type!: string;
  @Field(() => String, { description: 'PLATFORM or IMPORT.' }) source!: string;
  @Field(() => String, { nullable: true }) transferId!: string | null;
  @Field(() => Date) at!: Date;
  @Field(() => String) disposedOn!: string;
  @Field(() => String, { description: 'e.g. "2024-25".' }) financialYear!: string;
  @Field(() => SatoshisScalar) sats!: bigint;
  @Field(() => AudCentsScalar) grossProceedsAudCents!: bigint;
  @Field(() => AudCentsScalar) feeAudCents!: bigint;
  @Field(() => AudCentsScalar) feeItcAudCents!: bigint;
  @Field(() => AudCentsScalar, { description: 'Capital proceeds (net of selling costs).' }) proceedsAudCents!: bigint;
  @Field(() => TaxIdentificationGql) identification!: TaxIdentificationGql;
  @Field(() => [TaxParcelMatchGql]) matches!: TaxParcelMatchGql[];
  @Field(() => AudCentsScalar) costBaseAudCents!: bigint;
  @Field(() => AudCentsScalar) gainAudCents!: bigint;
  @Field(() => AudCentsScalar) capitalGainAudCents!: bigint;
  @Field(() => AudCentsScalar) capitalLossAudCents!: bigint;
  @Field(() => [String], { description: 'e.g. UNKNOWN_ACQUISITION_HISTORY.' }) flags!: string[];
}

@ObjectType('TaxLossSplit')
class TaxLossSplitGql {
  @Field(() => AudCentsScalar) nonDiscountable!: bigint;
  @Field(() => AudCentsScalar) discountable!: bigint;
}

@ObjectType('TaxPriorLossApplication')
class TaxPriorLossApplicationGql {
  @Field(() => Int) lossYear!: number;
  @Field(() => AudCentsScalar) availableAudCents!: bigint;
  @Field(() => AudCentsScalar) appliedAudCents!: bigint;
  @Field(() => AudCentsScalar) remainingAudCents!: bigint;
  @Field(() => String, { nullable: true, description: 'Companies: LOSS_TEST_NOT_RECORDED or COT_AND_BCT_NOT_MET.' }) blocked!: string | null;
}

@ObjectType('TaxCarriedLoss')
class TaxCarriedLossGql {
  @Field(() => Int) lossYear!: number;
  @Field(() => AudCentsScalar) amountAudCents!: bigint;
  @Field(() => String, { nullable: true }) blocked!: string | null;
}

@ObjectType('CapitalGainsSummary', { description: 'The year’s net capital gain (s 102-5) with losses and the discount.' })
class CapitalGainsSummaryGql {
  @Field(() => String) startDate!: string;
  @Field(() => String) endDate!: string;
  @Field(() => AudCentsScalar, { description: 'Total current year capital gains (label H).' }) grossCapitalGainsAudCents!: bigint;
  @Field(() => AudCentsScalar) discountableGainsAudCents!: bigint;
  @Field(() => AudCentsScalar) nonDiscountableGainsAudCents!: bigint;
  @Field(() => AudCentsScalar) currentYearCapitalLossesAudCents!: bigint;
  @Field(() => TaxLossSplitGql) currentYearLossesAppliedAudCents!: TaxLossSplitGql;
  @Field(() => [TaxPriorLossApplicationGql]) priorLosses!: TaxPriorLossApplicationGql[];
  @Field(() => TaxLossSplitGql, { description: 'Carried-forward losses applied this year.' }) priorLossesAppliedAudCents!: TaxLossSplitGql;
  @Field(() => String, { description: '"0", "1/2" or "1/3".' }) discountRate!: string;
  @Field(() => AudCentsScalar) discountAudCents!: bigint;
  @Field(() => AudCentsScalar, { description: 'Net capital gain (label A).' }) netCapitalGainAudCents!: bigint;
  @Field(() => AudCentsScalar) netCapitalLossOfYearAudCents!: bigint;
  @Field(() => [TaxCarriedLossGql]) carriedForward!: TaxCarriedLossGql[];
  @Field(() => AudCentsScalar, { description: 'Net capital losses carried forward to later years (label V).' }) netCapitalLossCarriedForwardAudCents!: bigint;
  @Field(() => Boolean, { nullable: true, description: 'Companies, trusts, funds: a CGT schedule is needed (over $10,000). Null for individuals.' })
  cgtScheduleRequired!: boolean | null;
}

@ObjectType('TaxCostBaseAdjustment', { description: 'An audited cost-base edit.' })
class TaxCostBaseAdjustmentGql {
  @Field(() => ID) id!: string;
  @Field(() => String) parcelId!: string;
  @Field(() => Date) effectiveAt!: Date;
  @Field(() => Date) recordedAt!: Date;
  @Field(() => SatoshisScalar) sats!: bigint;
  @Field(() => AudCentsScalar) previousCostBaseAudCents!: bigint;
  @Field(() => AudCentsScalar) costBaseAudCents!: bigint;
  @Field(() => String) reason!: string;
  @Field(() => ID, { nullable: true }) actorId!: string | null;
}

@ObjectType('TaxReportFlag')
class TaxReportFlagGql {
  @Field(() => String, {
    description:
      'UNKNOWN_ACQUISITION_HISTORY: sats disposed with no acquisition found (cost base 0). LATE_FACT_IN_CLOSED_YEAR: a fill or sale dated in this closed year but recorded after it closed; the report stays as lodged, the fact needs an amendment.',
  })
  code!: string;
  @Field(() => String, { description: 'The disposal (for LATE_FACT_IN_CLOSED_YEAR: the late acquisition or disposal).' }) disposalId!: string;
  @Field(() => SatoshisScalar) sats!: bigint;
}

@ObjectType('TaxBasQuarter', { description: 'GST on fees in one BAS quarter (buying or selling bitcoin is not a taxable supply).' })
class TaxBasQuarterGql {
  @Field(() => Int) quarter!: number;
  @Field(() => String) label!: string;
  @Field(() => String) startDate!: string;
  @Field(() => String) endDate!: string;
  @Field(() => AudCentsScalar) totalFeesAudCents!: bigint;
  @Field(() => AudCentsScalar) totalGstAudCents!: bigint;
  @Field(() => AudCentsScalar) inputTaxCreditsAudCents!: bigint;
}

@ObjectType('CapitalGainsReport', { description: 'A financial year’s capital gains under ATO rules, exact to the cent.' })
class CapitalGainsReportGql {
  @Field(() => String, { description: 'e.g. "2024-25" (1 July 2024 – 30 June 2025).' }) financialYear!: string;
  @Field(() => String) timeZone!: string;
  @Field(() => TaxEntityType) entityType!: TaxEntityType;
  @Field(() => Boolean) gstRegistered!: boolean;
  @Field(() => Boolean, { description: 'The year is closed: these numbers never change.' }) closed!: boolean;
  @Field(() => Boolean, { description: 'False when a disposal found no acquisition history (see flags).' }) complete!: boolean;
  @Field(() => CapitalGainsSummaryGql) summary!: CapitalGainsSummaryGql;
  @Field(() => [TaxDisposalGql], { description: 'The worksheet: each disposal of the year with the parcels it matched.' }) worksheet!: TaxDisposalGql[];
  @Field(() => [TaxParcelGql]) inventoryAtYearEnd!: TaxParcelGql[];
  @Field(() => [TaxCostBaseAdjustmentGql]) adjustments!: TaxCostBaseAdjustmentGql[];
  @Field(() => [TaxReportFlagGql]) flags!: TaxReportFlagGql[];
  @Field(() => [TaxBasQuarterGql]) basQuarters!: TaxBasQuarterGql[];
}

@ObjectType('TaxHistoryImport')
class TaxHistoryImportGql {
  @Field(() => ID) batchId!: string;
  @Field(() => Int) acquisitions!: number;
  @Field(() => Int) disposals!: number;
  @Field(() => [String], { description: 'Imported disposals flagged UNKNOWN_ACQUISITION_HISTORY.' }) flaggedDisposalIds!: string[];
}

// ---- kernel → GraphQL

function identificationGql(i: Identification): TaxIdentificationGql {
  const base = { parcels: null, chosenAt: null, acquiredOn: null };
  switch (i.method) {
    case 'FIFO':
      return { ...base, method: TaxIdentificationMethod.FIFO };
    case 'SPECIFIC':
      return { ...base, method: TaxIdentificationMethod.SPECIFIC, parcels: i.parcels.map((p) => ({ parcelId: p.parcelId, sats: p.sats })) };
    case 'SAME_DAY_AVERAGE':
      return { ...base, method: TaxIdentificationMethod.SAME_DAY_AVERAGE, acquiredOn: i.acquiredOn ?? null };
    default:
      return { ...base, method: TaxIdentificationMethod[i.method], chosenAt: i.chosenAt };
  }
}

function identificationOf(input: TaxIdentificationInput): Identification {
  const bad = (message: string): never => {
    throw badTaxInput(TaxErrorReason.INVALID_IDENTIFICATION, message, { field: 'identification' });
  };
  switch (input.method) {
    case TaxIdentificationMethod.FIFO:
      return { method: 'FIFO' };
    case TaxIdentificationMethod.SPECIFIC:
      if (!input.parcels || input.parcels.length === 0) return bad('SPECIFIC needs parcels');
      return { method: 'SPECIFIC', parcels: input.parcels.map((p) => ({ parcelId: p.parcelId, sats: p.sats })) };
    case TaxIdentificationMethod.SAME_DAY_AVERAGE:
      return input.acquiredOn ? { method: 'SAME_DAY_AVERAGE', acquiredOn: input.acquiredOn } : { method: 'SAME_DAY_AVERAGE' };
    default:
      if (!input.chosenAt) return bad(`${input.method} needs chosenAt (when the strategy was chosen)`);
      return { method: input.method, chosenAt: input.chosenAt };
  }
}

const disposalGql = (d: DisposalResult): TaxDisposalGql => ({
  ...d,
  id: d.disposalId,
  financialYear: financialYearLabel(d.financialYear),
  identification: identificationGql(d.identification),
});

function profileGql(p: TaxProfile, configured: boolean): TaxProfileGql {
  return {
    entityType: TaxEntityType[p.entityType],
    gstRegistered: p.gstRegistered,
    timeZone: p.timeZone ?? 'Australia/Sydney',
    lossOrder: TaxLossOrder[p.lossOrder ?? 'NON_DISCOUNTABLE_FIRST'],
    companyLossTests: (p.companyLossTests ?? []).map((t) => ({ ...t })),
    priorNetCapitalLosses: (p.priorNetCapitalLosses ?? []).map((l) => ({ ...l })),
    closedThroughYear: p.closedThroughYear === undefined ? null : financialYearLabel(p.closedThroughYear),
    configured,
  };
}

function reportGql(r: CapitalGainsReport): CapitalGainsReportGql {
  return {
    financialYear: r.label,
    timeZone: r.timeZone,
    entityType: TaxEntityType[r.entityType],
    gstRegistered: r.gstRegistered,
    closed: r.closed,
    complete: r.complete,
    summary: { ...r.summary, discountRate: r.summary.discountRate.label },
    worksheet: r.disposals.map(disposalGql),
    inventoryAtYearEnd: r.inventoryAtYearEnd,
    adjustments: r.adjustments.map((a) => ({ ...a, actorId: a.actorId ?? null })),
    flags: r.flags,
    basQuarters: r.bas.quarters,
  };
}

type Ctx = SubgraphContext;

@Resolver()
export class TaxResolver {
  @Query(() => TaxProfileGql, { description: 'The caller’s tenant’s tax profile.' })
  async taxProfile(@Ctx() ctx: Ctx): Promise<TaxProfileGql> {
    const scope = ctx.gate.require(ctx, 'tax:read');
    const { profile, configured } = await scope.tx((tx) => getTaxProfile(tx));
    return profileGql(profile, configured);
  }

  @Query(() => [TaxParcelGql], { description: 'Parcels held at an instant (inclusive; default now), oldest first.' })
  async parcels(@Ctx() ctx: Ctx, @Arg('asOf', () => Date, { nullable: true }) asOf?: Date | null): Promise<TaxParcelGql[]> {
    const scope = ctx.gate.require(ctx, 'tax:read');
    return scope.tx((tx) => taxParcels(tx, asOf ?? tx.now));
  }

  @Query(() => CapitalGainsReportGql, { description: 'The capital gains of a financial year, e.g. "2024-25".' })
  async capitalGainsReport(@Ctx() ctx: Ctx, @Arg('financialYear', () => String) financialYear: string): Promise<CapitalGainsReportGql> {
    const scope = ctx.gate.require(ctx, 'tax:read');
    const fy = parseFinancialYear(financialYear);
    return reportGql(await scope.tx((tx) => taxReport(tx, fy)));
  }

  @Query(() => [TaxDisposalGql], { description: 'Disposals as matched to parcels, oldest first; only one year’s when given.' })
  async taxDisposals(@Ctx() ctx: Ctx, @Arg('financialYear', () => String, { nullable: true }) financialYear?: string | null): Promise<TaxDisposalGql[]> {
    const scope = ctx.gate.require(ctx, 'tax:read');
    const fy = financialYear ? parseFinancialYear(financialYear) : undefined;
    return (await scope.tx((tx) => taxDisposals(tx, fy))).map(disposalGql);
  }

  @Mutation(() => TaxProfileGql, { description: 'Sets the tax profile; refused (YEAR_CLOSED) when it would change a closed year.' })
  async setTaxProfile(
    @Ctx() ctx: Ctx,
    @Arg('entityType', () => TaxEntityType) entityType: TaxEntityType,
    @Arg('gstRegistered', () => Boolean) gstRegistered: boolean,
    @Arg('timeZone', () => String, { nullable: true }) timeZone?: string | null,
    @Arg('lossOrder', () => TaxLossOrder, { nullable: true }) lossOrder?: TaxLossOrder | null,
    @Arg('companyLossTests', () => [TaxCompanyLossTestGql], { nullable: true }) companyLossTests?: TaxCompanyLossTestGql[] | null,
    @Arg('priorNetCapitalLosses', () => [TaxPriorLossGql], { nullable: true }) priorNetCapitalLosses?: TaxPriorLossGql[] | null,
  ): Promise<TaxProfileGql> {
    const scope = ctx.gate.require(ctx, 'tax:write');
    const saved = await scope.tx((tx) =>
      setTaxProfile(tx, scope.userId, {
        entityType,
        gstRegistered,
        timeZone: timeZone ?? null,
        lossOrder: lossOrder ?? null,
        companyLossTests: companyLossTests?.map((t) => (t.note === undefined || t.note === null ? { lossYear: t.lossYear, cotMet: t.cotMet, bctMet: t.bctMet } : { ...t })) ?? null,
        priorNetCapitalLosses: priorNetCapitalLosses?.map((l) => ({ lossYear: l.lossYear, amountAudCents: l.amountAudCents })) ?? null,
      }),
    );
    return profileGql(saved, true);
  }

  @Mutation(() => TaxHistoryImportGql, {
    description: 'Imports acquisitions and disposals from another exchange (history CSV, see the tax README): all or nothing; CSV_INVALID names each bad line.',
  })
  async importTaxHistory(@Ctx() ctx: Ctx, @Arg('csv', () => String) csv: string): Promise<TaxHistoryImportGql> {
    const scope = ctx.gate.require(ctx, 'tax:write');
    return scope.tx((tx) => importTaxHistory(tx, scope.userId, csv));
  }

  @Mutation(() => TaxCostBaseAdjustmentGql, { description: 'Edits a parcel’s cost base with a reason (audited); by default for the whole parcel.' })
  async adjustCostBase(
    @Ctx() ctx: Ctx,
    @Arg('parcelId', () => String) parcelId: string,
    @Arg('costAudCents', () => AudCentsScalar) costAudCents: bigint,
    @Arg('reason', () => String) reason: string,
    @Arg('effectiveAt', () => Date, { nullable: true }) effectiveAt?: Date | null,
  ): Promise<TaxCostBaseAdjustmentGql> {
    const scope = ctx.gate.require(ctx, 'tax:write');
    const a = await scope.tx((tx) => adjustCostBase(tx, scope.userId, { parcelId, costAudCents, reason, effectiveAt: effectiveAt ?? null }));
    return { ...a, actorId: a.actorId ?? null };
  }

  @Mutation(() => TaxDisposalGql, { description: 'Records bitcoin spent on goods or services, or paid as a fee, at market value.' })
  async recordDisposal(
    @Ctx() ctx: Ctx,
    @Arg('type', () => TaxRecordedDisposalType) type: TaxRecordedDisposalType,
    @Arg('sats', () => SatoshisScalar) sats: bigint,
    @Arg('marketValueAudCents', () => AudCentsScalar) marketValueAudCents: bigint,
    @Arg('at', () => Date) at: Date,
    @Arg('identification', () => TaxIdentificationInput, { nullable: true }) identification?: TaxIdentificationInput | null,
    @Arg('wallet', () => String, { nullable: true }) wallet?: string | null,
  ): Promise<TaxDisposalGql> {
    const scope = ctx.gate.require(ctx, 'tax:write');
    const ident = identification ? identificationOf(identification) : null;
    return disposalGql(await scope.tx((tx) => recordTaxDisposal(tx, scope.userId, { type, sats, marketValueAudCents, at, identification: ident, wallet: wallet ?? null })));
  }

  @Mutation(() => TaxDisposalGql, { description: 'Records a new parcel choice for a disposal; CONFLICT YEAR_CLOSED once its year is closed.' })
  async changeDisposalIdentification(
    @Ctx() ctx: Ctx,
    @Arg('disposalId', () => ID) disposalId: string,
    @Arg('identification', () => TaxIdentificationInput) identification: TaxIdentificationInput,
  ): Promise<TaxDisposalGql> {
    const scope = ctx.gate.require(ctx, 'tax:write');
    const ident = identificationOf(identification);
    return disposalGql(await scope.tx((tx) => changeDisposalIdentification(tx, scope.userId, disposalId, ident)));
  }

  @Mutation(() => CapitalGainsReportGql, { description: 'Closes (lodges) a financial year that has ended, and every earlier one: its report never changes again.' })
  async closeFinancialYear(@Ctx() ctx: Ctx, @Arg('financialYear', () => String) financialYear: string): Promise<CapitalGainsReportGql> {
    const scope = ctx.gate.require(ctx, 'tax:write');
    const fy = parseFinancialYear(financialYear);
    return reportGql(await scope.tx((tx) => closeFinancialYear(tx, scope.userId, fy)));
  }
}
