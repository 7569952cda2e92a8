import { createHmac } from 'node:crypto';
import { AmlReason, amlError } from './errors';

/**
 * A user's erasure request. The Privacy Act 1988 (APP 11.2) requires personal information that
 * is no longer needed to be destroyed or de-identified — unless an Australian law requires it
 * to be kept, which the AML/CTF Act's record keeping does for 7 years. So each personal field
 * is either ERASED (not needed, or its AML retention has ended) or PSEUDONYMISED: the working
 * copy is replaced by a stable keyed pseudonym (HMAC-SHA-256, so the user's records still link)
 * and the original lives only in the sealed AML record, for the compliance officer, until the
 * retention date, when the retention job erases it. The plan records what was kept and why,
 * without any of the personal values.
 */

export type PersonalCategory = 'IDENTITY' | 'DATE_OF_BIRTH' | 'ADDRESS' | 'CONTACT' | 'CREDENTIAL' | 'DEVICE' | 'PREFERENCE' | 'MARKETING' | 'FREE_TEXT';

/** Categories the AML/CTF customer and transaction records hold about people who act for a customer. */
const AML_CATEGORIES: readonly PersonalCategory[] = ['IDENTITY', 'DATE_OF_BIRTH', 'ADDRESS', 'CONTACT'];

export type PersonalField = {
  /** Where the value lives, e.g. "users.email", "kyb.directors[d1].dateOfBirth". */
  path: string;
  category: PersonalCategory;
  /** Whether the field is part of an AML record (default: by category). Credentials never are. */
  amlRecord?: boolean;
};

export type ErasureSubject = {
  userId: string;
  fields: PersonalField[];
  /**
   * The latest retainUntil of the AML records that name this person (from planRetention);
   * null when no AML record names them, or while a relationship is ongoing use `ongoing`.
   */
  amlRetainUntil: Date | null;
  /** A relationship the person's records belong to is still open: AML fields stay. */
  ongoing?: boolean;
};

export type ErasureAction = {
  path: string;
  action: 'PSEUDONYMISE' | 'ERASE';
  /** The value the working copy takes: the pseudonym, or null for an erased field. */
  replacement: string | null;
  reason: string;
  retainUntil: Date | null;
};

export type ErasurePlan = {
  subject: string;
  requestedAt: Date;
  actions: ErasureAction[];
  /** The auditable record: paths, actions and reasons, never the values. */
  record: { subject: string; requestedAt: string; kept: { path: string; reason: string; retainUntil: string | null }[]; erased: { path: string; reason: string }[] };
};

/** A stable pseudonym for a user: the same key and user always give the same token. */
export function pseudonym(key: Buffer, userId: string): string {
  if (key.length < 32) throw amlError(AmlReason.INVALID_RECORD, 'the pseudonym key must be at least 32 bytes');
  return `pseud_${createHmac('sha256', key).update(`user:${userId}`).digest('base64url').slice(0, 22)}`;
}

export function planErasure(subject: ErasureSubject, requestedAt: Date, pseudonymKey: Buffer): ErasurePlan {
  if (!subject.userId) throw amlError(AmlReason.INVALID_RECORD, 'an erasure request names a user', { field: 'userId' });
  const token = pseudonym(pseudonymKey, subject.userId);
  const stillRequired = subject.ongoing === true || (subject.amlRetainUntil !== null && subject.amlRetainUntil.getTime() > requestedAt.getTime());
  const paths = new Set<string>();
  const actions = subject.fields.map((f): ErasureAction => {
    if (paths.has(f.path)) throw amlError(AmlReason.INVALID_RECORD, `${f.path} is listed twice`, { field: f.path });
    paths.add(f.path);
    const aml = f.category !== 'CREDENTIAL' && (f.amlRecord ?? AML_CATEGORIES.includes(f.category));
    if (aml && stillRequired) {
      const until = subject.ongoing ? null : subject.amlRetainUntil;
      return {
        path: f.path,
        action: 'PSEUDONYMISE',
        replacement: token,
        retainUntil: until,
        reason: subject.ongoing
          ? 'AML/CTF Act Part 10: part of the records of a business relationship that is still open'
          : `AML/CTF Act Part 10: part of an AML record kept until ${until?.toISOString()}`,
      };
    }
    const reason = aml
      ? `AML retention ended${subject.amlRetainUntil ? ` on ${subject.amlRetainUntil.toISOString()}` : ''}; APP 11.2: no longer needed`
      : f.category === 'CREDENTIAL'
        ? 'credential: never kept after erasure'
        : 'APP 11.2: not required by any law to be kept';
    return { path: f.path, action: 'ERASE', replacement: null, retainUntil: null, reason };
  });
  return {
    subject: token,
    requestedAt,
    actions,
    record: {
      subject: token,
      requestedAt: requestedAt.toISOString(),
      kept: actions.filter((a) => a.action === 'PSEUDONYMISE').map((a) => ({ path: a.path, reason: a.reason, retainUntil: a.retainUntil?.toISOString() ?? null })),
      erased: actions.filter((a) => a.action === 'ERASE').map((a) => ({ path: a.path, reason: a.reason })),
    },
  };
}
