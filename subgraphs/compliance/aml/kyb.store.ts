import type { EntityManager } from '@mikro-orm/postgresql';
import type { AbrEntity } from './abr.client';
import type { TaxEntityType } from './entity-types';
import type { BeneficialOwner, Decider, Evidence, LegalEntityRecord, PepStatus, Person, SanctionsStatus, VerificationEvent, VerificationState, VerificationStatus } from './kyb';
import type { RiskAssessment, RiskRating } from './risk-rating';

/**
 * KYB rows (migration 0060_aml) as the kernel's types, in the caller's transaction: the tenant's
 * own (RLS) or the officer's cross-tenant read (officer.store.ts passes a schema-qualified name).
 */

export type StoredKyb = {
  tenantId: string;
  entity: LegalEntityRecord;
  register: AbrEntity | null;
  verification: VerificationState;
  risk: RiskAssessment;
  updatedAt: Date;
};

type EntityRow = {
  tenant_id: string;
  abn: string;
  acn: string | null;
  legal_name: string;
  entity_type_code: string;
  entity_type: TaxEntityType;
  country_of_incorporation: string;
  industry: string | null;
  source: 'ABN_LOOKUP' | 'DECLARED';
  register: AbrEntity | null;
  status: VerificationStatus;
  status_seq: number;
  risk_rating: RiskRating;
  risk: RiskAssessment;
  updated_at: Date;
};
type PersonRow = {
  id: string;
  full_name: string;
  date_of_birth: string | null;
  residential_address: string | null;
  country_of_residence: string | null;
  pep: PepStatus;
  sanctions: SanctionsStatus;
};
type OwnerRow = PersonRow & { ownership_bps: number; controls: boolean; is_beneficial_owner: boolean };
type VerificationRow = {
  seq: number;
  from_status: VerificationStatus | null;
  to_status: VerificationStatus;
  at: Date;
  decided_by: string;
  decider_role: Decider['role'];
  reason: string;
  evidence: Evidence[];
};

const person = (r: PersonRow): Person => ({
  id: r.id,
  fullName: r.full_name,
  dateOfBirth: r.date_of_birth,
  residentialAddress: r.residential_address,
  countryOfResidence: r.country_of_residence,
  pep: r.pep,
  sanctions: r.sanctions,
});

/** The tenant's KYB record, or null when it never recorded one. `schema` only for the officer's path. */
export async function loadKyb(em: EntityManager, tenantId: string, schema?: string): Promise<StoredKyb | null> {
  const t = (name: string): string => (schema ? `"${schema}".${name}` : name);
  const [e] = await em.execute<EntityRow[]>(`select * from ${t('kyb_entity')} where tenant_id = ?`, [tenantId]);
  if (!e) return null;
  const directors = await em.execute<PersonRow[]>(`select * from ${t('kyb_director')} where tenant_id = ? order by id`, [tenantId]);
  const owners = await em.execute<OwnerRow[]>(`select * from ${t('kyb_beneficial_owner')} where tenant_id = ? order by ownership_bps desc, id`, [tenantId]);
  const history = await em.execute<VerificationRow[]>(`select * from ${t('kyb_verification')} where tenant_id = ? order by seq`, [tenantId]);
  return {
    tenantId: e.tenant_id,
    entity: {
      abn: e.abn,
      acn: e.acn,
      legalName: e.legal_name,
      entityTypeCode: e.entity_type_code,
      entityType: e.entity_type,
      directors: directors.map(person),
      beneficialOwners: owners.map((o): BeneficialOwner => ({ ...person(o), ownershipBps: o.ownership_bps, controls: o.controls, isBeneficialOwner: o.is_beneficial_owner })),
      countryOfIncorporation: e.country_of_incorporation,
      industry: e.industry,
      source: e.source,
    },
    register: e.register,
    verification: {
      status: e.status,
      history: history.map(
        (h): VerificationEvent => ({
          from: h.from_status,
          to: h.to_status,
          at: new Date(h.at),
          decidedBy: { userId: h.decided_by, role: h.decider_role },
          reason: h.reason,
          evidence: h.evidence,
        }),
      ),
    },
    risk: e.risk,
    updatedAt: new Date(e.updated_at),
  };
}

