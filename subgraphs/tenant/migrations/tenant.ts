import { rls, tenantIdColumn } from '../../../lib/db/tenant-sql';
import type { TenantMigration } from '../../../lib/module';

/** Tenant's tenant tables (payments): integrations and the verified payment events they deliver. */
export const tenantTenantMigrations: TenantMigration[] = [
  {
    name: '0002_payment_events',
    up: (s) => [
      `create table if not exists "${s}".payment_integration (
        ${tenantIdColumn},
        id uuid not null,
        provider text not null check (provider in ('stripe', 'square', 'paypal')),
        name text not null check (length(name) between 1 and 120),
        credentials_sealed text not null,
        status text not null default 'ACTIVE' check (status in ('ACTIVE', 'DISCONNECTED')),
        created_at timestamptz not null default now(),
        primary key (tenant_id, id)
      )`,
      ...rls(s, 'payment_integration'),
      `grant select, insert, update on "${s}".payment_integration to abt_app`,

      // Raw verified deliveries, stored once per provider event id; replays change nothing.
      `create table if not exists "${s}".payment_event (
        ${tenantIdColumn},
        id uuid not null,
        integration_id uuid not null,
        provider text not null,
        provider_event_id text not null,
        event_type text not null,
        kind text not null check (kind in ('REVENUE', 'REFUND', 'BALANCE', 'IGNORED')),
        amount_cents bigint check (amount_cents >= 0),
        currency text,
        provider_object_id text,
        related_payment_id text,
        occurred_at timestamptz,
        status text not null check (status in ('RECEIVED', 'IGNORED', 'PROCESSED', 'SKIPPED')),
        status_reason text,
        raw jsonb not null,
        received_at timestamptz not null default now(),
        primary key (tenant_id, id),
        unique (tenant_id, provider, provider_event_id)
      )`,
      `create index if not exists payment_event_received_idx on "${s}".payment_event (tenant_id, received_at)`,
      ...rls(s, 'payment_event'),
      `grant select, insert, update on "${s}".payment_event to abt_app`,
    ],
  },
  {
    name: '0007_payment_events_api_raw_body',
    replaces: ['0007_payment_events_api'],
    up: (s) => [
      // The delivery's exact bytes, kept only when what `raw` stores had to differ from them
      // (U+0000 or an unpaired surrogate replaced by U+FFFD: PostgreSQL's jsonb holds neither).
      `alter table "${s}".payment_event add column if not exists raw_body bytea`,
      // paymentEvents(integrationId) pages one integration's events newest first.
      `create index if not exists payment_event_integration_idx on "${s}".payment_event (tenant_id, integration_id, received_at)`,
    ],
  },
];
