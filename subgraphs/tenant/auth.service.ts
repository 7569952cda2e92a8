import { randomUUID } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';
import { LockMode } from '@mikro-orm/core';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { recordAudit } from '../../lib/audit';
import {
  ACCESS_TOKEN_TTL_S,
  REFRESH_TOKEN_TTL_S,
  hashToken,
  newOpaqueToken,
  signAccessToken,
  type Role,
} from '../../lib/auth/tokens';
import type { EventBus } from '../../lib/bus';
import { AppError, ErrorCode } from '../../lib/errors';
import { enterTenant, isUuid } from '../../lib/db/tenant-context';
import { kickOutbox } from '../../lib/outbox';
import { Membership, Plan, RefreshToken, Tenant, UserRecord } from './tenant.entity';

const EMAIL = /^[^\s@"<>()[\],;:]{1,64}@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/i;
const COMMON = new Set(['password1234', 'passwordpassword', '123456789012', 'qwertyuiop12', 'letmein12345', 'liquidabt123']);

export function normalizeEmail(raw: string): string {
  const email = raw.trim().toLowerCase();
  if (email.length > 254 || !EMAIL.test(email)) throw new AppError(ErrorCode.INVALID_EMAIL, 'email address is not valid');
  return email;
}

/** At least 12 characters, three kinds of character, not a known-common password, not the email. */
export function assertStrongPassword(password: string, email: string): void {
  const kinds = [/[a-z]/, /[A-Z]/, /\d/, /[^A-Za-z0-9]/].filter((re) => re.test(password)).length;
  const weak =
    password.length < 12 ||
    password.length > 256 ||
    kinds < 3 ||
    COMMON.has(password.toLowerCase()) ||
    password.toLowerCase().includes(email.split('@')[0]);
  if (weak) {
    throw new AppError(
      ErrorCode.WEAK_PASSWORD,
      'password must be 12 to 256 characters, mix three of lower case, upper case, digits and symbols, and not contain your email name',
    );
  }
}

export type Session = {
  accessToken: string;
  accessTokenExpiresAt: Date;
  refreshToken: string;
  user: { id: string; email: string; role: Role; tenantId: string };
  tenant: Tenant;
};

// Verifying against a real hash when the user does not exist keeps timing the same either way.
let dummyHash: Promise<string> | undefined;

const invalidCredentials = (): AppError => new AppError(ErrorCode.INVALID_CREDENTIALS, 'email or password is incorrect');

/** Sign-up, login and refresh. Public tables only; the audit fact goes to the tenant's outbox. */
export class AuthService {
  constructor(
    private readonly orm: MikroORM,
    private readonly bus: EventBus,
    private readonly jwtSecret: string,
  ) {}

  async signUp(input: { tenantName: string; email: string; password: string; timezone?: string | null }): Promise<Session> {
    const email = normalizeEmail(input.email);
    assertStrongPassword(input.password, email);
    const tenantName = input.tenantName.trim();
    if (tenantName.length < 1 || tenantName.length > 200) {
      throw new AppError(ErrorCode.BAD_USER_INPUT, 'tenantName must be 1 to 200 characters', { field: 'tenantName' });
    }
    const timezone = input.timezone ?? 'Australia/Sydney';
    if (!isTimeZone(timezone)) throw new AppError(ErrorCode.BAD_USER_INPUT, 'timezone is not a valid IANA zone', { field: 'timezone' });
    const passwordHash = await hash(input.password);
    const now = new Date();
    try {
      const session = await this.orm.em.fork().transactional(async (em) => {
        if (await em.count(UserRecord, { email })) throw new AppError(ErrorCode.EMAIL_TAKEN, 'an account with this email already exists');
        const tenant = em.create(Tenant, { id: randomUUID(), name: tenantName, plan: Plan.STANDARD, schemaName: 'pool', timezone, createdAt: now });
        const user = em.create(UserRecord, { id: randomUUID(), email, passwordHash, createdAt: now });
        // Entities carry plain ids (no ORM relations), so flush parents before the membership row.
        await em.flush();
        em.create(Membership, { tenantId: tenant.id, userId: user.id, role: 'OWNER', createdAt: now });
        await em.flush();
        await enterTenant(em, tenant.schemaName, tenant.id);
        await recordAudit(em, {
          eventType: 'tenant.signed_up',
          actorId: user.id,
          subjectType: 'Tenant',
          subjectId: tenant.id,
          data: { tenantName, email, role: 'OWNER', timezone },
        });
        return this.issue(em, user, tenant, 'OWNER', randomUUID());
      });
      await kickOutbox(this.bus);
      return session;
    } catch (err) {
      if ((err as { code?: string }).code === '23505') throw new AppError(ErrorCode.EMAIL_TAKEN, 'an account with this email already exists');
      throw err;
    }
  }

  async login(input: { email: string; password: string; tenantId?: string | null }): Promise<Session> {
    let email: string;
    try {
      email = normalizeEmail(input.email);
    } catch {
      throw invalidCredentials();
    }
    const em = this.orm.em.fork();
    const user = await em.findOne(UserRecord, { email }, { populate: ['passwordHash'] });
    dummyHash ??= hash('not-a-real-password-but-a-real-hash');
    const ok = await verify(user?.passwordHash ?? (await dummyHash), input.password).catch(() => false);
    if (!user || !ok) throw invalidCredentials();
    const memberships = await em.find(Membership, { userId: user.id }, { orderBy: { createdAt: 'asc' } });
    const membership = input.tenantId ? memberships.find((m) => m.tenantId === input.tenantId) : memberships[0];
    if (!membership) throw invalidCredentials();
    const session = await em.transactional(async (tx) => {
      const tenant = await tx.findOneOrFail(Tenant, { id: membership.tenantId });
      await enterTenant(tx, tenant.schemaName, tenant.id);
      await recordAudit(tx, {
        eventType: 'auth.logged_in',
        actorId: user.id,
        subjectType: 'User',
        subjectId: user.id,
        data: { method: 'password' },
      });
      return this.issue(tx, user, tenant, membership.role, randomUUID());
    });
    await kickOutbox(this.bus);
    return session;
  }

  /** Rotates a refresh token. Presenting a used one revokes its whole family (theft detection). */
  async refresh(token: string): Promise<Session> {
    const unauth = (): AppError => new AppError(ErrorCode.UNAUTHENTICATED, 'refresh token is invalid or expired');
    const em = this.orm.em.fork();
    const outcome = await em.transactional(async (tx) => {
      const row = await tx.findOne(RefreshToken, { tokenHash: hashToken(token) }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (!row) return 'invalid' as const;
      if (row.usedAt || row.revokedAt) {
        await tx.nativeUpdate(RefreshToken, { familyId: row.familyId, revokedAt: null }, { revokedAt: new Date() });
        return 'reused' as const;
      }
      if (row.expiresAt.getTime() <= Date.now()) return 'invalid' as const;
      const membership = await tx.findOne(Membership, { tenantId: row.tenantId, userId: row.userId });
      if (!membership) return 'invalid' as const;
      row.usedAt = new Date();
      const user = await tx.findOneOrFail(UserRecord, { id: row.userId });
      const tenant = await tx.findOneOrFail(Tenant, { id: row.tenantId });
      return this.issue(tx, user, tenant, membership.role, row.familyId);
    });
    // The family's revocation above has committed; the caller still only learns "invalid".
    if (typeof outcome === 'string') throw unauth();
    return outcome;
  }

  async tenant(id: string): Promise<Tenant | null> {
    if (!isUuid(id)) return null;
    return this.orm.em.fork().findOne(Tenant, { id });
  }

  async user(tenantId: string, userId: string): Promise<{ id: string; email: string; role: Role; tenantId: string } | null> {
    if (!isUuid(userId)) return null;
    const em = this.orm.em.fork();
    const m = await em.findOne(Membership, { tenantId, userId });
    if (!m) return null;
    const u = await em.findOneOrFail(UserRecord, { id: userId });
    return { id: u.id, email: u.email, role: m.role, tenantId };
  }

  private async issue(em: EntityManager, user: UserRecord, tenant: Tenant, role: Role, familyId: string): Promise<Session> {
    const accessToken = await signAccessToken({ sub: user.id, tid: tenant.id, role, amr: ['pwd'] }, this.jwtSecret);
    const refresh = newOpaqueToken();
    const now = Date.now();
    em.create(RefreshToken, {
      id: randomUUID(),
      familyId,
      userId: user.id,
      tenantId: tenant.id,
      tokenHash: refresh.hash,
      expiresAt: new Date(now + REFRESH_TOKEN_TTL_S * 1000),
      usedAt: null,
      revokedAt: null,
      createdAt: new Date(now),
    });
    await em.flush();
    return {
      accessToken,
      accessTokenExpiresAt: new Date(now + ACCESS_TOKEN_TTL_S * 1000),
      refreshToken: refresh.token,
      user: { id: user.id, email: user.email, role, tenantId: tenant.id },
      tenant,
    };
  }
}

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-AU', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}
