import { rls, tenantIdColumn } from '../../../lib/db/tenant-sql';
import type { TenantMigration } from '../../../lib/module';

export const STATEMENT_TENANT_TABLES = ['monthly_statement'] as const;

/** Monthly statements (#12): one row per tenant and local month (`unique (tenant_id, period)` is the idempotency key). */
export const statementTenantMigrations: TenantMigration[] = [
  {
    name: '0042_monthly_statement',
    up: (s) => [
      `create table if not exists "${s}".monthly_statement (
        ${tenantIdColumn},
        id uuid not null,
        period text not null check (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
        time_zone text not null,
        period_start timestamptz not null,
        period_end timestamptz not null check (period_end > period_start),
        status text not null check (status in ('QUEUED', 'READY', 'FAILED')),
        pdf_key text,
        pdf_sha256 text,
        purchases int,
        sales int,
        purchased_aud_cents bigint,
        purchased_sats bigint,
        sold_sats bigint,
        sale_proceeds_aud_cents bigint,
        fees_aud_cents bigint,
        holdings_sats bigint,
        holdings_value_aud_cents bigint,
        price_at_end text,
        error text,
        created_at timestamptz not null default now(),
        completed_at timestamptz,
        primary key (tenant_id, id),
        unique (tenant_id, period)
      )`,
      ...rls(s, 'monthly_statement'),
      `grant select, insert, update on "${s}".monthly_statement to abt_app`,
    ],
  },
];