/** Writes the record whole (people replaced) and any new verification events after `knownEvents`. */
export async function saveKyb(
  em: EntityManager,
  k: { entity: LegalEntityRecord; register: AbrEntity | null; verification: VerificationState; risk: RiskAssessment; userId: string | null },
  knownEvents: number,
): Promise<void> {
  const e = k.entity;
  await em.execute(
    `insert into kyb_entity (abn, acn, legal_name, entity_type_code, entity_type, country_of_incorporation, industry, source, register, status, status_seq, risk_rating, risk, updated_by)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?, ?, ?::jsonb, ?)
     on conflict (tenant_id) do update set abn = excluded.abn, acn = excluded.acn, legal_name = excluded.legal_name,
       entity_type_code = excluded.entity_type_code, entity_type = excluded.entity_type, country_of_incorporation = excluded.country_of_incorporation,
       industry = excluded.industry, source = excluded.source, register = excluded.register, status = excluded.status, status_seq = excluded.status_seq,
       risk_rating = excluded.risk_rating, risk = excluded.risk, updated_by = excluded.updated_by, updated_at = now()`,
    [
      e.abn,
      e.acn,
      e.legalName,
      e.entityTypeCode,
      e.entityType,
      e.countryOfIncorporation,
      e.industry,
      e.source,
      k.register ? JSON.stringify(k.register) : null,
      k.verification.status,
      k.verification.history.length,
      k.risk.rating,
      JSON.stringify(k.risk),
      k.userId,
    ],
  );
  await em.execute(`delete from kyb_director`);
  await em.execute(`delete from kyb_beneficial_owner`);
  for (const d of e.directors) {
    await em.execute(
      `insert into kyb_director (id, full_name, date_of_birth, residential_address, country_of_residence, pep, sanctions) values (?, ?, ?, ?, ?, ?, ?)`,
      [d.id, d.fullName, d.dateOfBirth, d.residentialAddress, d.countryOfResidence, d.pep, d.sanctions],
    );
  }
  for (const o of e.beneficialOwners) {
    await em.execute(
      `insert into kyb_beneficial_owner (id, full_name, date_of_birth, residential_address, country_of_residence, pep, sanctions, ownership_bps, controls, is_beneficial_owner)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [o.id, o.fullName, o.dateOfBirth, o.residentialAddress, o.countryOfResidence, o.pep, o.sanctions, o.ownershipBps, o.controls, o.isBeneficialOwner],
    );
  }
  await appendVerification(em, k.verification, knownEvents);
}

/** Appends the verification events after the first `knownEvents` (seq = position, 1-based). */
export async function appendVerification(em: EntityManager, v: VerificationState, knownEvents: number): Promise<void> {
  for (const [i, h] of v.history.entries()) {
    if (i < knownEvents) continue;
    await em.execute(
      `insert into kyb_verification (seq, from_status, to_status, at, decided_by, decider_role, reason, evidence) values (?, ?, ?, ?, ?, ?, ?, ?::jsonb)`,
      [i + 1, h.from, h.to, h.at, h.decidedBy.userId, h.decidedBy.role, h.reason, JSON.stringify(h.evidence)],
    );
  }
}

/** A status change by the officer: the entity row's status and the new events. */
export async function saveVerification(em: EntityManager, v: VerificationState, knownEvents: number, userId: string): Promise<void> {
  await em.execute(`update kyb_entity set status = ?, status_seq = ?, updated_by = ?, updated_at = now()`, [v.status, v.history.length, userId]);
  await appendVerification(em, v, knownEvents);
}
