import { AmlReason, amlError } from './errors';

/**
 * Seven-year record keeping (AML/CTF Act 2006 Part 10): customer due diligence records are kept
 * for 7 years after the business relationship ends, transaction records for 7 years after the
 * transaction. The platform keeps every AML record until 7 years after the LATER of the two
 * (the relationship's end and the record's own date), so one rule satisfies both, and nothing
 * is deleted while the relationship is open, while a record is under legal hold (an open case, an
 * AUSTRAC or law-enforcement notice), or when the relationship is not known.
 *
 * The end of the relationship is the later of the tenant's account closure and the last
 * designated service provided to it (a final withdrawal after closure extends it); an account
 * that is not closed has no end.
 */

export const RETENTION_YEARS = 7;

export type AmlRecordClass = 'CDD' | 'TRANSACTION' | 'MONITORING' | 'CASE' | 'SMR' | 'AUDIT';
export const AML_RECORD_CLASSES: readonly AmlRecordClass[] = ['CDD', 'TRANSACTION', 'MONITORING', 'CASE', 'SMR', 'AUDIT'];

export type RetainedRecord = { id: string; tenantId: string; recordClass: AmlRecordClass; recordedAt: Date; legalHold?: boolean };
export type Relationship = { tenantId: string; closedAt: Date | null; lastServiceAt: Date | null };

export type RetentionDecision = {
  id: string;
  tenantId: string;
  action: 'DELETE' | 'KEEP';
  /** When the record may go; null while it cannot be known (relationship open or unknown). */
  retainUntil: Date | null;
  reason: string;
};

/** The relationship's end, or null while the account is open. */
export function relationshipEnd(r: Relationship): Date | null {
  if (!r.closedAt) return null;
  return r.lastServiceAt && r.lastServiceAt.getTime() > r.closedAt.getTime() ? r.lastServiceAt : r.closedAt;
}

/** `at` plus whole calendar years; 29 February rolls to 1 March (the later date, never earlier). */
export function addYears(at: Date, years: number): Date {
  const d = new Date(at.getTime());
  d.setUTCFullYear(d.getUTCFullYear() + years);
  return d;
}

export function planRetention(records: readonly RetainedRecord[], relationships: readonly Relationship[], now: Date): { delete: RetentionDecision[]; keep: RetentionDecision[] } {
  const byTenant = new Map(relationships.map((r) => [r.tenantId, r]));
  const out = { delete: [] as RetentionDecision[], keep: [] as RetentionDecision[] };
  for (const rec of records) {
    if (!AML_RECORD_CLASSES.includes(rec.recordClass) || !(rec.recordedAt instanceof Date) || Number.isNaN(rec.recordedAt.getTime())) {
      throw amlError(AmlReason.INVALID_RECORD, `record ${rec.id} has no AML record class or date`, { recordId: rec.id });
    }
    const base = { id: rec.id, tenantId: rec.tenantId };
    const rel = byTenant.get(rec.tenantId);
    if (!rel) {
      out.keep.push({ ...base, action: 'KEEP', retainUntil: null, reason: 'no relationship record for this tenant: kept until it is known' });
      continue;
    }
    const end = relationshipEnd(rel);
    if (!end) {
      out.keep.push({ ...base, action: 'KEEP', retainUntil: null, reason: 'the business relationship is ongoing' });
      continue;
    }
    const anchor = rec.recordedAt.getTime() > end.getTime() ? rec.recordedAt : end;
    const retainUntil = addYears(anchor, RETENTION_YEARS);
    if (rec.legalHold) {
      out.keep.push({ ...base, action: 'KEEP', retainUntil, reason: 'under legal hold' });
    } else if (now.getTime() >= retainUntil.getTime()) {
      out.delete.push({ ...base, action: 'DELETE', retainUntil, reason: `${RETENTION_YEARS} years passed on ${retainUntil.toISOString()}` });
    } else {
      out.keep.push({ ...base, action: 'KEEP', retainUntil, reason: `kept until ${retainUntil.toISOString()} (${RETENTION_YEARS} years after ${anchor === end ? 'the relationship ended' : 'the record'})` });
    }
  }
  return out;
}
