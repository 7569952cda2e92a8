import { randomUUID } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';
import { LockMode } from '@mikro-orm/core';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { Principal, Scope } from '../../../lib/access';
import { forgetTenant, forgetUser } from '../../../lib/auth/credentials';
import { ROLES, hashToken, newOpaqueToken, type Role } from '../../../lib/auth/tokens';
import { AppError, ErrorCode, badInput, notFound } from '../../../lib/errors';
import { isUuid } from '../../../lib/db/tenant-context';
import type { AuthService } from './auth.service';
import { actorOf, assertStrongPassword, auditAuth, normalizeEmail, type Session } from './auth.shared';
import { Invitation, Membership, RefreshToken, Tenant, UserRecord } from './tenant.entity';

export const INVITATION_TTL_MS = 7 * 24 * 3600 * 1000;

const lastOwner = (): AppError =>
  new AppError(ErrorCode.CONFLICT, 'a tenant always keeps at least one OWNER: make someone else OWNER first');
const invalidInvitation = (): AppError => new AppError(ErrorCode.UNAUTHENTICATED, 'invitation is invalid, already used or expired');

/** Called by the service when an action touches the OWNER role; it asks the access gate for `owner:manage`. */
export type RequireOwner = () => void;

export const assertRole = (role: string): Role => {
  if (!ROLES.includes(role as Role)) throw badInput(`role must be one of ${ROLES.join(', ')}`, 'role');
  return role as Role;
};

/** Members, invitations, role changes and tenant security settings. Every change is audited in the tenant's chain. */
export class MemberService {
  constructor(
    private readonly orm: MikroORM,
    private readonly auth: AuthService,
  ) {}

  async list(scope: Scope): Promise<{ userId: string; email: string; role: Role; joinedAt: Date }[]> {
    return scope.tx(async ({ em }) => {
      const ms = await em.find(Membership, { tenantId: scope.tenantId }, { orderBy: { createdAt: 'asc' } });
      const users = await em.find(UserRecord, { id: { $in: ms.map((m) => m.userId) } });
      const email = new Map(users.map((u) => [u.id, u.email]));
      return ms.map((m) => ({ userId: m.userId, email: email.get(m.userId) ?? '', role: m.role, joinedAt: m.createdAt }));
    });
  }

  invitations(scope: Scope): Promise<Invitation[]> {
    return scope.tx(({ em }) => em.find(Invitation, { tenantId: scope.tenantId }, { orderBy: { createdAt: 'desc' }, limit: 200 }));
  }

  /** A single-use token, valid 7 days; only its hash is stored. Earlier pending invitations for the email are revoked. */
  async invite(scope: Scope, rawEmail: string, role: Role, requireOwner: RequireOwner): Promise<{ invitation: Invitation; token: string }> {
    const email = normalizeEmail(rawEmail);
    if (role === 'OWNER') requireOwner();
    const { token, hash: tokenHash } = newOpaqueToken();
    const result = await scope.tx(async (tx) => {
      const { em } = tx;
      const existing = await em.findOne(UserRecord, { email });
      if (existing && (await em.count(Membership, { tenantId: scope.tenantId, userId: existing.id }))) {
        throw new AppError(ErrorCode.CONFLICT, 'this person is already a member');
      }
      const now = new Date();
      await em.nativeUpdate(Invitation, { tenantId: scope.tenantId, email, acceptedAt: null, revokedAt: null }, { revokedAt: now });
      const invitation = em.create(Invitation, {
        id: randomUUID(),
        tenantId: scope.tenantId,
        email,
        role,
        tokenHash,
        invitedBy: scope.userId,
        expiresAt: new Date(now.getTime() + INVITATION_TTL_MS),
        createdAt: now,
      });
      await em.flush();
      // The notification (mail) would be enqueued here through the outbox once a mail service exists.
      await auditAuth(tx, 'member.invited', actorOf(scope), { type: 'Invitation', id: invitation.id }, { email, role, expiresAt: invitation.expiresAt.toISOString() });
      return invitation;
    });
    return { invitation: result, token };
  }

