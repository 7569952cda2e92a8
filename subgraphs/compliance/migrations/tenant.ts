import { rls, tenantIdColumn } from '../../../lib/db/tenant-sql';
import type { TenantMigration } from '../../../lib/module';

/** Compliance's tenant tables: the per-tenant audit hash chain and its head. */
export const complianceTenantMigrations: TenantMigration[] = [
  {
    name: '0001_foundation_audit',
    replaces: ['0001_foundation'],
    up: (s) => [
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
    ],
  },
];
