/** The tax kernel: pure CGT computation for bitcoin parcels (no database, no GraphQL). See README.md. */
export type * from './tax.types';
export { apportion, shareOf } from './apportion';
export { replayHistory, parcelsAsOf, transferFeeId, movedParcelId, type Ledger, type ReplayOptions } from './parcel-ledger';
export { computeYears, CGT_SCHEDULE_THRESHOLD_AUD_CENTS } from './cgt-year';
export { capitalGainsReport, yearComputations, basSummary, serializeReport } from './cgt-report';
export { assertYearOpen, assertOpenAt, changeIdentification, appendToHistory, assertClosedYearsUnchanged, type HistoryAdditions } from './closed-year';
export {
  parseHistoryCsv,
  importHistoryCsv,
  parseTimeWithOffset,
  splitCsvRecords,
  CsvErrorReason,
  type CsvRowError,
  type ParsedHistoryCsv,
  type CsvOptions,
} from './history-csv';
export { gstInInclusive, feeGstOf, type FeeGstResult } from './fee-gst';
export { resolveProfile, discountRateFor, isClosedYear, type ResolvedProfile } from './tax-profile';
export { assertSats, assertPositiveSats, assertCents, parseSatsText, parseBtcText, parseAudText, parseCentsText } from './tax-amounts';
export {
  DEFAULT_TIME_ZONE,
  localDate,
  financialYearOf,
  financialYearBounds,
  financialYearLabel,
  parseFinancialYear,
  heldAtLeast12Months,
  daysBetweenExclusive,
  basQuarterOf,
  endOfFinancialYearExclusive,
  startOfLocalDate,
} from './tax-calendar';
export { TaxErrorReason, taxErrorReason } from './tax-errors';
// The ledger's storage (the only part of this folder that touches the database): for the API, the queue and reports.
export { loadHistory, loadProfile, lockTaxLedger, DEFAULT_TAX_PROFILE, type LoadedHistory } from './tax.store';