  async revokeInvitation(scope: Scope, id: string, requireOwner: RequireOwner): Promise<Invitation> {
    if (!isUuid(id)) throw notFound('invitation');
    const inv = await scope.tx(async (tx) => {
      const { em } = tx;
      const found = await em.findOne(Invitation, { id, tenantId: scope.tenantId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (!found) throw notFound('invitation');
      if (found.role === 'OWNER') requireOwner();
      if (!found.acceptedAt && !found.revokedAt) {
        found.revokedAt = new Date();
        await em.flush();
        await auditAuth(tx, 'member.invitation_revoked', actorOf(scope), { type: 'Invitation', id }, { email: found.email });
      }
      return found;
    });
    return inv;
  }

  /**
   * Joins the tenant with the invitation's role. A new email gets an account (password required);
   * an existing account must be signed in (any tenant) or give its password (not possible with MFA on).
   */
  async accept(p: Principal, token: string, password: string | null | undefined): Promise<Session> {
    const tokenHash = hashToken(token);
    const probe = await this.orm.em.fork().findOne(Invitation, { tokenHash });
    if (!probe) throw invalidInvitation();
    const known = await this.orm.em.fork().findOne(UserRecord, { email: probe.email }, { populate: ['passwordHash'] });
    let amr = ['pwd'];
    let newPasswordHash: string | undefined;
    if (known) {
      if (p.kind === 'user' && p.userId === known.id) amr = p.amr;
      else if (p.kind === 'user') throw new AppError(ErrorCode.FORBIDDEN, 'this invitation is for another account');
      else if (!password || known.mfaEnabledAt || !(await verify(known.passwordHash, password).catch(() => false))) {
        throw new AppError(ErrorCode.UNAUTHENTICATED, 'sign in to your existing account (or give its password) to accept this invitation');
      }
    } else {
      if (p.kind === 'user') throw new AppError(ErrorCode.FORBIDDEN, 'this invitation is for another account');
      if (!password) throw badInput('choose a password to create your account', 'password');
      assertStrongPassword(password, probe.email);
      newPasswordHash = await hash(password);
    }
    try {
      return await this.auth.tenants.platform(async ({ em, enter }) => {
        const inv = await em.findOne(Invitation, { tokenHash }, { lockMode: LockMode.PESSIMISTIC_WRITE });
        if (!inv || inv.acceptedAt || inv.revokedAt || inv.expiresAt.getTime() <= Date.now()) throw invalidInvitation();
        const now = new Date();
        let user = known ? await em.findOneOrFail(UserRecord, { id: known.id }) : null;
        if (!user) {
          user = em.create(UserRecord, { id: randomUUID(), email: inv.email, passwordHash: newPasswordHash!, createdAt: now });
          await em.flush();
        } else if (await em.count(Membership, { tenantId: inv.tenantId, userId: user.id })) {
          throw new AppError(ErrorCode.CONFLICT, 'you are already a member of this tenant');
        }
        em.create(Membership, { tenantId: inv.tenantId, userId: user.id, role: inv.role, createdAt: now });
        inv.acceptedAt = now;
        inv.acceptedBy = user.id;
        await em.flush();
        const tenant = await em.findOneOrFail(Tenant, { id: inv.tenantId });
        const tx = await enter(tenant.id);
        await auditAuth(tx, 'member.invite_accepted', { id: user.id, type: 'user' }, { type: 'Invitation', id: inv.id }, {
          userId: user.id,
          email: inv.email,
          role: inv.role,
          newAccount: !known,
        });
        return this.auth.issue(em, user, tenant, inv.role, randomUUID(), amr);
      });
    } catch (err) {
      if ((err as { code?: string }).code === '23505') throw new AppError(ErrorCode.EMAIL_TAKEN, 'an account with this email already exists');
      throw err;
    }
  }

  /** Locks every membership of the tenant: concurrent role changes and removals run one at a time. */
  private async lockMembers(em: EntityManager, tenantId: string): Promise<Membership[]> {
    return em.find(Membership, { tenantId }, { lockMode: LockMode.PESSIMISTIC_WRITE, orderBy: { userId: 'asc' } });
  }

  async changeRole(scope: Scope, userId: string, role: Role, requireOwner: RequireOwner): Promise<{ userId: string; email: string; role: Role; joinedAt: Date }> {
    if (!isUuid(userId)) throw notFound('member');
    if (role === 'OWNER') requireOwner();
    const out = await scope.tx(async (tx) => {
      const { em } = tx;
      const all = await this.lockMembers(em, scope.tenantId);
      const target = all.find((m) => m.userId === userId.toLowerCase());
      if (!target) throw notFound('member');
      if (target.role === 'OWNER') requireOwner();
      const from = target.role;
      if (from === 'OWNER' && role !== 'OWNER' && all.filter((m) => m.role === 'OWNER').length <= 1) throw lastOwner();
      if (from !== role) {
        target.role = role;
        await em.flush();
        await auditAuth(tx, 'member.role_changed', actorOf(scope), { type: 'User', id: target.userId }, { from, to: role });
      }
      const user = await em.findOneOrFail(UserRecord, { id: target.userId });
      return { userId: target.userId, email: user.email, role: target.role, joinedAt: target.createdAt };
    });
    forgetUser(out.userId);
    return out;
  }

  /** Removes a member; their sessions for this tenant end (refresh tokens revoked, access tokens refused). */
  async remove(scope: Scope, userId: string, requireOwner: RequireOwner): Promise<string> {
    if (!isUuid(userId)) throw notFound('member');
    const id = userId.toLowerCase();
    await scope.tx(async (tx) => {
      const { em } = tx;
      const all = await this.lockMembers(em, scope.tenantId);
      const target = all.find((m) => m.userId === id);
      if (!target) throw notFound('member');
      if (target.role === 'OWNER') {
        requireOwner();
        if (all.filter((m) => m.role === 'OWNER').length <= 1) throw lastOwner();
      }
      await em.nativeDelete(Membership, { tenantId: scope.tenantId, userId: id });
      await em.nativeUpdate(RefreshToken, { tenantId: scope.tenantId, userId: id, revokedAt: null }, { revokedAt: new Date() });
      await auditAuth(tx, 'member.removed', actorOf(scope), { type: 'User', id }, { role: target.role });
    });
    forgetUser(id);
    return id;
  }

  /** The caller (an OWNER) makes another member OWNER and becomes ADMIN. */
  async transferOwnership(scope: Scope, userId: string): Promise<{ userId: string; email: string; role: Role; joinedAt: Date }> {
    if (!isUuid(userId)) throw notFound('member');
    const id = userId.toLowerCase();
    if (id === scope.userId) throw badInput('you already own this tenant', 'userId');
    const out = await scope.tx(async (tx) => {
      const { em } = tx;
      const all = await this.lockMembers(em, scope.tenantId);
      const target = all.find((m) => m.userId === id);
      const me = all.find((m) => m.userId === scope.userId);
      if (!target) throw notFound('member');
      if (!me || me.role !== 'OWNER') throw new AppError(ErrorCode.FORBIDDEN, 'only an OWNER can transfer ownership');
      const from = target.role;
      target.role = 'OWNER';
      me.role = 'ADMIN';
      await em.flush();
      await auditAuth(tx, 'member.ownership_transferred', actorOf(scope), { type: 'User', id }, { from: scope.userId, to: id, previousRole: from });
      const user = await em.findOneOrFail(UserRecord, { id });
      return { userId: id, email: user.email, role: target.role, joinedAt: target.createdAt };
    });
    forgetUser(id);
    forgetUser(scope.userId);
    return out;
  }

  async setRequireMfaForAdmins(scope: Scope, enabled: boolean): Promise<Tenant> {
    const tenant = await scope.tx(async (tx) => {
      const { em } = tx;
      const t = await em.findOneOrFail(Tenant, { id: scope.tenantId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (t.requireMfaForAdmins !== enabled) {
        t.requireMfaForAdmins = enabled;
        await em.flush();
        await auditAuth(tx, 'tenant.security_changed', actorOf(scope), { type: 'Tenant', id: t.id }, { requireMfaForAdmins: enabled });
      }
      return t;
    });
    forgetTenant(scope.tenantId);
    return tenant;
  }
}
