import type { EntityManager } from '@mikro-orm/postgresql';
import type { Scope } from '../../../lib/access';
import type { Role } from '../../../lib/auth/tokens';
import { badInput, notFound } from '../../../lib/errors';
import type { NoticeType } from '../../../lib/events/notices';

/** Notice types a member can get by email (each has a template in email-templates.ts). */
export const EMAIL_NOTICE_TYPES = ['purchase.filled', 'purchase.failed'] as const satisfies readonly NoticeType[];
export type EmailNoticeType = (typeof EMAIL_NOTICE_TYPES)[number];

export const isEmailNoticeType = (t: string): t is EmailNoticeType => (EMAIL_NOTICE_TYPES as readonly string[]).includes(t);

/** With no choice of their own: OWNERs and ADMINs hear about every purchase's outcome; USERs and VIEWERs hear nothing. */
export function defaultEmail(role: Role, type: NoticeType): boolean {
  return (role === 'OWNER' || role === 'ADMIN') && (type === 'purchase.filled' || type === 'purchase.failed');
}

export type PreferenceView = { type: EmailNoticeType; email: boolean; explicit: boolean };

/** A member of the notice's tenant who is to get it by email. */
export type EmailRecipient = { userId: string; email: string };

/**
 * The members of the transaction's tenant who get `type` by email: their own choice, else the default
 * for their role. Runs in a tenant transaction (row-level security on membership and preferences).
 */
export async function emailRecipients(em: EntityManager, tenantId: string, type: NoticeType): Promise<EmailRecipient[]> {
  const rows = await em.execute<{ user_id: string; email: string; role: Role; chosen: boolean | null }[]>(
    `select m.user_id::text as user_id, u.email, m.role, p.email as chosen
       from public.membership m
       join public.app_user u on u.id = m.user_id
       left join notification_preference p on p.user_id = m.user_id and p.notice_type = ?
      where m.tenant_id = ?
      order by m.created_at, m.user_id`,
    [type, tenantId],
  );
  return rows.filter((r) => r.chosen ?? defaultEmail(r.role, type)).map((r) => ({ userId: r.user_id, email: r.email }));
}

/** The signed-in member's own notification choices. */
export class NotificationPreferenceService {
  async list(scope: Scope): Promise<PreferenceView[]> {
    return scope.tx(async ({ em }) => {
      const role = await memberRole(em, scope);
      const rows = await em.execute<{ notice_type: string; email: boolean }[]>(`select notice_type, email from notification_preference where user_id = ?`, [scope.userId]);
      const chosen = new Map(rows.map((r) => [r.notice_type, r.email]));
      return EMAIL_NOTICE_TYPES.map((type) => {
        const own = chosen.get(type);
        return { type, email: own ?? defaultEmail(role, type), explicit: own !== undefined };
      });
    });
  }

  async set(scope: Scope, type: string, email: boolean): Promise<PreferenceView> {
    if (!isEmailNoticeType(type)) throw badInput(`type must be one of ${EMAIL_NOTICE_TYPES.join(', ')}`, 'type');
    return scope.tx(async (tx) => {
      const { em } = tx;
      await memberRole(em, scope);
      await em.execute(
        `insert into notification_preference (user_id, notice_type, email, updated_at) values (?, ?, ?, now())
         on conflict (tenant_id, user_id, notice_type) do update set email = excluded.email, updated_at = excluded.updated_at`,
        [scope.userId, type, email],
      );
      await tx.audit({ eventType: 'notification.preference_set', actorId: scope.userId, subjectType: 'User', subjectId: scope.userId, data: { type, email } });
      return { type, email, explicit: true };
    });
  }
}

/** The caller's current role in the scope's tenant (not the token's, which may be older). */
async function memberRole(em: EntityManager, scope: Scope): Promise<Role> {
  const [m] = await em.execute<{ role: Role }[]>(`select role from public.membership where tenant_id = ? and user_id = ?`, [scope.tenantId, scope.userId]);
  if (!m) throw notFound('member');
  return m.role;
}
