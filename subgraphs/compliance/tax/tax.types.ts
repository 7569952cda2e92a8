/**
 * The tax kernel's input and output shapes. Amounts are bigint (AUD cents, satoshis); instants are
 * Date; local dates are 'YYYY-MM-DD' strings in the tenant's timezone; a financial year is the
 * number of the calendar year it ends in (2025 = 1 July 2024 – 30 June 2025).
 */

export type EntityType = 'COMPANY' | 'INDIVIDUAL' | 'TRUST' | 'SMSF';

/** For companies: whether a loss year's net capital loss may be applied (ITAA 1997 s 165-96). */
export type CompanyLossTest = {
  lossYear: number;
  /** Continuity of ownership test (s 165-12) met. */
  cotMet: boolean;
  /** Business continuity test (same or similar business, s 165-13 / 165-210) met. */
  bctMet: boolean;
  note?: string;
};

/** A net capital loss from before the history the kernel sees (e.g. from the last tax return). */
export type PriorNetCapitalLoss = { lossYear: number; amountAudCents: bigint };

export type LossOrder = 'NON_DISCOUNTABLE_FIRST' | 'DISCOUNTABLE_FIRST';

export type TaxProfile = {
  entityType: EntityType;
  gstRegistered: boolean;
  /** IANA zone for local dates (held days, financial years, BAS quarters). Default Australia/Sydney. */
  timeZone?: string;
  /** Which gains capital losses reduce first. Default NON_DISCOUNTABLE_FIRST (usually the best result). */
  lossOrder?: LossOrder;
  companyLossTests?: CompanyLossTest[];
  priorNetCapitalLosses?: PriorNetCapitalLoss[];
  /** Every financial year up to and including this one is closed (lodged): its numbers never change. */
  closedThroughYear?: number;
};

export type AcquisitionSource = 'PURCHASE_FILL' | 'IMPORT' | 'MANUAL';

/** GST on a fee: the recorded component, or "the fee is GST-inclusive" (the kernel derives 1/11). */
export type FeeGst = {
  feeGstAudCents?: bigint;
  feeGstInclusive?: boolean;
  /** Whether the tenant claims the GST as an input tax credit. Default: the profile's gstRegistered. */
  feeItcClaimed?: boolean;
};

/** A fill, a partial fill or an imported acquisition: each becomes one parcel with the same id. */
export type Acquisition = FeeGst & {
  id: string;
  source: AcquisitionSource;
  at: Date;
  sats: bigint;
  /** AUD spent on the bitcoin itself. */
  costAudCents: bigint;
  /** Brokerage and other incidental costs of acquiring it. */
  feeAudCents: bigint;
  exchange: string;
  /** Where the parcel is held; defaults to the exchange. */
  wallet?: string;
  purchaseId?: string;
  fillId?: string;
};

export type DisposalType = 'SALE' | 'SPEND' | 'FEE';
export type DisposalSource = 'PLATFORM' | 'IMPORT';

export type NamedStrategy = 'HIGHEST_COST_FIRST' | 'LOWEST_COST_FIRST' | 'LIFO';

export type SpecificChoice = { parcelId: string; sats: bigint };

export type Identification =
  | { method: 'FIFO' }
  | { method: 'SPECIFIC'; parcels: SpecificChoice[] }
  | { method: NamedStrategy; chosenAt: Date }
  | { method: 'SAME_DAY_AVERAGE'; acquiredOn?: string };

/** CGT event A1. SALE: gross AUD received; SPEND and FEE: market value of the bitcoin given. */
export type Disposal = FeeGst & {
  id: string;
  type: DisposalType;
  source: DisposalSource;
  at: Date;
  sats: bigint;
  proceedsAudCents: bigint;
  /** Selling costs (brokerage); capital proceeds are net of them. */
  feeAudCents: bigint;
  exchange?: string;
  /** When set, only parcels held in this wallet can be matched. */
  wallet?: string;
  identification?: Identification;
};

/** Between the tenant's own wallets: not a disposal, parcels move; its network fee is a FEE disposal. */
export type Transfer = {
  id: string;
  at: Date;
  fromWallet: string;
  toWallet: string;
  /** Sats arriving in toWallet; fromWallet loses sats + networkFeeSats. */
  sats: bigint;
  networkFeeSats: bigint;
  /** Market value of the fee sats at the time: the FEE disposal's proceeds. */
  networkFeeMarketValueAudCents: bigint;
  /** Which parcels leave fromWallet (fee first, then the moved sats). Default FIFO. */
  identification?: Identification;
};

/**
 * An audited edit: from `effectiveAt` on, the sats the parcel then holds have this cost base.
 * effectiveAt = the acquisition time corrects the whole parcel; it must lie in an open year.
 */
export type CostBaseAdjustment = {
  id: string;
  parcelId: string;
  effectiveAt: Date;
  recordedAt: Date;
  costBaseAudCents: bigint;
  reason: string;
  actorId?: string;
};

export type TaxHistory = {
  acquisitions: Acquisition[];
  disposals: Disposal[];
  transfers?: Transfer[];
  adjustments?: CostBaseAdjustment[];
};

/** A parcel as held at some instant. */
export type Parcel = {
  id: string;
  acquisitionId: string;
  source: AcquisitionSource;
  exchange: string;
  wallet: string;
  purchaseId: string | null;
  fillId: string | null;
  acquiredAt: Date;
  acquiredOn: string;
  sats: bigint;
  costBaseAudCents: bigint;
  costBaseAdjusted: boolean;
};

