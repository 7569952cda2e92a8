import { rls, tenantIdColumn } from '../../../../lib/db/tenant-sql';
import type { TenantMigration } from '../../../../lib/module';

export const PAYMENT_OAUTH_TENANT_TABLES = ['payment_oauth_state'] as const;

/**
 * Payment processors connected by OAuth (#12): an integration says how it was connected and which
 * provider account it is (tokens stay in credentials_sealed, so `keys:reseal` covers them); each
 * connection attempt's nonce is a row until its callback consumes it (single use).
 */
export const paymentOAuthTenantMigrations: TenantMigration[] = [
  {
    name: '0100_payment_oauth',
    up: (s) => [
      `alter table "${s}".payment_integration add column if not exists connection text not null default 'SECRET'`,
      `alter table "${s}".payment_integration drop constraint if exists payment_integration_connection_check`,
      `alter table "${s}".payment_integration add constraint payment_integration_connection_check check (connection in ('SECRET', 'OAUTH'))`,
      `alter table "${s}".payment_integration add column if not exists account_id text`,
      `alter table "${s}".payment_integration add column if not exists token_expires_at timestamptz`,
      // One integration per connected account in a tenant: connecting it again renews that one.
      `create unique index if not exists payment_integration_account_idx on "${s}".payment_integration (tenant_id, provider, account_id) where account_id is not null`,
      `create table if not exists "${s}".payment_oauth_state (
        ${tenantIdColumn},
        nonce text not null check (length(nonce) between 16 and 64),
        provider text not null check (provider in ('stripe', 'square', 'paypal')),
        user_id uuid not null,
        name text check (length(name) between 1 and 120),
        expires_at timestamptz not null,
        created_at timestamptz not null default now(),
        primary key (tenant_id, nonce)
      )`,
      ...rls(s, 'payment_oauth_state'),
      `grant select, insert, delete on "${s}".payment_oauth_state to abt_app`,
    ],
  },
];
