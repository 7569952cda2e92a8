import type { LegalEntityRecord } from './kyb';

/**
 * Customer risk rating (LOW / MEDIUM / HIGH) from documented factors; re-run it whenever the
 * record, the volume or a screening result changes. Points add up; some facts force HIGH.
 *
 * | factor            | points                                                                 |
 * |-------------------|------------------------------------------------------------------------|
 * | ENTITY_TYPE       | trust 2 (ownership behind a trustee is opaque), SMSF/partnership/other 1 |
 * | OWNERSHIP_OPACITY | company/other: no owner ≥ 25% (controllers only) 2; owners < 50% 1      |
 * | INDUSTRY          | high-risk industry 2, elevated 1 (lists below)                           |
 * | VOLUME            | expected monthly volume ≥ A$1m: 2, ≥ A$100k: 1                            |
 * | JURISDICTION      | FATF call for action: HIGH; FATF increased monitoring: 2; outside AU: 1   |
 * | PEP               | foreign PEP: HIGH (enhanced due diligence); domestic / int'l org: 2       |
 * | SANCTIONS         | confirmed match: HIGH (and prohibited); possible match: 3                 |
 * | PRIOR_SMR         | any earlier suspicious matter report on this customer: 2                  |
 * | NEW_ABN           | ABN registered less than 12 months ago: 1                                 |
 *
 * Score 0–1 LOW, 2–3 MEDIUM, ≥ 4 HIGH. Sources: AUSTRAC's ML/TF risk assessments (trusts, cash-
 * intensive and high-value-goods sectors, digital currency), the FATF public statements.
 */

export type RiskRating = 'LOW' | 'MEDIUM' | 'HIGH';
export type RiskFactor = 'ENTITY_TYPE' | 'OWNERSHIP_OPACITY' | 'INDUSTRY' | 'VOLUME' | 'JURISDICTION' | 'PEP' | 'SANCTIONS' | 'PRIOR_SMR' | 'NEW_ABN';
export type RiskReason = { factor: RiskFactor; points: number; forcesHigh: boolean; detail: string };
export type RiskAssessment = { rating: RiskRating; score: number; prohibited: boolean; reasons: RiskReason[] };

export const HIGH_RISK_INDUSTRIES: readonly string[] = [
  'GAMBLING',
  'MONEY_SERVICES',
  'VIRTUAL_ASSETS',
  'PRECIOUS_METALS_AND_STONES',
  'MOTOR_VEHICLE_DEALING',
  'REAL_ESTATE',
  'ARMS_AND_DEFENCE',
];
export const ELEVATED_RISK_INDUSTRIES: readonly string[] = ['CASH_INTENSIVE_RETAIL', 'HOSPITALITY', 'CONSTRUCTION', 'CHARITY', 'IMPORT_EXPORT'];

/** FATF "high-risk jurisdictions subject to a call for action"; the operator keeps both lists current. */
export const FATF_CALL_FOR_ACTION: readonly string[] = ['KP', 'IR', 'MM'];

export type RiskInputs = {
  entity: LegalEntityRecord;
  expectedMonthlyVolumeAudCents?: bigint;
  priorSmrCount?: number;
  /** ABN registration date (the register's AbnStatusEffectiveFrom for an ACTIVE ABN). */
  abnRegisteredFrom?: string | null;
  now: Date;
  jurisdictions?: { callForAction?: readonly string[]; increasedMonitoring?: readonly string[] };
};

const MEDIUM_FROM = 2;
const HIGH_FROM = 4;

