import { abnMatchesAcn, parseAbn, parseAcn } from './abn';
import type { AbrEntity } from './abr.client';
import { MIN_DIRECTORS, taxEntityFor, type TaxEntityType } from './entity-types';
import { AmlReason, amlError } from './errors';

/**
 * Know your business customer: the tenant's legal entity record, the officer's verification
 * decision, and the gate that keeps real-exchange trading closed until the tenant is VERIFIED.
 *
 * Beneficial owner (AML/CTF Act 2006 s5): an individual who ultimately owns 25% or more of the
 * customer, or controls it (directly or indirectly). Each one must be identified: full name and
 * either date of birth or full residential address (AML/CTF Rules, beneficial owner procedures).
 */

export const BENEFICIAL_OWNERSHIP_BPS = 2_500;
export const FULL_OWNERSHIP_BPS = 10_000;

export type PepStatus = 'NONE' | 'DOMESTIC' | 'FOREIGN' | 'INTERNATIONAL_ORGANISATION';
export type SanctionsStatus = 'NONE' | 'POSSIBLE_MATCH' | 'CONFIRMED_MATCH';

export type PersonInput = {
  /** Stable within the record (e.g. a uuid), so changes and erasure can name the person. */
  id: string;
  fullName: string;
  dateOfBirth?: string | null;
  residentialAddress?: string | null;
  /** ISO 3166-1 alpha-2. */
  countryOfResidence?: string | null;
  pep?: PepStatus;
  sanctions?: SanctionsStatus;
};

export type BeneficialOwnerInput = PersonInput & {
  /** Ownership in basis points, 0–10000 (25% = 2500). */
  ownershipBps: number;
  /** Controls the entity otherwise than by owning it (e.g. trustee's appointor, senior managing official). */
  controls?: boolean;
};

export type LegalEntityInput = {
  abn: string;
  acn?: string | null;
  legalName: string;
  entityTypeCode: string;
  directors?: PersonInput[];
  beneficialOwners?: BeneficialOwnerInput[];
  /** ISO 3166-1 alpha-2; default AU. */
  countryOfIncorporation?: string;
  industry?: string;
};

export type Person = Required<Omit<PersonInput, 'dateOfBirth' | 'residentialAddress' | 'countryOfResidence'>> & {
  dateOfBirth: string | null;
  residentialAddress: string | null;
  countryOfResidence: string | null;
};

export type BeneficialOwner = Person & {
  ownershipBps: number;
  controls: boolean;
  /** ≥ 25% or controls: must be identified and is screened. */
  isBeneficialOwner: boolean;
};

export type LegalEntityRecord = {
  abn: string;
  acn: string | null;
  legalName: string;
  entityTypeCode: string;
  entityType: TaxEntityType;
  directors: Person[];
  beneficialOwners: BeneficialOwner[];
  countryOfIncorporation: string;
  industry: string | null;
  /** Where legal name and entity type came from. */
  source: 'ABN_LOOKUP' | 'DECLARED';
};

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const COUNTRY = /^[A-Z]{2}$/;

function validDate(s: string): boolean {
  const m = DATE.exec(s);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.getUTCFullYear() === Number(m[1]) && d.getUTCMonth() === Number(m[2]) - 1 && d.getUTCDate() === Number(m[3]);
}

const invalid = (message: string, field: string): Error => amlError(AmlReason.INVALID_ENTITY, message, { field });

function person(p: PersonInput, field: string): Person {
  if (typeof p.id !== 'string' || p.id.trim() === '') throw invalid('each person needs an id', `${field}.id`);
  const fullName = typeof p.fullName === 'string' ? p.fullName.trim().replace(/\s+/g, ' ') : '';
  if (fullName === '' || fullName.length > 200) throw invalid('full name must be 1 to 200 characters', `${field}.fullName`);
  const dob = p.dateOfBirth ?? null;
  if (dob !== null && !validDate(dob)) throw amlError(AmlReason.INVALID_DATE, 'date of birth must be a real date YYYY-MM-DD', { field: `${field}.dateOfBirth` });
  const country = p.countryOfResidence ?? null;
  if (country !== null && !COUNTRY.test(country)) throw invalid('country must be an ISO 3166-1 alpha-2 code', `${field}.countryOfResidence`);
  const address = p.residentialAddress?.trim() || null;
  return { id: p.id, fullName, dateOfBirth: dob, residentialAddress: address, countryOfResidence: country, pep: p.pep ?? 'NONE', sanctions: p.sanctions ?? 'NONE' };
}

