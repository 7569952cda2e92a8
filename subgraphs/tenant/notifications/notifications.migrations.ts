import { rls, tenantIdColumn } from '../../../lib/db/tenant-sql';
import type { TenantMigration } from '../../../lib/module';

export const NOTIFICATION_TENANT_TABLES = ['notification_preference', 'notification_delivery', 'notification_contact'] as const;

/** Notifications (#12): members' explicit choices per notice type, and every delivery made (at most one per notice, member and channel). */
export const notificationTenantMigrations: TenantMigration[] = [
  {
    name: '0080_notifications',
    up: (s) => [
      // Only explicit choices are stored; no row means the default (notification-preferences.ts defaultEmail).
      `create table if not exists "${s}".notification_preference (
        ${tenantIdColumn},
        user_id uuid not null,
        notice_type text not null check (length(notice_type) between 1 and 64),
        email boolean not null,
        updated_at timestamptz not null default now(),
        primary key (tenant_id, user_id, notice_type)
      )`,
      ...rls(s, 'notification_preference'),
      `grant select, insert, update on "${s}".notification_preference to abt_app`,

      // The idempotency record of the sinks: a re-run job finds the row and sends nothing (tenant_id leads, as in every tenant key).
      `create table if not exists "${s}".notification_delivery (
        ${tenantIdColumn},
        notice_id uuid not null,
        user_id uuid not null,
        channel text not null check (channel in ('email')),
        notice_type text not null,
        message_id text,
        sent_at timestamptz not null default now(),
        primary key (tenant_id, notice_id, user_id, channel)
      )`,
      `create index if not exists notification_delivery_sent_idx on "${s}".notification_delivery (tenant_id, sent_at)`,
      ...rls(s, 'notification_delivery'),
      `grant select, insert, update on "${s}".notification_delivery to abt_app`,
    ],
  },
  {
    // After 0090_outbound_webhooks: SMS beside email (#12).
    name: '0095_notification_sms',
    up: (s) => [
      // A choice may now be about one channel only: null is "the default" for that channel.
      `alter table "${s}".notification_preference alter column email drop not null`,
      `alter table "${s}".notification_preference add column if not exists sms boolean`,
      `alter table "${s}".notification_delivery drop constraint if exists notification_delivery_channel_check`,
      `alter table "${s}".notification_delivery add constraint notification_delivery_channel_check check (channel in ('email', 'sms'))`,

      // A member's SMS number in this tenant (personal data, category CONTACT): E.164, or the member's
      // pseudonym once erased (then nothing is sent); never logged. Per tenant, under row-level security.
      `create table if not exists "${s}".notification_contact (
        ${tenantIdColumn},
        user_id uuid not null,
        sms_number text not null check (sms_number ~ '^\\+[1-9][0-9]{1,14}$' or sms_number ~ '^pseud_[A-Za-z0-9_-]{1,64}$'),
        updated_at timestamptz not null default now(),
        primary key (tenant_id, user_id)
      )`,
      ...rls(s, 'notification_contact'),
      `grant select, insert, update, delete on "${s}".notification_contact to abt_app`,
    ],
  },
];
