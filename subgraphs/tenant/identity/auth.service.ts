import { randomUUID } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';
import { LockMode } from '@mikro-orm/core';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { Principal, Scope } from '../../../lib/access';
import { forgetUser } from '../../../lib/auth/credentials';
import {
  ACCESS_TOKEN_TTL_S,
  REFRESH_TOKEN_TTL_S,
  hashToken,
  jwtKeyRing,
  newOpaqueToken,
  signAccessToken,
  signMfaChallenge,
  verifyMfaChallenge,
  type JwtKeys,
  type Role,
} from '../../../lib/auth/tokens';
import { derivedMfaKeyRing } from '../../../lib/auth/totp';
import type { EventBus } from '../../../lib/bus';
import type { KeyRing } from '../../../lib/crypto/secret-box';
import { AppError, ErrorCode, notFound } from '../../../lib/errors';
import { TenantDirectory, isUuid } from '../../../lib/db/tenant-context';
import { TenantTransactions, type TenantTx } from '../../../lib/db/tenant-tx';
import { announceTenantProfile } from './tenant-profile';
import { log } from '../../../lib/logger';
import { ApiKeyService } from './api-key.service';
import { LoginThrottle, THROTTLE_RULES, throttleKey } from './login-throttle';
import { MemberService } from './member.service';
import { MfaService } from './mfa.service';
import { Membership, Plan, RefreshToken, Tenant, UserRecord } from './tenant.entity';

import {
  EMAIL,
  accountLocked,
  assertStrongPassword,
  auditAuth,
  actorOf,
  dummyPasswordHash,
  invalidCredentials,
  normalizeEmail,
  type LoginOutcome,
  type RequestMeta,
  type Session,
  type SessionUser,
} from './auth.shared';

export { assertStrongPassword, normalizeEmail };
export type { LoginOutcome, RequestMeta, Session, SessionUser };

const NIL_UUID = '00000000-0000-0000-0000-000000000000';

export type AuthServiceOptions = {
  /** Seals TOTP secrets at rest; default: a key derived from the JWT secret (see lib/auth/totp.ts). */
  mfaKeyRing?: KeyRing;
};

/** Sign-up, login (throttled, two-step with MFA), refresh, logout and tenant switching. Public tables; audit facts go to the tenant's outbox. */
/** The secret of the ring's signing key; a ring whose current id has no key is a configuration error. */
function currentJwtSecret(keys: JwtKeys): string {
  const ring = jwtKeyRing(keys);
  const secret = ring.keys[ring.current];
  if (secret === undefined) throw new Error(`JWT key ring has no key for its current id "${ring.current}"`);
  return secret;
}

export class AuthService {
  readonly throttle: LoginThrottle;
  readonly mfa: MfaService;
  readonly members: MemberService;
  readonly apiKeys: ApiKeyService;
  /** The one way into a tenant (also for a platform transaction that continues in one). */
  readonly tenants: TenantTransactions;

