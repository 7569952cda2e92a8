import { rls, tenantIdColumn } from '../../../lib/db/tenant-sql';
import type { TenantMigration } from '../../../lib/module';

export const NOTIFICATION_TENANT_TABLES = ['notification_preference', 'notification_delivery'] as const;

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
];
