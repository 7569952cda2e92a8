import type { EntityManager } from '@mikro-orm/postgresql';
import type { Scope } from '../../../lib/access';
import type { Role } from '../../../lib/auth/tokens';
import { badInput, notFound } from '../../../lib/errors';
import type { NoticeType } from '../../../lib/events/notices';
import { isE164, maskE164, normaliseE164 } from './phone-number';

/** Notice types a member can choose (each has an email template in email-templates.ts and an SMS in sms-templates.ts). */
export const EMAIL_NOTICE_TYPES = ['purchase.filled', 'purchase.failed', 'limit.reached', 'statement.ready', 'kyb.action_needed', 'report.ready'] as const satisfies readonly NoticeType[];
export type EmailNoticeType = (typeof EMAIL_NOTICE_TYPES)[number];

export const isEmailNoticeType = (t: string): t is EmailNoticeType => (EMAIL_NOTICE_TYPES as readonly string[]).includes(t);

export type Channel = 'email' | 'sms';

/**
 * With no choice of their own: OWNERs and ADMINs hear about every purchase's outcome, limits, KYB
 * actions needed and finished reports by email, and OWNERs get the monthly statement (it shows the
 * whole treasury); USERs and VIEWERs hear nothing.
 */
export function defaultEmail(role: Role, type: NoticeType): boolean {
  if (type === 'statement.ready') return role === 'OWNER';
  return (role === 'OWNER' || role === 'ADMIN') && isEmailNoticeType(type);
}

/** SMS only for those who opted in (it needs their number, and costs per message). */
export const defaultSms = (_role: Role, _type: NoticeType): boolean => false;

export type PreferenceView = { type: EmailNoticeType; email: boolean; sms: boolean; explicit: boolean };

/** A member of the notice's tenant who is to get it by email. */
export type EmailRecipient = { userId: string; email: string };
/** A member of the notice's tenant who is to get it by SMS (their number in E.164: personal data, never logged). */
export type SmsRecipient = { userId: string; number: string };

/** Personal data this sub-module keeps, for erasure plans (compliance/aml/erasure.ts PersonalField). */
export const NOTIFICATION_PERSONAL_FIELDS = [{ path: 'notification_contact.sms_number', category: 'CONTACT' as const }];

type MemberRow = { user_id: string; email: string; role: Role; email_chosen: boolean | null; sms_chosen: boolean | null; sms_number: string | null };

async function members(em: EntityManager, tenantId: string, type: NoticeType): Promise<MemberRow[]> {
  return em.execute<MemberRow[]>(
    `select m.user_id::text as user_id, u.email, m.role, p.email as email_chosen, p.sms as sms_chosen, c.sms_number
       from public.membership m
       join public.app_user u on u.id = m.user_id
       left join notification_preference p on p.user_id = m.user_id and p.notice_type = ?
       left join notification_contact c on c.user_id = m.user_id
      where m.tenant_id = ?
      order by m.created_at, m.user_id`,
    [type, tenantId],
  );
}

/**
 * The members of the transaction's tenant who get `type` by email: their own choice, else the default
 * for their role. Runs in a tenant transaction (row-level security on membership and preferences).
 */
export async function emailRecipients(em: EntityManager, tenantId: string, type: NoticeType): Promise<EmailRecipient[]> {
  return (await members(em, tenantId, type)).filter((r) => r.email_chosen ?? defaultEmail(r.role, type)).map((r) => ({ userId: r.user_id, email: r.email }));
}

/** The members who get `type` by SMS: opted in and with a number (a pseudonymised number gets nothing). */
export async function smsRecipients(em: EntityManager, tenantId: string, type: NoticeType): Promise<SmsRecipient[]> {
  return (await members(em, tenantId, type))
    .filter((r) => (r.sms_chosen ?? defaultSms(r.role, type)) && r.sms_number !== null && isE164(r.sms_number))
    .map((r) => ({ userId: r.user_id, number: r.sms_number ?? '' }));
}

/** A member's SMS number replaced by their pseudonym (erasure, compliance/aml/erasure.ts): nothing is sent to it again. */
export async function pseudonymiseSmsNumber(em: EntityManager, userId: string, pseudonym: string): Promise<void> {
  await em.execute(`update notification_contact set sms_number = ?, updated_at = now() where user_id = ?`, [pseudonym, userId]);
}

export type SmsNumberView = { number: string | null; masked: string | null };

