import { randomUUID } from 'node:crypto';
import { LockMode } from '@mikro-orm/core';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { Scope } from '../../../lib/access';
import { forgetUser } from '../../../lib/auth/credentials';
import {
  RECOVERY_CODE_COUNT,
  hashRecoveryCode,
  hexEqual,
  looksLikeTotp,
  newRecoveryCode,
  newTotpSecret,
  totpUri,
  verifyTotp,
} from '../../../lib/auth/totp';
import type { EventBus } from '../../../lib/bus';
import { keyIdOf, open, reseal, seal, type KeyRing } from '../../../lib/crypto/secret-box';
import { log } from '../../../lib/logger';
import { AppError, ErrorCode } from '../../../lib/errors';
import { TenantDirectory } from '../../../lib/db/tenant-context';
import { TenantTransactions, type PlatformTx, type TenantTx } from '../../../lib/db/tenant-tx';
import type { LoginThrottle } from './login-throttle';
import { THROTTLE_RULES, throttleKey } from './login-throttle';
import { RecoveryCode, Tenant, UserRecord } from './tenant.entity';
import { accountLocked, actorOf, auditAuth, type RequestMeta, type Session } from './auth.shared';

const aad = (userId: string): string => `user:${userId}:totp`;
const badCode = (): AppError => new AppError(ErrorCode.INVALID_CREDENTIALS, 'the code is incorrect or was already used');

export type SecondFactor = 'totp' | 'recovery_code';

/** TOTP enrolment, confirmation, recovery codes and the second login step. Secrets are sealed at rest. */
export class MfaService {
  private readonly tenants: TenantTransactions;

  constructor(
    private readonly orm: MikroORM,
    bus: EventBus,
    private readonly ring: KeyRing,
    private readonly throttle: LoginThrottle,
  ) {
    this.tenants = new TenantTransactions(orm, new TenantDirectory(orm), bus);
  }

