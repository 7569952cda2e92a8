import type { TenantMigration } from '../module';
import { rls, tenantIdColumn } from './tenant-sql';

/**
 * Tenant tables of the platform itself, not of a module: the transactional outbox every module
 * writes jobs and audit facts to (lib/outbox.ts, lib/audit.ts). `schema_migrations` is created by
 * the migrator (lib/db/migrate.ts) before any migration runs.
 */
export const platformTenantMigrations: TenantMigration[] = [
  {
    name: '0001_foundation_outbox',
    replaces: ['0001_foundation'],
    up: (s) => [
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
    // Reads compliance's audit_event once, to mark facts already in the chain (a backfill for databases of that time).
    name: '0006_attempt_intent_outbox',
    replaces: ['0006_attempt_intent'],
    up: (s) => [
      // An audit fact stays pending in the outbox until it is in the chain, so a lost or failed job can be re-enqueued.
      `alter table "${s}".outbox add column if not exists appended_at timestamptz`,
      `grant update (appended_at) on "${s}".outbox to abt_app`,
      // Facts already in the chain are done; anything else published stays pending and is swept again.
      `alter table "${s}".outbox no force row level security`,
      `alter table "${s}".audit_event no force row level security`,
      `update "${s}".outbox o set appended_at = a.created_at from "${s}".audit_event a
       where o.queue = 'audit' and o.appended_at is null and a.tenant_id = o.tenant_id and a.id = o.id`,
      `alter table "${s}".outbox force row level security`,
      `alter table "${s}".audit_event force row level security`,
      `create index if not exists outbox_audit_pending_idx on "${s}".outbox (published_at) where queue = 'audit' and appended_at is null`,
    ],
  },
  {
    name: '0010_outbox_correlation',
    up: (s) => [
      // The correlation id of the request whose transaction wrote the row (set by enterTenant), carried on to its job.
      `alter table "${s}".outbox add column if not exists correlation_id text default nullif(current_setting('app.correlation_id', true), '')`,
    ],
  },
  {
    name: '0015_audit_occurrence',
    up: (s) => [
      // The order facts occurred in, taken when the outbox row is written: a transaction that depends on
      // another (reads what it committed, waits for its lock) takes a later number. The audit appender
      // chains a tenant's facts in this order, whatever order their jobs run in. The sequence is public
      // (Migration20261202001100_outbox_occurrence), so rows keep their order when a tenant moves schema.
      `alter table "${s}".outbox add column if not exists occurrence bigint`,
      `alter table "${s}".outbox alter column occurrence set default nextval('public.outbox_occurrence_seq')`,
      `create index if not exists outbox_audit_occurrence_idx on "${s}".outbox (tenant_id, occurrence) where queue = 'audit' and appended_at is null`,
    ],
  },
  {
    name: '0016_outbox_traceparent',
    up: (s) => [
      // The W3C traceparent of the span whose transaction wrote the row (set by enterTenant), so its job's span joins that trace.
      `alter table "${s}".outbox add column if not exists traceparent text default nullif(current_setting('app.traceparent', true), '')`,
    ],
  },
];
