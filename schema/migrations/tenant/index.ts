/**
 * Migrations for tenant-owned tables. Each runs once in `pool` and once in every dedicated
 * `tenant_<uuid>` schema (recorded in that schema's `schema_migrations`).
 */
export type TenantMigration = { name: string; up: (schema: string) => string[] };

const TENANT_POLICY = `tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid`;

/** Row-level security, forced even for the owner, on one tenant table. */
export function rls(schema: string, table: string): string[] {
  const t = `"${schema}".${table}`;
  return [
    `alter table ${t} enable row level security`,
    `alter table ${t} force row level security`,
    `drop policy if exists tenant_isolation on ${t}`,
    `create policy tenant_isolation on ${t} using (${TENANT_POLICY}) with check (${TENANT_POLICY})`,
  ];
}

const tenantIdColumn = `tenant_id uuid not null default nullif(current_setting('app.tenant_id', true), '')::uuid`;

export const tenantMigrations: TenantMigration[] = [
  {
    name: '0001_foundation',
    up: (s) => [
      `create table if not exists "${s}".treasury_rule (
        ${tenantIdColumn},
        id uuid not null,
        name text not null check (length(name) between 1 and 120),
        type text not null check (type in ('PERCENTAGE_OF_REVENUE', 'FIXED_DCA', 'PRICE_DROP', 'BALANCE_THRESHOLD')),
        enabled boolean not null default true,
        percentage_bps integer check (percentage_bps between 1 and 10000),
        amount_aud_cents bigint check (amount_aud_cents > 0),
        schedule text,
        min_order_aud_cents bigint not null default 0 check (min_order_aud_cents >= 0),
        max_per_purchase_aud_cents bigint check (max_per_purchase_aud_cents > 0),
        daily_cap_aud_cents bigint check (daily_cap_aud_cents > 0),
        monthly_cap_aud_cents bigint check (monthly_cap_aud_cents > 0),
        version integer not null default 1,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        primary key (tenant_id, id)
      )`,
      `create index if not exists treasury_rule_created_idx on "${s}".treasury_rule (tenant_id, created_at)`,
      ...rls(s, 'treasury_rule'),
      `grant select, insert, update, delete on "${s}".treasury_rule to abt_app`,

      `create table if not exists "${s}".audit_event (
        ${tenantIdColumn},
        id uuid not null,
        seq bigint not null check (seq > 0),
        event_type text not null,
        actor_id uuid,
        subject_type text not null,
        subject_id text not null,
        payload jsonb not null,
        created_at timestamptz not null,
        prev_hash text not null,
        hash text not null,
        primary key (tenant_id, id),
        unique (tenant_id, seq)
      )`,
      `create index if not exists audit_event_created_idx on "${s}".audit_event (tenant_id, created_at)`,
      ...rls(s, 'audit_event'),
      // Append-only for the application: no UPDATE, no DELETE.
      `grant select, insert on "${s}".audit_event to abt_app`,
      // The chain's head: serializes appends per tenant and lets verification spot a truncated tail.
      `create table if not exists "${s}".audit_head (
        ${tenantIdColumn} primary key,
        last_seq bigint not null,
        last_hash text not null,
        updated_at timestamptz not null default now()
      )`,
      ...rls(s, 'audit_head'),
      `grant select, insert, update on "${s}".audit_head to abt_app`,

      `create table if not exists "${s}".outbox (
        ${tenantIdColumn},
        id uuid not null,
        queue text not null,
        job_name text not null,
        payload jsonb not null,
        created_at timestamptz not null default clock_timestamp(),
        published_at timestamptz,
        primary key (tenant_id, id)
      )`,
      `create index if not exists outbox_unpublished_idx on "${s}".outbox (created_at) where published_at is null`,
      ...rls(s, 'outbox'),
      `drop policy if exists outbox_relay on "${s}".outbox`,
      `create policy outbox_relay on "${s}".outbox to abt_relay using (true) with check (true)`,
      `grant select, insert on "${s}".outbox to abt_app`,
      `grant select, update, delete on "${s}".outbox to abt_relay`,
    ],
  },
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
];