export function rateRisk(input: RiskInputs): RiskAssessment {
  const { entity } = input;
  const reasons: RiskReason[] = [];
  const add = (factor: RiskFactor, points: number, detail: string, forcesHigh = false): void => {
    reasons.push({ factor, points, forcesHigh, detail });
  };

  if (entity.entityType === 'TRUST') add('ENTITY_TYPE', 2, `${entity.entityTypeCode}: a trust, whose owners sit behind a trustee`);
  else if (entity.entityType === 'SMSF' || entity.entityType === 'OTHER') add('ENTITY_TYPE', 1, `${entity.entityTypeCode}: ${entity.entityType.toLowerCase()} structure`);

  // Trusts and funds have beneficiaries, not owners: their opacity is the ENTITY_TYPE factor.
  if (entity.entityType === 'COMPANY' || entity.entityType === 'OTHER') {
    const identified = entity.beneficialOwners.filter((o) => o.isBeneficialOwner).reduce((s, o) => s + o.ownershipBps, 0);
    if (identified === 0) add('OWNERSHIP_OPACITY', 2, 'no individual owns 25% or more; only controllers are named');
    else if (identified < 5_000) add('OWNERSHIP_OPACITY', 1, `identified beneficial owners hold ${identified / 100}% of the entity`);
  }

  if (entity.industry && HIGH_RISK_INDUSTRIES.includes(entity.industry)) add('INDUSTRY', 2, `${entity.industry} is a high-risk industry`);
  else if (entity.industry && ELEVATED_RISK_INDUSTRIES.includes(entity.industry)) add('INDUSTRY', 1, `${entity.industry} is an elevated-risk industry`);

  const volume = input.expectedMonthlyVolumeAudCents ?? 0n;
  if (volume >= 100_000_000n) add('VOLUME', 2, 'expected monthly volume is A$1,000,000 or more');
  else if (volume >= 10_000_000n) add('VOLUME', 1, 'expected monthly volume is A$100,000 or more');

  const callForAction = input.jurisdictions?.callForAction ?? FATF_CALL_FOR_ACTION;
  const monitored = input.jurisdictions?.increasedMonitoring ?? [];
  const people = [...entity.directors, ...entity.beneficialOwners.filter((o) => o.isBeneficialOwner)];
  const countries = new Set([entity.countryOfIncorporation, ...people.map((p) => p.countryOfResidence).filter((c): c is string => c !== null)]);
  const blocked = [...countries].filter((c) => callForAction.includes(c));
  const grey = [...countries].filter((c) => monitored.includes(c));
  const foreign = [...countries].filter((c) => c !== 'AU');
  if (blocked.length) add('JURISDICTION', 0, `connected to a FATF call-for-action jurisdiction: ${blocked.join(', ')}`, true);
  else if (grey.length) add('JURISDICTION', 2, `connected to a FATF increased-monitoring jurisdiction: ${grey.join(', ')}`);
  else if (foreign.length) add('JURISDICTION', 1, `connected outside Australia: ${foreign.join(', ')}`);

  const foreignPeps = people.filter((p) => p.pep === 'FOREIGN');
  const otherPeps = people.filter((p) => p.pep === 'DOMESTIC' || p.pep === 'INTERNATIONAL_ORGANISATION');
  if (foreignPeps.length) add('PEP', 0, `foreign politically exposed person: ${foreignPeps.map((p) => p.fullName).join(', ')}`, true);
  else if (otherPeps.length) add('PEP', 2, `politically exposed person: ${otherPeps.map((p) => p.fullName).join(', ')}`);

  const confirmed = people.filter((p) => p.sanctions === 'CONFIRMED_MATCH');
  const possible = people.filter((p) => p.sanctions === 'POSSIBLE_MATCH');
  if (confirmed.length) add('SANCTIONS', 0, `confirmed sanctions match: ${confirmed.map((p) => p.fullName).join(', ')}`, true);
  else if (possible.length) add('SANCTIONS', 3, `possible sanctions match awaiting resolution: ${possible.map((p) => p.fullName).join(', ')}`);

  if ((input.priorSmrCount ?? 0) > 0) add('PRIOR_SMR', 2, `${input.priorSmrCount} earlier suspicious matter report(s)`);

  if (input.abnRegisteredFrom) {
    const from = Date.parse(`${input.abnRegisteredFrom}T00:00:00Z`);
    const yearAgo = new Date(input.now);
    yearAgo.setUTCFullYear(yearAgo.getUTCFullYear() - 1);
    if (from > yearAgo.getTime()) add('NEW_ABN', 1, `ABN registered ${input.abnRegisteredFrom}, less than 12 months ago`);
  }

  const score = reasons.reduce((s, r) => s + r.points, 0);
  const forced = reasons.some((r) => r.forcesHigh);
  const rating: RiskRating = forced || score >= HIGH_FROM ? 'HIGH' : score >= MEDIUM_FROM ? 'MEDIUM' : 'LOW';
  return { rating, score, prohibited: confirmed.length > 0, reasons };
}