  /** Starts enrolment: a new secret (pending until confirmed) and its otpauth:// URI. */
  async enroll(scope: Scope): Promise<{ secret: string; otpauthUri: string }> {
    const secret = newTotpSecret();
    const email = await scope.tx(async (tx) => {
      const { em } = tx;
      const user = await em.findOneOrFail(UserRecord, { id: scope.userId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (user.mfaEnabledAt) throw new AppError(ErrorCode.CONFLICT, 'MFA is already enabled; disable it first to enrol again');
      user.mfaPendingSecretSealed = seal(this.ring, secret, aad(user.id));
      await em.flush();
      await auditAuth(tx, 'mfa.enrolment_started', actorOf(scope), { type: 'User', id: user.id });
      return user.email;
    });
    return { secret, otpauthUri: totpUri(email, secret) };
  }

  /** Confirms enrolment with a current code; returns 10 single-use recovery codes, shown once. */
  async confirm(scope: Scope, code: string): Promise<string[]> {
    const codes = await scope.tx(async (tx) => {
      const { em } = tx;
      const user = await em.findOneOrFail(UserRecord, { id: scope.userId }, { lockMode: LockMode.PESSIMISTIC_WRITE, populate: ['mfaPendingSecretSealed'] });
      if (user.mfaEnabledAt) throw new AppError(ErrorCode.CONFLICT, 'MFA is already enabled');
      if (!user.mfaPendingSecretSealed) throw new AppError(ErrorCode.CONFLICT, 'start MFA enrolment first');
      const step = await verifyTotp(open(this.ring, user.mfaPendingSecretSealed, aad(user.id)), code);
      if (step === null) throw badCode();
      user.mfaSecretSealed = user.mfaPendingSecretSealed;
      user.mfaPendingSecretSealed = null;
      user.mfaEnabledAt = new Date();
      user.mfaLastTimeStep = String(step);
      const fresh = await this.replaceRecoveryCodes(em, user.id);
      await em.flush();
      await auditAuth(tx, 'mfa.enabled', actorOf(scope), { type: 'User', id: user.id });
      return fresh;
    });
    return codes;
  }

  /** Turns MFA off after a valid code (TOTP or recovery). */
  async disable(scope: Scope, code: string): Promise<boolean> {
    await this.withFactor(scope.userId, code, {}, async ({ em, enter }, user, method) => {
      user.mfaSecretSealed = null;
      user.mfaPendingSecretSealed = null;
      user.mfaEnabledAt = null;
      user.mfaLastTimeStep = null;
      await em.nativeDelete(RecoveryCode, { userId: user.id });
      await em.flush();
      const tx = await enter(scope.tenantId);
      await auditAuth(tx, 'mfa.disabled', actorOf(scope), { type: 'User', id: user.id }, { method });
    });
    forgetUser(scope.userId);
    return true;
  }

  /** The login's second step; `then` issues the session in the same transaction once the code is accepted. */
  async completeLogin(
    userId: string,
    tenantId: string,
    code: string,
    meta: RequestMeta,
    then: (tx: TenantTx, user: UserRecord, tenant: Tenant, method: string) => Promise<Session>,
  ): Promise<Session> {
    return this.withFactor(userId, code, meta, async ({ em, enter }, user, method) => {
      const tx = await enter(tenantId);
      const tenant = await em.findOneOrFail(Tenant, { id: tenantId });
      const actor = { id: user.id, type: 'user' } as const;
      if (method === 'recovery_code') {
        const left = await em.count(RecoveryCode, { userId: user.id, usedAt: null });
        await auditAuth(tx, 'auth.recovery_code_used', actor, { type: 'User', id: user.id }, { remaining: left });
      } else {
        await auditAuth(tx, 'auth.mfa_used', actor, { type: 'User', id: user.id }, { method: 'totp' });
      }
      return then(tx, user, tenant, method === 'totp' ? 'password+totp' : 'password+recovery_code');
    }, tenantId);
  }

  /**
   * Re-seals every TOTP secret (enabled or pending) not under the ring's current key: per user, one
   * transaction that locks the row and enters the user's first tenant, whose audit chain records it
   * (key ids only). Idempotent; a value no key opens is left as it is and counted.
   */
  async resealSecrets(): Promise<{ resealed: number; failed: number }> {
    const current = this.ring.current;
    const stale = await this.orm.em
      .fork()
      .getConnection()
      .execute<{ id: string }[]>(
        `select id from public.app_user
          where (mfa_secret_sealed is not null and split_part(mfa_secret_sealed, '.', 2) <> ?)
             or (mfa_pending_secret_sealed is not null and split_part(mfa_pending_secret_sealed, '.', 2) <> ?)
          order by id`,
        [current, current],
      );
    const report = { resealed: 0, failed: 0 };
    for (const { id } of stale) {
      try {
        const n = await this.tenants.platform(async ({ em, enter }) => {
          // Raw SQL only: the workers' ORM does not map the tenant subgraph's entities.
          const [u] = await em.execute<{ s: string | null; p: string | null; tenant_id: string | null; schema_name: string | null }[]>(
            `select u.mfa_secret_sealed as s, u.mfa_pending_secret_sealed as p, t.id as tenant_id, t.schema_name
               from public.app_user u
               left join lateral (select m.tenant_id from public.membership m where m.user_id = u.id order by m.created_at limit 1) m on true
               left join public.tenant t on t.id = m.tenant_id
              where u.id = ? for update of u`,
            [id],
          );
          if (!u) return 0;
          const move = (v: string | null): string | null => (v && keyIdOf(v) !== current ? reseal(this.ring, v, aad(id)) : v);
          const from = [u.s, u.p].filter((v): v is string => v !== null && keyIdOf(v) !== current).map(keyIdOf);
          if (from.length === 0) return 0;
          const [s, p] = [move(u.s), move(u.p)];
          const tx = u.tenant_id ? await enter(u.tenant_id) : null;
          await em.execute(`update public.app_user set mfa_secret_sealed = ?, mfa_pending_secret_sealed = ? where id = ?`, [s, p, id]);
          if (tx) {
            await tx.audit({
              eventType: 'mfa.secret_resealed',
              actorId: null,
              subjectType: 'User',
              subjectId: id,
              data: { fromKeyIds: [...new Set(from)].sort(), toKeyId: current, actorType: 'system' },
            });
          }
          return 1;
        });
        report.resealed += n;
      } catch (err) {
        report.failed++;
        log().error({ userId: id, err: (err as Error).name }, 'MFA secret could not be re-sealed');
      }
    }
    return report;
  }

  /**
   * Checks a second factor for the user, throttled per user. TOTP codes are never accepted twice
   * (the accepted time step is stored); recovery codes are compared in constant time and used once.
   */
  private async withFactor<T>(
    userId: string,
    code: string,
    meta: RequestMeta,
    then: (p: PlatformTx, user: UserRecord, method: SecondFactor) => Promise<T>,
    auditTenantId?: string,
  ): Promise<T> {
    const charge = await this.throttle.charge([{ key: throttleKey('mfa', userId), rule: THROTTLE_RULES.mfa }]);
    if (charge.retryAfterS > 0) throw accountLocked(charge.retryAfterS);
    const outcome = await this.tenants.platform(async (p): Promise<{ ok: true; value: T } | { ok: false }> => {
      const em = p.em;
      const user = await em.findOne(UserRecord, { id: userId }, { lockMode: LockMode.PESSIMISTIC_WRITE, populate: ['mfaSecretSealed'] });
      if (!user?.mfaEnabledAt || !user.mfaSecretSealed) throw new AppError(ErrorCode.CONFLICT, 'MFA is not enabled');
      let method: SecondFactor | null = null;
      if (looksLikeTotp(code)) {
        const last = user.mfaLastTimeStep === null ? null : Number(user.mfaLastTimeStep);
        const step = await verifyTotp(open(this.ring, user.mfaSecretSealed, aad(user.id)), code, last);
        if (step !== null) {
          user.mfaLastTimeStep = String(step);
          method = 'totp';
        }
      } else {
        const presented = hashRecoveryCode(user.id, code);
        const unused = await em.find(RecoveryCode, { userId: user.id, usedAt: null });
        let match: RecoveryCode | undefined;
        // Compare against every code, in constant time each, whatever matches first.
        for (const rc of unused) if (hexEqual(rc.codeHash, presented) && !match) match = rc;
        if (match) {
          match.usedAt = new Date();
          method = 'recovery_code';
        }
      }
      if (!method) return { ok: false };
      await em.flush();
      return { ok: true, value: await then(p, user, method) };
    });
    if (!outcome.ok) {
      const lockedFor = await this.throttle.failed(charge.charges);
      if (auditTenantId) {
        await this.tenants.run(auditTenantId, async (tx) => {
          await auditAuth(tx, 'auth.mfa_failed', { id: userId, type: 'user' }, { type: 'User', id: userId }, { ip: meta.clientIp ?? null });
          if (lockedFor > 0) await auditAuth(tx, 'auth.locked_out', { id: userId, type: 'user' }, { type: 'User', id: userId }, { factor: 'mfa', retryAfterSeconds: lockedFor });
        });
      }
      throw badCode();
    }
    await this.throttle.succeeded(charge.charges);
    return outcome.value;
  }

  private async replaceRecoveryCodes(em: EntityManager, userId: string): Promise<string[]> {
    await em.nativeDelete(RecoveryCode, { userId });
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, () => newRecoveryCode());
    const now = new Date();
    for (const c of codes) em.create(RecoveryCode, { id: randomUUID(), userId, codeHash: hashRecoveryCode(userId, c), createdAt: now });
    return codes;
  }
}
