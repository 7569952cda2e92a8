import { ROLES, type Role } from '../../../lib/auth/tokens';
import { WithdrawalReason, withdrawalError } from './withdrawal-errors';

/** The acting member as the access gate resolved them: who, their tenant role, and how they signed in. */
export type Member = { userId: string; role: Role; amr: readonly string[] };

/** A session signed in with a second factor (lib/access.ts uses the same `amr` value). */
export const hasSecondFactor = (m: Member): boolean => m.amr.includes('otp');

export function assertMember(m: unknown, field = 'member'): asserts m is Member {
  const x = m as Partial<Member> | null;
  if (
    x === null ||
    typeof x !== 'object' ||
    typeof x.userId !== 'string' ||
    x.userId.length === 0 ||
    x.userId.length > 100 ||
    !(ROLES as readonly string[]).includes(x.role as string) ||
    !Array.isArray(x.amr)
  ) {
    throw withdrawalError(WithdrawalReason.INVALID_MEMBER, `${field} must be a member with a userId, a role and amr`, { field });
  }
}

export function assertNow(now: unknown): asserts now is Date {
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) {
    throw withdrawalError(WithdrawalReason.INVALID_CLOCK, 'the clock gave an invalid time', { field: 'now' });
  }
}

export function requireSecondFactor(m: Member, action: string): void {
  if (!hasSecondFactor(m)) {
    throw withdrawalError(WithdrawalReason.MFA_REQUIRED, `${action} needs a session signed in with a second factor (enrol MFA and sign in again)`);
  }
}

export type { Role };