function noDuplicates(people: Person[], field: string): void {
  const ids = new Set<string>();
  const identities = new Set<string>();
  for (const [i, p] of people.entries()) {
    const identity = `${p.fullName.toLowerCase()}|${p.dateOfBirth ?? ''}`;
    if (ids.has(p.id) || (p.dateOfBirth !== null && identities.has(identity))) {
      throw amlError(AmlReason.DUPLICATE_PERSON, `${p.fullName} is listed twice`, { field: `${field}[${i}]` });
    }
    ids.add(p.id);
    identities.add(identity);
  }
}

/**
 * Validates a legal entity record; with `register` (the ABN Lookup answer) the legal name,
 * entity type and ACN come from the register, not from what the tenant typed.
 */
export function buildLegalEntity(input: LegalEntityInput, register?: AbrEntity): LegalEntityRecord {
  const abn = parseAbn(input.abn, 'abn');
  if (register && register.abn !== abn) throw amlError(AmlReason.INVALID_ENTITY, 'the register record is for another ABN', { field: 'abn' });
  const entityTypeCode = register?.entityTypeCode || (typeof input.entityTypeCode === 'string' ? input.entityTypeCode.trim().toUpperCase() : '');
  if (!/^[A-Z]{3}$/.test(entityTypeCode)) throw invalid('entity type must be an ABR entity type code such as PRV', 'entityTypeCode');
  const legalName = (register?.legalName ?? (typeof input.legalName === 'string' ? input.legalName.trim() : '')).replace(/\s+/g, ' ');
  if (legalName === '' || legalName.length > 200) throw invalid('legal name must be 1 to 200 characters', 'legalName');

  const acnInput = register?.acn ?? input.acn ?? null;
  const acn = acnInput === null || acnInput === '' ? null : parseAcn(acnInput, 'acn');
  if (acn !== null && !abnMatchesAcn(abn, acn)) throw amlError(AmlReason.ACN_MISMATCH, 'a company ABN is its ACN with two digits in front; these do not match', { field: 'acn' });
  if ((entityTypeCode === 'PRV' || entityTypeCode === 'PUB') && acn === null) throw amlError(AmlReason.INVALID_ACN, 'a company needs its ACN', { field: 'acn' });

  const directors = (input.directors ?? []).map((d, i) => person(d, `directors[${i}]`));
  noDuplicates(directors, 'directors');
  const minDirectors = MIN_DIRECTORS[entityTypeCode] ?? 0;
  if (directors.length < minDirectors) {
    throw amlError(AmlReason.DIRECTOR_REQUIRED, `this entity type needs at least ${minDirectors} director${minDirectors > 1 ? 's' : ''}`, { field: 'directors', minimum: minDirectors });
  }

  let sumBps = 0;
  const owners = (input.beneficialOwners ?? []).map((o, i): BeneficialOwner => {
    const field = `beneficialOwners[${i}]`;
    if (!Number.isInteger(o.ownershipBps) || o.ownershipBps < 0 || o.ownershipBps > FULL_OWNERSHIP_BPS) {
      throw amlError(AmlReason.OWNERSHIP_OUT_OF_RANGE, 'ownership must be whole basis points from 0 to 10000 (25% = 2500)', { field: `${field}.ownershipBps` });
    }
    sumBps += o.ownershipBps;
    const p = person(o, field);
    const controls = o.controls === true;
    const isBeneficialOwner = controls || o.ownershipBps >= BENEFICIAL_OWNERSHIP_BPS;
    if (isBeneficialOwner && p.dateOfBirth === null && p.residentialAddress === null) {
      throw amlError(AmlReason.BENEFICIAL_OWNER_UNIDENTIFIED, `${p.fullName} is a beneficial owner: give a date of birth or a residential address`, { field });
    }
    return { ...p, ownershipBps: o.ownershipBps, controls, isBeneficialOwner };
  });
  if (sumBps > FULL_OWNERSHIP_BPS) throw amlError(AmlReason.OWNERSHIP_EXCEEDS_100, 'ownership adds up to more than 100%', { field: 'beneficialOwners', sumBps });
  noDuplicates(owners, 'beneficialOwners');
  // A sole trader is the customer itself; every other entity must name who owns or controls it.
  if (entityTypeCode !== 'IND' && !owners.some((o) => o.isBeneficialOwner)) {
    throw amlError(AmlReason.NO_BENEFICIAL_OWNER, 'name each individual owning 25% or more, or, if none, who controls the entity', { field: 'beneficialOwners' });
  }

  const countryOfIncorporation = input.countryOfIncorporation ?? 'AU';
  if (!COUNTRY.test(countryOfIncorporation)) throw invalid('country must be an ISO 3166-1 alpha-2 code', 'countryOfIncorporation');
  return {
    abn,
    acn,
    legalName,
    entityTypeCode,
    entityType: taxEntityFor(entityTypeCode),
    directors,
    beneficialOwners: owners,
    countryOfIncorporation,
    industry: input.industry?.trim() || null,
    source: register ? 'ABN_LOOKUP' : 'DECLARED',
  };
}

