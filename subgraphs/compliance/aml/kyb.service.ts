import type { TenantTx } from '../../../lib/db/tenant-tx';
import { KYB_QUEUE, KYB_STATUS_JOB, amlFactJobId, type KybStatusChanged } from '../../../lib/events/aml-facts';
import { NOTICE_JOB, NOTICES_QUEUE, NoticeV1, noticeId, type Notice } from '../../../lib/events/notices';
import { parseAbn } from './abn';
import type { AbrClient, AbrEntity } from './abr.client';
import {
  buildLegalEntity,
  decideVerification,
  materialChanges,
  reviewOnChange,
  submitForVerification,
  type Decider,
  type Evidence,
  type LegalEntityInput,
  type VerificationState,
  type VerificationStatus,
} from './kyb';
import { loadKyb, saveKyb, saveVerification, type StoredKyb } from './kyb.store';
import { rateRisk } from './risk-rating';

/**
 * KYB use cases (#11), each in one tenant transaction: the tenant records its legal entity (ABN
 * checked, then looked up on the register when ABN Lookup is configured), an officer decides. A
 * refused input writes nothing. Every status change is sent to treasury's trading gate as a
 * `kyb.status` fact through the outbox (it exists if and only if the change commits).
 */

type Tx = Pick<TenantTx, 'em' | 'tenantId' | 'now' | 'audit' | 'outbox'>;

async function sendStatus(tx: Tx, v: VerificationState): Promise<void> {
  const fact: KybStatusChanged = { __typename: 'KybStatusChanged', version: 1, tenantId: tx.tenantId, status: v.status, seq: v.history.length, at: tx.now.toISOString() };
  await tx.outbox({ queue: KYB_QUEUE, jobName: KYB_STATUS_JOB, payload: fact, id: amlFactJobId(KYB_STATUS_JOB, `${tx.tenantId}:${fact.seq}`) });
  const notice = kybActionNotice(tx.tenantId, tx.now, v);
  if (notice) await tx.outbox({ queue: NOTICES_QUEUE, jobName: NOTICE_JOB, payload: notice, id: notice.id });
}

/** KYB states that need the business to act: asked for more information, or refused (trading on real exchanges stays closed). */
const ACTION_NEEDED: ReadonlySet<VerificationStatus> = new Set(['NEEDS_INFO', 'REJECTED']);

/**
 * The `kyb.action_needed` notice for a change to NEEDS_INFO or REJECTED, else null; one per change
 * (id from the tenant and the history's length). It carries the status only, never the officer's
 * reason or evidence: those may touch a suspicion the business must not be told of (AML/CTF Act
 * s123), and the dashboard shows what the business may see after sign-in.
 */
export function kybActionNotice(tenantId: string, at: Date, v: VerificationState): Notice | null {
  if (!ACTION_NEEDED.has(v.status)) return null;
  return NoticeV1.parse({
    version: 1,
    id: noticeId('kyb.action_needed', `${tenantId}:${v.history.length}`),
    tenantId,
    type: 'kyb.action_needed',
    occurredAt: at.toISOString(),
    subjectId: tenantId,
    data: { status: v.status },
  });
}

/** The entity type feeds the tax profile once (a tenant that set its profile keeps it). */
async function seedTaxProfile(tx: Tx, entityType: string, register: AbrEntity | null): Promise<void> {
  if (!['COMPANY', 'INDIVIDUAL', 'TRUST', 'SMSF'].includes(entityType)) return;
  await tx.em.execute(`insert into tax_profile (entity_type, gst_registered, updated_by) values (?, ?, null) on conflict (tenant_id) do nothing`, [
    entityType,
    register?.gstRegisteredFrom != null,
  ]);
}

export async function recordLegalEntity(tx: Tx, userId: string, input: LegalEntityInput, abr: AbrClient | null): Promise<StoredKyb> {
  // The checksum first: a typo never reaches the register.
  parseAbn(input.abn, 'abn');
  const register = abr ? await abr.lookupAbn(input.abn) : null;
  const entity = buildLegalEntity(input, register ?? undefined);
  const existing = await loadKyb(tx.em, tx.tenantId);
  const tenant: Decider = { userId, role: 'TENANT' };
  let verification: VerificationState;
  if (!existing) verification = submitForVerification(tenant, tx.now);
  else {
    verification = reviewOnChange(existing.verification, materialChanges(existing.entity, entity), tx.now);
    if (verification.status === 'NEEDS_INFO') verification = decideVerification(verification, { to: 'PENDING', decidedBy: tenant, reason: 'record updated by the tenant', at: tx.now });
  }
  const risk = rateRisk({ entity, abnRegisteredFrom: register?.status === 'ACTIVE' ? register.statusEffectiveFrom : null, now: tx.now });
  const known = existing?.verification.history.length ?? 0;
  await saveKyb(tx.em, { entity, register, verification, risk, userId }, known);
  await seedTaxProfile(tx, entity.entityType, register);
  await tx.audit({
    eventType: 'kyb.recorded',
    actorId: userId,
    subjectType: 'KybEntity',
    subjectId: tx.tenantId,
    data: { abn: entity.abn, source: entity.source, status: verification.status, directors: entity.directors.length, beneficialOwners: entity.beneficialOwners.length },
  });
  if (verification.history.length > known) await sendStatus(tx, verification);
  return present(await loadKyb(tx.em, tx.tenantId));
}

export function kybOf(tx: Pick<TenantTx, 'em' | 'tenantId'>): Promise<StoredKyb | null> {
  return loadKyb(tx.em, tx.tenantId);
}

/**
 * The officer's decision, in the tenant's transaction. The tenant's own chain records the decision
 * (it is the tenant's to know); the officer's read is audited in the platform chain by the caller.
 */
export async function decideKyb(
  tx: Tx,
  officerId: string,
  d: { to: VerificationStatus; reason: string; evidence: Evidence[] },
): Promise<StoredKyb | null> {
  const k = await loadKyb(tx.em, tx.tenantId);
  if (!k) return null;
  const next = decideVerification(k.verification, { to: d.to, decidedBy: { userId: officerId, role: 'COMPLIANCE_OFFICER' }, reason: d.reason, evidence: d.evidence, at: tx.now });
  await saveVerification(tx.em, next, k.verification.history.length, officerId);
  await tx.audit({ eventType: 'kyb.decided', actorId: officerId, subjectType: 'KybEntity', subjectId: tx.tenantId, data: { from: k.verification.status, to: next.status } });
  await sendStatus(tx, next);
  return loadKyb(tx.em, tx.tenantId);
}

function present<T>(v: T | null): T {
  if (v === null) throw new Error('the KYB record just written is missing');
  return v;
}