  constructor(
    private readonly orm: MikroORM,
    bus: EventBus,
    private readonly jwtSecret: JwtKeys,
    opts: AuthServiceOptions = {},
  ) {
    this.throttle = new LoginThrottle(orm);
    this.tenants = new TenantTransactions(orm, new TenantDirectory(orm), bus);
    this.mfa = new MfaService(orm, bus, opts.mfaKeyRing ?? derivedMfaKeyRing(currentJwtSecret(jwtSecret)), this.throttle);
    this.members = new MemberService(orm, this);
    this.apiKeys = new ApiKeyService();
  }

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
      return await this.tenants.platform(async ({ em, enter }) => {
        if (await em.count(UserRecord, { email })) throw new AppError(ErrorCode.EMAIL_TAKEN, 'an account with this email already exists');
        const tenant = em.create(Tenant, { id: randomUUID(), name: tenantName, plan: Plan.STANDARD, schemaName: 'pool', timezone, createdAt: now });
        const user = em.create(UserRecord, { id: randomUUID(), email, passwordHash, createdAt: now });
        // Entities carry plain ids (no ORM relations), so flush parents before the membership row.
        await em.flush();
        em.create(Membership, { tenantId: tenant.id, userId: user.id, role: 'OWNER', createdAt: now });
        await em.flush();
        const tx = await enter(tenant.id);
        await announceTenantProfile(tx, { tenantId: tenant.id, timezone, asOf: tx.now });
        await tx.audit({
          eventType: 'tenant.signed_up',
          actorId: user.id,
          subjectType: 'Tenant',
          subjectId: tenant.id,
          data: { tenantName, email, role: 'OWNER', timezone },
        });
        return this.issue(em, user, tenant, 'OWNER', randomUUID(), ['pwd']);
      });
    } catch (err) {
      if ((err as { code?: string }).code === '23505') throw new AppError(ErrorCode.EMAIL_TAKEN, 'an account with this email already exists');
      throw err;
    }
  }

  /**
   * Password step. Throttled per account and per ip+account (PostgreSQL counters); unknown emails
   * get the same error, the same argon2 work and the same lockout as known ones. With MFA enrolled
   * it returns a challenge for verifyMfa instead of tokens.
   */
  async login(input: { email: string; password: string; tenantId?: string | null }, meta: RequestMeta = {}): Promise<LoginOutcome> {
    const email = input.email.trim().toLowerCase().slice(0, 320);
    const charge = await this.throttle.charge([
      { key: throttleKey('acct', email), rule: THROTTLE_RULES.account },
      { key: throttleKey('ipacct', meta.clientIp ?? 'unknown', email), rule: THROTTLE_RULES.ipAccount },
    ]);
    const em = this.orm.em.fork();
    const user = EMAIL.test(email) ? await em.findOne(UserRecord, { email }, { populate: ['passwordHash'] }) : null;
    // The same queries whether or not the account exists (a nil id finds nothing).
    const memberships = await em.find(Membership, { userId: user?.id ?? NIL_UUID }, { orderBy: { createdAt: 'asc' } });
    const requested = input.tenantId ? memberships.find((m) => m.tenantId === input.tenantId?.toLowerCase()) : memberships[0];
    // Where this account's security events go: the tenant asked for, else the first joined.
    const auditTenant = requested?.tenantId ?? memberships[0]?.tenantId;

    if (charge.retryAfterS > 0) {
      if (charge.newlyLocked && user && auditTenant) {
        this.auditInBackground(auditTenant, (tx) =>
          auditAuth(tx, 'auth.locked_out', { id: user.id, type: 'user' }, { type: 'User', id: user.id }, { retryAfterSeconds: charge.retryAfterS, ip: meta.clientIp ?? null }),
        );
      }
      log().warn({ retryAfterS: charge.retryAfterS, known: Boolean(user) }, 'login refused: locked');
      throw accountLocked(charge.retryAfterS);
    }

    const ok = await verify(user?.passwordHash ?? (await dummyPasswordHash()), input.password).catch(() => false);
    if (!user || !ok || !requested) {
      const lockedFor = await this.throttle.failed(charge.charges);
      if (user && auditTenant) {
        // Not awaited: a known account's failure must not answer measurably later than an unknown one's.
        this.auditInBackground(auditTenant, async (tx) => {
          await auditAuth(tx, 'auth.login_failed', { id: user.id, type: 'user' }, { type: 'User', id: user.id }, {
            reason: ok ? 'not a member of the requested tenant' : 'bad password',
            ip: meta.clientIp ?? null,
          });
          if (lockedFor > 0) {
            await auditAuth(tx, 'auth.locked_out', { id: user.id, type: 'user' }, { type: 'User', id: user.id }, { retryAfterSeconds: lockedFor, ip: meta.clientIp ?? null });
          }
        });
      } else {
        log().info({ lockedFor }, 'login failed for an unknown account');
      }
      throw invalidCredentials();
    }
    await this.throttle.succeeded(charge.charges);

    const mfaEnabled = user.mfaEnabledAt !== null;
    const outcome = await this.tenants.run(requested.tenantId, async (tx): Promise<LoginOutcome> => {
      const tenant = await tx.em.findOneOrFail(Tenant, { id: requested.tenantId });
      if (mfaEnabled) {
        await auditAuth(tx, 'auth.mfa_challenged', { id: user.id, type: 'user' }, { type: 'User', id: user.id }, { ip: meta.clientIp ?? null });
        const mfaChallenge = await signMfaChallenge({ sub: user.id, tid: tenant.id }, this.jwtSecret);
        return { mfaRequired: true, mfaChallenge, accessToken: null, accessTokenExpiresAt: null, refreshToken: null, user: null, tenant: null };
      }
      await tx.audit({
        eventType: 'auth.logged_in',
        actorId: user.id,
        subjectType: 'User',
        subjectId: user.id,
        data: { method: 'password', amr: ['pwd'], actorType: 'user' },
      });
      return { ...(await this.issue(tx.em, user, tenant, requested.role, randomUUID(), ['pwd'])), mfaRequired: false, mfaChallenge: null };
    });
    return outcome;
  }

  /** Second step: a TOTP code or an unused recovery code completes the login with amr ['pwd', 'otp']. */
  async verifyMfa(challenge: string, code: string, meta: RequestMeta = {}): Promise<Session> {
    const claims = await verifyMfaChallenge(challenge, this.jwtSecret);
    const em = this.orm.em.fork();
    const membership = await em.findOne(Membership, { userId: claims.sub, tenantId: claims.tid });
    if (!membership) throw new AppError(ErrorCode.UNAUTHENTICATED, 'mfa challenge is invalid or expired');
    const session = await this.mfa.completeLogin(claims.sub, membership.tenantId, code, meta, async (tx, user, tenant, method) => {
      await tx.audit({
        eventType: 'auth.logged_in',
        actorId: user.id,
        subjectType: 'User',
        subjectId: user.id,
        data: { method, amr: ['pwd', 'otp'], actorType: 'user' },
      });
      return this.issue(tx.em, user, tenant, membership.role, randomUUID(), ['pwd', 'otp']);
    });
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
        return { reused: row.userId } as const;
      }
      if (row.expiresAt.getTime() <= Date.now()) return 'invalid' as const;
      const membership = await tx.findOne(Membership, { tenantId: row.tenantId, userId: row.userId });
      if (!membership) return 'invalid' as const;
      const user = await tx.findOneOrFail(UserRecord, { id: row.userId });
      // A refresh token older than a logout-everywhere is dead too.
      if (user.tokensValidAfter && row.createdAt.getTime() < user.tokensValidAfter.getTime()) return 'invalid' as const;
      row.usedAt = new Date();
      const tenant = await tx.findOneOrFail(Tenant, { id: row.tenantId });
      return this.issue(tx, user, tenant, membership.role, row.familyId, row.amr);
    });
    // The family's revocation above has committed; the caller still only learns "invalid".
    if (outcome === 'invalid') throw unauth();
    if ('reused' in outcome) {
      forgetUser(outcome.reused);
      throw unauth();
    }
    return outcome;
  }

  /** Ends one session: its refresh-token family is revoked, and its access tokens stop working. Unknown tokens: no-op. */
  async logout(refreshToken: string): Promise<boolean> {
    const em = this.orm.em.fork();
    const row = await em.findOne(RefreshToken, { tokenHash: hashToken(refreshToken) });
    if (!row) return true;
    await this.auditIn(row.tenantId, async (tx) => {
      await tx.em.nativeUpdate(RefreshToken, { familyId: row.familyId, revokedAt: null }, { revokedAt: new Date() });
      await auditAuth(tx, 'auth.logged_out', { id: row.userId, type: 'user' }, { type: 'User', id: row.userId }, { sessionId: row.familyId });
    });
    forgetUser(row.userId);
    return true;
  }

  /** Every refresh token of the user (all tenants) is revoked and every access token issued before now is refused. */
  async logoutEverywhere(scope: Scope): Promise<boolean> {
    if (scope.actor !== 'user') throw new AppError(ErrorCode.FORBIDDEN, 'only a signed-in user can log out');
    await scope.tx(async (tx) => {
      const { em } = tx;
      const now = new Date();
      await em.nativeUpdate(UserRecord, { id: scope.userId }, { tokensValidAfter: now });
      const revoked = await em.nativeUpdate(RefreshToken, { userId: scope.userId, revokedAt: null }, { revokedAt: now });
      await auditAuth(tx, 'auth.logged_out_everywhere', actorOf(scope), { type: 'User', id: scope.userId }, { refreshTokensRevoked: revoked });
    });
    forgetUser(scope.userId);
    return true;
  }

  /** New tokens (a new session) for another tenant the caller belongs to; the second factor carries over. */
  async switchTenant(p: Principal, tenantId: string): Promise<Session> {
    if (p.kind !== 'user') throw new AppError(p.kind === 'anonymous' ? ErrorCode.UNAUTHENTICATED : ErrorCode.FORBIDDEN, 'sign in as a user to switch tenants');
    if (!isUuid(tenantId)) throw notFound('tenant');
    const target = tenantId.toLowerCase();
    const em = this.orm.em.fork();
    const membership = await em.findOne(Membership, { userId: p.userId, tenantId: target });
    if (!membership) throw notFound('tenant');
    return this.tenants.run(target, async (tx) => {
      const tenant = await tx.em.findOneOrFail(Tenant, { id: target });
      const user = await tx.em.findOneOrFail(UserRecord, { id: p.userId });
      await auditAuth(tx, 'auth.switched_tenant', { id: p.userId, type: 'user' }, { type: 'User', id: p.userId }, { fromTenantId: p.tenantId });
      return this.issue(tx.em, user, tenant, membership.role, randomUUID(), p.amr);
    });
  }

  async myTenants(userId: string): Promise<{ tenant: Tenant; role: Role; joinedAt: Date }[]> {
    const em = this.orm.em.fork();
    const memberships = await em.find(Membership, { userId }, { orderBy: { createdAt: 'asc' } });
    const tenants = await em.find(Tenant, { id: { $in: memberships.map((m) => m.tenantId) } });
    const byId = new Map(tenants.map((t) => [t.id, t]));
    return memberships.flatMap((m) => {
      const tenant = byId.get(m.tenantId);
      return tenant ? [{ tenant, role: m.role, joinedAt: m.createdAt }] : [];
    });
  }

  async tenant(id: string): Promise<Tenant | null> {
    if (!isUuid(id)) return null;
    return this.orm.em.fork().findOne(Tenant, { id });
  }

  async user(tenantId: string, userId: string): Promise<SessionUser | null> {
    if (!isUuid(userId)) return null;
    const em = this.orm.em.fork();
    const m = await em.findOne(Membership, { tenantId, userId });
    if (!m) return null;
    const u = await em.findOneOrFail(UserRecord, { id: userId });
    return { id: u.id, email: u.email, role: m.role, tenantId, mfaEnabled: u.mfaEnabledAt !== null };
  }

  /** auditIn without making the caller wait; failures are logged (used where timing must not tell accounts apart). */
  private auditInBackground(tenantId: string, fn: (tx: TenantTx) => Promise<unknown>): void {
    void this.auditIn(tenantId, fn).catch((err: Error) => log().error({ err: err.message, tenantId }, 'could not record an auth audit event'));
  }

  /** Runs fn in one transaction scoped to the tenant (for its audit chain); the relay wakes after the commit. */
  auditIn<T>(tenantId: string, fn: (tx: TenantTx) => Promise<T>): Promise<T> {
    return this.tenants.run(tenantId, fn);
  }

  /** Access token (with the session id) + a new refresh token in the family. */
  async issue(em: EntityManager, user: UserRecord, tenant: Tenant, role: Role, familyId: string, amr: string[]): Promise<Session> {
    const accessToken = await signAccessToken({ sub: user.id, tid: tenant.id, role, amr, sid: familyId }, this.jwtSecret);
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
      amr,
    });
    await em.flush();
    return {
      accessToken,
      accessTokenExpiresAt: new Date(now + ACCESS_TOKEN_TTL_S * 1000),
      refreshToken: refresh.token,
      user: { id: user.id, email: user.email, role, tenantId: tenant.id, mfaEnabled: user.mfaEnabledAt !== null },
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
