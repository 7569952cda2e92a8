import { rls, tenantIdColumn } from '../../../lib/db/tenant-sql';
import type { TenantMigration } from '../../../lib/module';

export const ENDPOINT_TENANT_TABLES = ['webhook_endpoint', 'webhook_delivery', 'webhook_attempt'] as const;

/** Outbound webhooks (#12): a tenant's endpoints (secrets sealed), each notice's delivery to each, and every attempt made. */
export const endpointTenantMigrations: TenantMigration[] = [
  {
    name: '0090_outbound_webhooks',
    up: (s) => [
      `create table if not exists "${s}".webhook_endpoint (
        ${tenantIdColumn},
        id uuid not null,
        url text not null check (length(url) between 8 and 2000),
        description text not null default '' check (length(description) <= 200),
        event_types text[] not null check (cardinality(event_types) between 1 and 32),
        enabled boolean not null default true,
        secret_sealed text not null,
        -- The secret being rotated out: still signs (a second v1=) until previous_secret_until.
        previous_secret_sealed text,
        previous_secret_until timestamptz,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        primary key (tenant_id, id)
      )`,
      `create index if not exists webhook_endpoint_created_idx on "${s}".webhook_endpoint (tenant_id, created_at)`,
      ...rls(s, 'webhook_endpoint'),
      `grant select, insert, update, delete on "${s}".webhook_endpoint to abt_app`,

      // One delivery per (endpoint, notice), claimed by the sink; a replay is another row naming the one it repeats.
      `create table if not exists "${s}".webhook_delivery (
        ${tenantIdColumn},
        id uuid not null,
        endpoint_id uuid not null,
        notice_id uuid not null,
        event_type text not null,
        body text not null,
        status text not null default 'PENDING' check (status in ('PENDING', 'RETRYING', 'SUCCEEDED', 'FAILED')),
        attempts integer not null default 0,
        first_attempt_at timestamptz,
        next_attempt_at timestamptz,
        replay_of uuid,
        created_at timestamptz not null default now(),
        primary key (tenant_id, id)
      )`,
      `create unique index if not exists webhook_delivery_once_idx on "${s}".webhook_delivery (tenant_id, endpoint_id, notice_id) where replay_of is null`,
      `create index if not exists webhook_delivery_created_idx on "${s}".webhook_delivery (tenant_id, endpoint_id, created_at)`,
      ...rls(s, 'webhook_delivery'),
      `grant select, insert, update, delete on "${s}".webhook_delivery to abt_app`,

      `create table if not exists "${s}".webhook_attempt (
        ${tenantIdColumn},
        delivery_id uuid not null,
        attempt integer not null check (attempt >= 1),
        status_code integer,
        latency_ms integer not null,
        error text check (length(error) <= 500),
        attempted_at timestamptz not null default now(),
        primary key (tenant_id, delivery_id, attempt)
      )`,
      ...rls(s, 'webhook_attempt'),
      `grant select, insert, delete on "${s}".webhook_attempt to abt_app`,
    ],
  },
];
