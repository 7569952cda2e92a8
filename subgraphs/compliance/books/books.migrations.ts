import { rls, tenantIdColumn } from '../../../lib/db/tenant-sql';
import type { TenantMigration } from '../../../lib/module';

/** Books (#12): ledger grants and connections (tokens sealed with the key ring), account mappings, journal posts. */
export const booksTenantMigrations: TenantMigration[] = [
  {
    name: '0070_books',
    up: (s) => [
      // One consent (one rotating refresh token); Xero may connect several organisations with it.
      `create table if not exists "${s}".ledger_grant (
        ${tenantIdColumn},
        id uuid not null,
        provider text not null check (provider in ('XERO', 'MYOB')),
        tokens_sealed text,
        version int not null default 1,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        primary key (tenant_id, id)
      )`,
      ...rls(s, 'ledger_grant'),
      `grant select, insert, update on "${s}".ledger_grant to abt_app`,
      // A Xero organisation or a MYOB company file.
      `create table if not exists "${s}".ledger_connection (
        ${tenantIdColumn},
        id uuid not null,
        provider text not null check (provider in ('XERO', 'MYOB')),
        grant_id uuid not null,
        external_id text not null,
        provider_connection_id text,
        name text,
        status text not null check (status in ('ACTIVE', 'RECONNECT_REQUIRED', 'DISCONNECTED')),
        cf_token_sealed text,
        connected_by uuid,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        primary key (tenant_id, id),
        unique (tenant_id, provider, external_id)
      )`,
      `create index if not exists ledger_connection_created_idx on "${s}".ledger_connection (tenant_id, created_at)`,
      ...rls(s, 'ledger_connection'),
      `grant select, insert, update on "${s}".ledger_connection to abt_app`,
      // Between consent and callback: the state (hashed) and the PKCE verifier (sealed), bound to who started it.
      `create table if not exists "${s}".ledger_oauth_state (
        ${tenantIdColumn},
        state_hash text not null,
        provider text not null check (provider in ('XERO', 'MYOB')),
        verifier_sealed text,
        user_id uuid,
        expires_at timestamptz not null,
        primary key (tenant_id, state_hash)
      )`,
      ...rls(s, 'ledger_oauth_state'),
      `grant select, insert, delete on "${s}".ledger_oauth_state to abt_app`,
      // The accounts a connection posts to (books/journal.ts AccountMapping).
      `create table if not exists "${s}".account_mapping (
        ${tenantIdColumn},
        connection_id uuid not null,
        mapping jsonb not null,
        default_tax_code text,
        updated_by uuid,
        updated_at timestamptz not null default now(),
        primary key (tenant_id, connection_id)
      )`,
      ...rls(s, 'account_mapping'),
      `grant select, insert, update on "${s}".account_mapping to abt_app`,
      // One journal of one source event in one ledger: the reconciliation view.
      `create table if not exists "${s}".journal_post (
        ${tenantIdColumn},
        id uuid not null,
        connection_id uuid not null,
        provider text not null check (provider in ('XERO', 'MYOB')),
        source_kind text not null check (source_kind in ('FILL', 'SALE')),
        source_id text not null,
        idempotency_key text not null,
        status text not null check (status in ('PENDING', 'POSTED', 'FAILED')),
        reason text,
        messages jsonb not null default '[]',
        attempts int not null default 0,
        retries int not null default 0,
        external_id text,
        debit_aud_cents bigint,
        source jsonb not null,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        posted_at timestamptz,
        primary key (tenant_id, id),
        unique (tenant_id, connection_id, idempotency_key)
      )`,
      `create index if not exists journal_post_created_idx on "${s}".journal_post (tenant_id, created_at)`,
      ...rls(s, 'journal_post'),
      `grant select, insert, update on "${s}".journal_post to abt_app`,
    ],
  },
];