/** The signed-in member's own notification choices. */
export class NotificationPreferenceService {
  async list(scope: Scope): Promise<PreferenceView[]> {
    return scope.tx(async ({ em }) => {
      const role = await memberRole(em, scope);
      const rows = await em.execute<{ notice_type: string; email: boolean | null; sms: boolean | null }[]>(
        `select notice_type, email, sms from notification_preference where user_id = ?`,
        [scope.userId],
      );
      const chosen = new Map(rows.map((r) => [r.notice_type, r]));
      return EMAIL_NOTICE_TYPES.map((type) => {
        const own = chosen.get(type);
        return {
          type,
          email: own?.email ?? defaultEmail(role, type),
          sms: own?.sms ?? defaultSms(role, type),
          explicit: own !== undefined && (own.email !== null || own.sms !== null),
        };
      });
    });
  }

  /** Sets one type's email and/or SMS choice; a channel left undefined keeps its current value. SMS on needs a number first. */
  async set(scope: Scope, type: string, choice: { email?: boolean | null; sms?: boolean | null }): Promise<PreferenceView> {
    if (!isEmailNoticeType(type)) throw badInput(`type must be one of ${EMAIL_NOTICE_TYPES.join(', ')}`, 'type');
    const email = choice.email ?? undefined;
    const sms = choice.sms ?? undefined;
    if (email === undefined && sms === undefined) throw badInput('set email, sms or both', 'email');
    return scope.tx(async (tx) => {
      const { em } = tx;
      const role = await memberRole(em, scope);
      if (sms === true) {
        const [c] = await em.execute<{ sms_number: string }[]>(`select sms_number from notification_contact where user_id = ?`, [scope.userId]);
        if (!c || !isE164(c.sms_number)) throw badInput('set an SMS number (setNotificationSmsNumber) before turning SMS on', 'sms');
      }
      const [row] = await em.execute<{ email: boolean | null; sms: boolean | null }[]>(
        `insert into notification_preference (user_id, notice_type, email, sms, updated_at) values (?, ?, ?, ?, now())
         on conflict (tenant_id, user_id, notice_type) do update
           set email = coalesce(?, notification_preference.email), sms = coalesce(?, notification_preference.sms), updated_at = excluded.updated_at
         returning email, sms`,
        [scope.userId, type, email ?? null, sms ?? null, email ?? null, sms ?? null],
      );
      await tx.audit({ eventType: 'notification.preference_set', actorId: scope.userId, subjectType: 'User', subjectId: scope.userId, data: { type, email: email ?? null, sms: sms ?? null } });
      return { type, email: row?.email ?? defaultEmail(role, type), sms: row?.sms ?? defaultSms(role, type), explicit: true };
    });
  }

  async smsNumber(scope: Scope): Promise<SmsNumberView> {
    return scope.tx(async ({ em }) => {
      await memberRole(em, scope);
      const [c] = await em.execute<{ sms_number: string }[]>(`select sms_number from notification_contact where user_id = ?`, [scope.userId]);
      return c && isE164(c.sms_number) ? { number: c.sms_number, masked: maskE164(c.sms_number) } : { number: null, masked: null };
    });
  }

  /**
   * Sets (E.164, separators allowed) or clears (null) the member's SMS number in this tenant. A bad number
   * is refused before anything is written. Clearing also turns SMS off for every type. The audit record
   * says that the number changed, never the number.
   */
  async setSmsNumber(scope: Scope, given: string | null | undefined): Promise<SmsNumberView> {
    const input = given ?? null;
    const number = input === null ? null : normaliseE164(input);
    if (input !== null && number === null) throw badInput('number must be in international E.164 form, e.g. +61412345678', 'number');
    return scope.tx(async (tx) => {
      const { em } = tx;
      await memberRole(em, scope);
      if (number === null) {
        await em.execute(`delete from notification_contact where user_id = ?`, [scope.userId]);
        await em.execute(`update notification_preference set sms = null, updated_at = now() where user_id = ? and sms is not null`, [scope.userId]);
      } else {
        await em.execute(
          `insert into notification_contact (user_id, sms_number, updated_at) values (?, ?, now())
           on conflict (tenant_id, user_id) do update set sms_number = excluded.sms_number, updated_at = excluded.updated_at`,
          [scope.userId, number],
        );
      }
      await tx.audit({ eventType: 'notification.sms_number_set', actorId: scope.userId, subjectType: 'User', subjectId: scope.userId, data: { set: number !== null } });
      return number === null ? { number: null, masked: null } : { number, masked: maskE164(number) };
    });
  }
}

/** The caller's current role in the scope's tenant (not the token's, which may be older). */
async function memberRole(em: EntityManager, scope: Scope): Promise<Role> {
  const [m] = await em.execute<{ role: Role }[]>(`select role from public.membership where tenant_id = ? and user_id = ?`, [scope.tenantId, scope.userId]);
  if (!m) throw notFound('member');
  return m.role;
}
