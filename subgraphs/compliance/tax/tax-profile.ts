import { assertCents } from './tax-amounts';
import { DEFAULT_TIME_ZONE, assertFinancialYear, assertTimeZone } from './tax-calendar';
import { TaxErrorReason, badTaxInput } from './tax-errors';
import type { CompanyLossTest, DiscountRate, EntityType, LossOrder, PriorNetCapitalLoss, TaxProfile } from './tax.types';

export type ResolvedProfile = {
  entityType: EntityType;
  gstRegistered: boolean;
  timeZone: string;
  lossOrder: LossOrder;
  companyLossTests: Map<number, CompanyLossTest>;
  priorNetCapitalLosses: PriorNetCapitalLoss[];
  closedThroughYear: number | null;
};

const ENTITY_TYPES: readonly EntityType[] = ['COMPANY', 'INDIVIDUAL', 'TRUST', 'SMSF'];

/** ITAA 1997 s 115-100: 50% for individuals and trusts, 33⅓% for complying super funds, none for companies. */
export function discountRateFor(entityType: EntityType): DiscountRate {
  switch (entityType) {
    case 'INDIVIDUAL':
    case 'TRUST':
      return { numerator: 1n, denominator: 2n, label: '1/2' };
    case 'SMSF':
      return { numerator: 1n, denominator: 3n, label: '1/3' };
    case 'COMPANY':
      return { numerator: 0n, denominator: 1n, label: '0' };
  }
}

export function resolveProfile(profile: TaxProfile): ResolvedProfile {
  const invalid = (message: string, field: string): never => {
    throw badTaxInput(TaxErrorReason.INVALID_PROFILE, message, { field });
  };
  if (!ENTITY_TYPES.includes(profile.entityType)) invalid('entityType must be COMPANY, INDIVIDUAL, TRUST or SMSF', 'entityType');
  if (typeof profile.gstRegistered !== 'boolean') invalid('gstRegistered must be true or false', 'gstRegistered');
  const timeZone = profile.timeZone ?? DEFAULT_TIME_ZONE;
  assertTimeZone(timeZone);
  const lossOrder = profile.lossOrder ?? 'NON_DISCOUNTABLE_FIRST';
  if (lossOrder !== 'NON_DISCOUNTABLE_FIRST' && lossOrder !== 'DISCOUNTABLE_FIRST') invalid('lossOrder is not a known order', 'lossOrder');

  const companyLossTests = new Map<number, CompanyLossTest>();
  for (const t of profile.companyLossTests ?? []) {
    if (profile.entityType !== 'COMPANY') invalid('loss-test records apply to companies only', 'companyLossTests');
    assertFinancialYear(t.lossYear);
    if (typeof t.cotMet !== 'boolean' || typeof t.bctMet !== 'boolean') invalid('cotMet and bctMet must be true or false', 'companyLossTests');
    if (companyLossTests.has(t.lossYear)) invalid(`two loss-test records for ${t.lossYear}`, 'companyLossTests');
    companyLossTests.set(t.lossYear, t);
  }

  const seen = new Set<number>();
  const priorNetCapitalLosses = (profile.priorNetCapitalLosses ?? []).map((l) => {
    assertFinancialYear(l.lossYear);
    if (seen.has(l.lossYear)) invalid(`two prior net capital losses for ${l.lossYear}`, 'priorNetCapitalLosses');
    seen.add(l.lossYear);
    return { lossYear: l.lossYear, amountAudCents: assertCents(l.amountAudCents, 'priorNetCapitalLosses.amountAudCents') };
  });
  priorNetCapitalLosses.sort((a, b) => a.lossYear - b.lossYear);

  const closedThroughYear = profile.closedThroughYear ?? null;
  if (closedThroughYear !== null) assertFinancialYear(closedThroughYear);
  return {
    entityType: profile.entityType,
    gstRegistered: profile.gstRegistered,
    timeZone,
    lossOrder,
    companyLossTests,
    priorNetCapitalLosses,
    closedThroughYear,
  };
}

export const isClosedYear = (p: ResolvedProfile, fy: number): boolean => p.closedThroughYear !== null && fy <= p.closedThroughYear;
