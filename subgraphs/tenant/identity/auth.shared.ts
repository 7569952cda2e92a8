import { hash } from '@node-rs/argon2';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Scope } from '../../../lib/access';
import type { TenantTx } from '../../../lib/db/tenant-tx';
import { recordAudit } from '../../../lib/audit';
import type { Role } from '../../../lib/auth/tokens';
import { AppError, ErrorCode } from '../../../lib/errors';
import type { Tenant } from './tenant.entity';

export const EMAIL = /^[^\s@"<>()[\],;:]{1,64}@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/i;
const COMMON = new Set(['password1234', 'passwordpassword', '123456789012', 'qwertyuiop12', 'letmein12345', 'liquidabt123']);

export function normalizeEmail(raw: string): string {
  const email = raw.trim().toLowerCase();
  if (email.length > 254 || !EMAIL.test(email)) throw new AppError(ErrorCode.INVALID_EMAIL, 'email address is not valid');
  return email;
}

/** At least 12 characters, three kinds of character, not a known-common password, not the email. */
export function assertStrongPassword(password: string, email: string): void {
  const [emailName = ''] = email.split('@');
  const kinds = [/[a-z]/, /[A-Z]/, /\d/, /[^A-Za-z0-9]/].filter((re) => re.test(password)).length;
  const weak =
    password.length < 12 ||
    password.length > 256 ||
    kinds < 3 ||
    COMMON.has(password.toLowerCase()) ||
    password.toLowerCase().includes(emailName);
  if (weak) {
    throw new AppError(
      ErrorCode.WEAK_PASSWORD,
      'password must be 12 to 256 characters, mix three of lower case, upper case, digits and symbols, and not contain your email name',
    );
  }
}

export type SessionUser = { id: string; email: string; role: Role; tenantId: string; mfaEnabled: boolean };

export type Session = {
  accessToken: string;
  accessTokenExpiresAt: Date;
  refreshToken: string;
  user: SessionUser;
  tenant: Tenant;
};

export type LoginOutcome =
  | (Session & { mfaRequired: false; mfaChallenge: null })
  | {
      mfaRequired: true;
      mfaChallenge: string;
      accessToken: null;
      accessTokenExpiresAt: null;
      refreshToken: null;
      user: null;
      tenant: null;
    };

/** Who is asking, for throttling: the client address as the subgraph saw it. */
export type RequestMeta = { clientIp?: string };

// Verifying against a real hash when the user does not exist keeps timing the same either way.
let dummyHash: Promise<string> | undefined;
export const dummyPasswordHash = (): Promise<string> => (dummyHash ??= hash('not-a-real-password-but-a-real-hash'));

export const invalidCredentials = (): AppError => new AppError(ErrorCode.INVALID_CREDENTIALS, 'email or password is incorrect');
export const accountLocked = (retryAfterS: number): AppError =>
  new AppError(ErrorCode.ACCOUNT_LOCKED, 'too many failed attempts; try again later', { retryAfterSeconds: retryAfterS });

export type AuditActor = { id: string | null; type: 'user' | 'apiKey' | 'anonymous' };
export const actorOf = (scope: Pick<Scope, 'userId' | 'actor'>): AuditActor => ({ id: scope.userId, type: scope.actor });

/**
 * One auth event into the tenant's audit chain, in the caller's tenant transaction. Given the
 * `TenantTx`, the relay is kicked after the commit; given its bare `em`, the caller kicks it.
 */
export function auditAuth(
  into: EntityManager | Pick<TenantTx, 'audit'>,
  eventType: string,
  actor: AuditActor,
  subject: { type: string; id: string },
  data: Record<string, unknown> = {},
): Promise<string> {
  const rec = { eventType, actorId: actor.id, subjectType: subject.type, subjectId: subject.id, data: { ...data, actorType: actor.type } };
  return 'audit' in into ? into.audit(rec) : recordAudit(into, rec);
}