/** The part of one parcel a disposal used (or, flagged, the part it could not find any history for). */
export type ParcelMatch = {
  parcelId: string | null;
  acquisitionId: string | null;
  acquiredAt: Date | null;
  acquiredOn: string | null;
  sats: bigint;
  costBaseAudCents: bigint;
  proceedsAudCents: bigint;
  /** proceeds − cost base; negative is a capital loss. */
  gainAudCents: bigint;
  /** Whole days held, both the acquisition and the disposal day excluded. */
  heldDays: number | null;
  heldAtLeast12Months: boolean;
  /** Held 12 months and the entity may discount (not a company); only gains are discounted. */
  discountEligible: boolean;
  unknownHistory: boolean;
};

export type DisposalFlag = 'UNKNOWN_ACQUISITION_HISTORY';

export type DisposalResult = {
  disposalId: string;
  type: DisposalType;
  source: DisposalSource;
  transferId: string | null;
  at: Date;
  disposedOn: string;
  financialYear: number;
  sats: bigint;
  grossProceedsAudCents: bigint;
  feeAudCents: bigint;
  /** Fee GST the tenant claims as an input tax credit, excluded from the selling costs (s 103-30). */
  feeItcAudCents: bigint;
  proceedsAudCents: bigint;
  identification: Identification;
  matches: ParcelMatch[];
  costBaseAudCents: bigint;
  gainAudCents: bigint;
  capitalGainAudCents: bigint;
  capitalLossAudCents: bigint;
  flags: DisposalFlag[];
};

export type LossBlock = 'LOSS_TEST_NOT_RECORDED' | 'COT_AND_BCT_NOT_MET';

export type CarriedLoss = {
  lossYear: number;
  amountAudCents: bigint;
  /** Null when usable; for companies, why the loss cannot be applied. */
  blocked: LossBlock | null;
};

export type PriorLossApplication = {
  lossYear: number;
  availableAudCents: bigint;
  appliedAudCents: bigint;
  remainingAudCents: bigint;
  blocked: LossBlock | null;
};

export type DiscountRate = { numerator: bigint; denominator: bigint; label: '0' | '1/2' | '1/3' };

export type YearComputation = {
  financialYear: number;
  label: string;
  startDate: string;
  endDate: string;
  entityType: EntityType;
  lossOrder: LossOrder;
  /** Total current year capital gains (return label H). */
  grossCapitalGainsAudCents: bigint;
  discountableGainsAudCents: bigint;
  nonDiscountableGainsAudCents: bigint;
  currentYearCapitalLossesAudCents: bigint;
  currentYearLossesAppliedAudCents: { nonDiscountable: bigint; discountable: bigint };
  priorLosses: PriorLossApplication[];
  priorLossesAppliedAudCents: { nonDiscountable: bigint; discountable: bigint };
  nonDiscountableRemainingAudCents: bigint;
  discountableRemainingAudCents: bigint;
  discountRate: DiscountRate;
  discountAudCents: bigint;
  /** Return label A. */
  netCapitalGainAudCents: bigint;
  /** This year's own net capital loss (current-year losses the year's gains could not absorb). */
  netCapitalLossOfYearAudCents: bigint;
  /** Every unapplied net capital loss after this year, oldest first (return label V is the total). */
  carriedForward: CarriedLoss[];
  netCapitalLossCarriedForwardAudCents: bigint;
  /** Companies, trusts and funds: CGT schedule needed (gains or losses over $10,000); null for individuals. */
  cgtScheduleRequired: boolean | null;
};

/**
 * UNKNOWN_ACQUISITION_HISTORY (a disposal's sats with no acquisition found), or, on a closed year,
 * LATE_FACT_IN_CLOSED_YEAR: a fill or sale dated in the year but recorded after it was closed; the
 * report stays as lodged and names the fact (`disposalId` is then the fact's id) for an amendment.
 */
export type ReportFlagCode = DisposalFlag | 'LATE_FACT_IN_CLOSED_YEAR';
export type ReportFlag = { code: ReportFlagCode; disposalId: string; sats: bigint };

export type BasFee = {
  eventId: string;
  eventKind: 'ACQUISITION' | 'DISPOSAL';
  at: Date;
  localDate: string;
  feeAudCents: bigint;
  gstAudCents: bigint;
  gstStatus: 'RECORDED' | 'DERIVED' | 'NONE';
  itcClaimed: boolean;
};

export type BasQuarter = {
  quarter: 1 | 2 | 3 | 4;
  label: string;
  startDate: string;
  endDate: string;
  fees: BasFee[];
  totalFeesAudCents: bigint;
  totalGstAudCents: bigint;
  inputTaxCreditsAudCents: bigint;
};

export type BasSummary = {
  financialYear: number;
  gstRegistered: boolean;
  /** Buying or selling bitcoin is not a taxable supply (digital currency, from 1 July 2017). */
  gstOnBitcoinSuppliesAudCents: bigint;
  quarters: BasQuarter[];
};

export type AppliedAdjustment = CostBaseAdjustment & { sats: bigint; previousCostBaseAudCents: bigint };

export type CapitalGainsReport = {
  financialYear: number;
  label: string;
  timeZone: string;
  entityType: EntityType;
  gstRegistered: boolean;
  closed: boolean;
  summary: YearComputation;
  disposals: DisposalResult[];
  inventoryAtYearEnd: Parcel[];
  adjustments: AppliedAdjustment[];
  flags: ReportFlag[];
  complete: boolean;
  bas: BasSummary;
};