/** The changes that require a fresh review (and a re-rating) of a VERIFIED tenant. */
export function materialChanges(before: LegalEntityRecord, after: LegalEntityRecord): string[] {
  const out: string[] = [];
  for (const k of ['abn', 'acn', 'legalName', 'entityTypeCode', 'countryOfIncorporation', 'industry'] as const) {
    if (before[k] !== after[k]) out.push(k);
  }
  const key = (p: Person): string => JSON.stringify([p.id, p.fullName, p.dateOfBirth, p.residentialAddress, p.countryOfResidence, p.pep, p.sanctions]);
  const same = (a: string[], b: string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
  if (!same(before.directors.map(key).sort(), after.directors.map(key).sort())) out.push('directors');
  const bo = (o: BeneficialOwner): string => JSON.stringify([key(o), o.ownershipBps, o.controls]);
  if (!same(before.beneficialOwners.map(bo).sort(), after.beneficialOwners.map(bo).sort())) out.push('beneficialOwners');
  return out;
}

// ---------------------------------------------------------------------------------------------
// Verification: PENDING → VERIFIED | REJECTED | NEEDS_INFO; NEEDS_INFO → PENDING;
// VERIFIED → PENDING on a material change; REJECTED → PENDING when an officer reopens it.

export type VerificationStatus = 'PENDING' | 'VERIFIED' | 'REJECTED' | 'NEEDS_INFO';

export type EvidenceKind = 'ABN_LOOKUP' | 'ASIC_EXTRACT' | 'TRUST_DEED' | 'ID_DOCUMENT' | 'ELECTRONIC_VERIFICATION' | 'OTHER';
export type Evidence = { kind: EvidenceKind; reference: string; note?: string };

export type Decider = { userId: string; role: 'COMPLIANCE_OFFICER' | 'TENANT' | 'SYSTEM' };

export type VerificationEvent = {
  from: VerificationStatus | null;
  to: VerificationStatus;
  at: Date;
  decidedBy: Decider;
  reason: string;
  evidence: Evidence[];
};

export type VerificationState = { status: VerificationStatus; history: VerificationEvent[] };

export type VerificationDecision = { to: VerificationStatus; decidedBy: Decider; reason: string; evidence?: Evidence[]; at: Date };

type Rule = { who: Decider['role'][]; evidence: boolean };

const TRANSITIONS: Partial<Record<VerificationStatus, Partial<Record<VerificationStatus, Rule>>>> = {
  PENDING: {
    VERIFIED: { who: ['COMPLIANCE_OFFICER'], evidence: true },
    REJECTED: { who: ['COMPLIANCE_OFFICER'], evidence: true },
    NEEDS_INFO: { who: ['COMPLIANCE_OFFICER'], evidence: false },
  },
  NEEDS_INFO: { PENDING: { who: ['TENANT', 'COMPLIANCE_OFFICER'], evidence: false } },
  VERIFIED: { PENDING: { who: ['SYSTEM', 'COMPLIANCE_OFFICER'], evidence: false } },
  REJECTED: { PENDING: { who: ['COMPLIANCE_OFFICER'], evidence: false } },
};

/** A new legal entity record starts PENDING, submitted by the tenant. */
export function submitForVerification(submittedBy: Decider, at: Date): VerificationState {
  if (!submittedBy?.userId) throw amlError(AmlReason.DECIDER_REQUIRED, 'say who submitted the record');
  return { status: 'PENDING', history: [{ from: null, to: 'PENDING', at, decidedBy: submittedBy, reason: 'submitted', evidence: [] }] };
}

/** Applies one decision, or refuses it with a typed error and leaves the state as it was. */
export function decideVerification(state: VerificationState, d: VerificationDecision): VerificationState {
  if (!d.decidedBy?.userId || !d.decidedBy.role) throw amlError(AmlReason.DECIDER_REQUIRED, 'a decision must say who decided');
  const rule = TRANSITIONS[state.status]?.[d.to];
  if (!rule) throw amlError(AmlReason.INVALID_TRANSITION, `verification cannot go from ${state.status} to ${d.to}`, { from: state.status, to: d.to });
  if (!rule.who.includes(d.decidedBy.role)) {
    throw amlError(AmlReason.INVALID_TRANSITION, `${d.decidedBy.role} cannot move verification from ${state.status} to ${d.to}`, { from: state.status, to: d.to });
  }
  const reason = d.reason?.trim() ?? '';
  if (reason === '') throw amlError(AmlReason.EVIDENCE_REQUIRED, 'a decision needs a reason', { field: 'reason' });
  const evidence = d.evidence ?? [];
  if (rule.evidence && !evidence.some((e) => e.reference?.trim())) {
    throw amlError(AmlReason.EVIDENCE_REQUIRED, `${d.to} needs at least one piece of evidence`, { field: 'evidence' });
  }
  const last = state.history.at(-1);
  if (last && d.at.getTime() < last.at.getTime()) throw amlError(AmlReason.INVALID_TRANSITION, 'a decision cannot predate the previous one');
  return { status: d.to, history: [...state.history, { from: state.status, to: d.to, at: d.at, decidedBy: d.decidedBy, reason, evidence }] };
}

/** VERIFIED goes back to PENDING when the record changed materially; otherwise unchanged. */
export function reviewOnChange(state: VerificationState, changes: string[], at: Date): VerificationState {
  if (changes.length === 0 || state.status !== 'VERIFIED') return state;
  return decideVerification(state, { to: 'PENDING', decidedBy: { userId: 'system', role: 'SYSTEM' }, reason: `material change: ${changes.join(', ')}`, at });
}

// ---------------------------------------------------------------------------------------------
// The trading gate: real exchanges only for VERIFIED tenants; paper and the demo tenant stay open.

export type GatedOperation = 'PURCHASE' | 'SALE' | 'WITHDRAWAL';

export function assertTradingAllowed(input: { exchange: string; operation: GatedOperation; tenantIsDemo: boolean; kybStatus: VerificationStatus | null }): void {
  if (input.exchange === 'paper' || input.tenantIsDemo) return;
  if (input.kybStatus === 'VERIFIED') return;
  throw amlError(AmlReason.KYB_NOT_VERIFIED, `a ${input.operation.toLowerCase()} on ${input.exchange} needs a verified business (status: ${input.kybStatus ?? 'not submitted'})`, {
    kybStatus: input.kybStatus,
    operation: input.operation,
    exchange: input.exchange,
  });
}
