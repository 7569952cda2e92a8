import { AML_OFFICER_ROLE, ENSURE_OFFICER_ROLE } from '../../../lib/db/roles';
import { rls, tenantIdColumn } from '../../../lib/db/tenant-sql';
import type { TenantMigration } from '../../../lib/module';

/**
 * The setting the officer's read policy was keyed to before 0072_aml_officer_role. Any app
 * connection could set it (set_config is open to every role) and so read every tenant's AML rows;
 * 0072 replaces that policy with one keyed to AML_OFFICER_ROLE. Kept only so 0060 reads as it ran.
 */
export const AML_OFFICER_SETTING = 'app.aml_officer';

/** The officer's database role (lib/db/roles.ts), re-exported where the AML migrations read it. */
export { AML_OFFICER_ROLE };

/** Tenant tables of AML/CTF (#11): KYB records and decisions, monitored operations, alerts and cases, SMR clock alerts. */
export const AML_TENANT_TABLES = [
  'kyb_entity',
  'kyb_director',
  'kyb_beneficial_owner',
  'kyb_verification',
  'aml_operation',
  'aml_alert',
  'aml_case',
  'aml_case_note',
  'aml_smr_clock_alert',
] as const;

/** 0060's officer read policy (replaced by 0072_aml_officer_role: any connection could set the setting). */
function officerRead(s: string, table: string): string[] {
  return [
    `drop policy if exists aml_officer_read on "${s}".${table}`,
    `create policy aml_officer_read on "${s}".${table} for select using (current_setting('${AML_OFFICER_SETTING}', true) = 'on')`,
  ];
}



/**
 * The officer's read policy, keyed to the role: it applies to AML_OFFICER_ROLE and, because a
 * policy's role list also covers its members (the app role inherits it), it also checks
 * current_user, which is the officer role only after `set role`.
 */
function officerRoleRead(s: string, table: string): string[] {
  return [
    `grant select on "${s}".${table} to ${AML_OFFICER_ROLE}`,
    `drop policy if exists aml_officer_read on "${s}".${table}`,
    `create policy aml_officer_read on "${s}".${table} for select to ${AML_OFFICER_ROLE} using (current_user = '${AML_OFFICER_ROLE}')`,
  ];
}

export const amlTenantMigrations: TenantMigration[] = [
  {
    name: '0060_aml',
    up: (s) => [
      // One row per tenant: the legal entity as recorded (register answer kept), its status and risk rating.
      `create table if not exists "${s}".kyb_entity (
        ${tenantIdColumn} primary key,
        abn text not null,
        acn text,
        legal_name text not null,
        entity_type_code text not null,
        entity_type text not null check (entity_type in ('COMPANY', 'INDIVIDUAL', 'TRUST', 'SMSF', 'OTHER')),
        country_of_incorporation text not null default 'AU',
        industry text,
        source text not null check (source in ('ABN_LOOKUP', 'DECLARED')),
        register jsonb,
        status text not null check (status in ('PENDING', 'VERIFIED', 'REJECTED', 'NEEDS_INFO')),
        status_seq int not null default 1,
        risk_rating text not null check (risk_rating in ('LOW', 'MEDIUM', 'HIGH')),
        risk jsonb not null default '{}',
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        updated_by uuid
      )`,
      ...rls(s, 'kyb_entity'),
      `grant select, insert, update on "${s}".kyb_entity to abt_app`,
      ...officerRead(s, 'kyb_entity'),
      `create table if not exists "${s}".kyb_director (
        ${tenantIdColumn},
        id text not null,
        full_name text not null,
        date_of_birth text,
        residential_address text,
        country_of_residence text,
        pep text not null default 'NONE',
        sanctions text not null default 'NONE',
        primary key (tenant_id, id)
      )`,
      ...rls(s, 'kyb_director'),
      // delete: the record is replaced whole when the tenant records it again (the decision trail stays).
      `grant select, insert, delete on "${s}".kyb_director to abt_app`,
      ...officerRead(s, 'kyb_director'),
      `create table if not exists "${s}".kyb_beneficial_owner (
        ${tenantIdColumn},
        id text not null,
        full_name text not null,
        date_of_birth text,
        residential_address text,
        country_of_residence text,
        pep text not null default 'NONE',
        sanctions text not null default 'NONE',
        ownership_bps int not null check (ownership_bps between 0 and 10000),
        controls boolean not null default false,
        is_beneficial_owner boolean not null,
        primary key (tenant_id, id)
      )`,
      ...rls(s, 'kyb_beneficial_owner'),
      `grant select, insert, delete on "${s}".kyb_beneficial_owner to abt_app`,
      ...officerRead(s, 'kyb_beneficial_owner'),
      // Every status change with who decided, why and on what evidence (append-only).
      `create table if not exists "${s}".kyb_verification (
        ${tenantIdColumn},
        seq int not null check (seq > 0),
        from_status text,
        to_status text not null check (to_status in ('PENDING', 'VERIFIED', 'REJECTED', 'NEEDS_INFO')),
        at timestamptz not null,
        decided_by text not null,
        decider_role text not null check (decider_role in ('TENANT', 'COMPLIANCE_OFFICER', 'SYSTEM')),
        reason text not null,
        evidence jsonb not null default '[]',
        primary key (tenant_id, seq)
      )`,
      ...rls(s, 'kyb_verification'),
      `grant select, insert on "${s}".kyb_verification to abt_app`,
      ...officerRead(s, 'kyb_verification'),
      // Monitored operations (the monitoring kernel's history), each once by id.
      `create table if not exists "${s}".aml_operation (
        ${tenantIdColumn},
        id text not null,
        kind text not null check (kind in ('REVENUE', 'PURCHASE', 'SALE', 'WITHDRAWAL')),
        amount_aud_cents bigint not null check (amount_aud_cents >= 0),
        at timestamptz not null,
        destination jsonb,
        recorded_at timestamptz not null default now(),
        primary key (tenant_id, id)
      )`,
      `create index if not exists aml_operation_at_idx on "${s}".aml_operation (tenant_id, at)`,
      ...rls(s, 'aml_operation'),
      `grant select, insert on "${s}".aml_operation to abt_app`,
      ...officerRead(s, 'aml_operation'),
      `create table if not exists "${s}".aml_case (
        ${tenantIdColumn},
        id uuid not null,
        status text not null check (status in ('OPEN', 'INVESTIGATING', 'ESCALATED', 'REPORTED', 'CLOSED_NO_SUSPICION')),
        severity text not null check (severity in ('LOW', 'MEDIUM', 'HIGH', 'CRITICAL')),
        opened_at timestamptz not null,
        assigned_to uuid,
        escalation jsonb,
        report jsonb,
        closure jsonb,
        updated_at timestamptz not null default now(),
        primary key (tenant_id, id)
      )`,
      `create index if not exists aml_case_status_idx on "${s}".aml_case (tenant_id, status)`,
      ...rls(s, 'aml_case'),
      `grant select, insert, update on "${s}".aml_case to abt_app`,
      ...officerRead(s, 'aml_case'),
      // One alert per (operation, rule): a replayed job raises nothing more.
      `create table if not exists "${s}".aml_alert (
        ${tenantIdColumn},
        id uuid not null,
        case_id uuid not null,
        operation_id text not null,
        rule text not null check (rule in ('THRESHOLD', 'VELOCITY', 'STRUCTURING', 'SPIKE', 'SCREENED_DESTINATION', 'NEW_DESTINATION')),
        severity text not null check (severity in ('LOW', 'MEDIUM', 'HIGH', 'CRITICAL')),
        action text not null check (action in ('ALERT', 'HOLD')),
        at timestamptz not null,
        summary text not null,
        facts jsonb not null,
        created_at timestamptz not null default now(),
        primary key (tenant_id, id),
        unique (tenant_id, operation_id, rule)
      )`,
      `create index if not exists aml_alert_case_idx on "${s}".aml_alert (tenant_id, case_id)`,
      ...rls(s, 'aml_alert'),
      `grant select, insert on "${s}".aml_alert to abt_app`,
      ...officerRead(s, 'aml_alert'),
      `create table if not exists "${s}".aml_case_note (
        ${tenantIdColumn},
        id uuid not null,
        case_id uuid not null,
        author_id uuid not null,
        at timestamptz not null,
        body text not null,
        primary key (tenant_id, id)
      )`,
      ...rls(s, 'aml_case_note'),
      `grant select, insert on "${s}".aml_case_note to abt_app`,
      ...officerRead(s, 'aml_case_note'),
    ],
  },
  {
    // The SMR clock (#11, aml/smr-clock.ts): the level each escalated case was last alerted at, and one alert row per level.
    name: '0071_aml_smr_clock',
    up: (s) => [
      `alter table "${s}".aml_case add column if not exists smr_clock_level text check (smr_clock_level in ('NEAR_DUE', 'OVERDUE'))`,
      `create table if not exists "${s}".aml_smr_clock_alert (
        ${tenantIdColumn},
        case_id uuid not null,
        level text not null check (level in ('NEAR_DUE', 'OVERDUE')),
        due_at timestamptz not null,
        raised_at timestamptz not null,
        primary key (tenant_id, case_id, level)
      )`,
      ...rls(s, 'aml_smr_clock_alert'),
      `grant select, insert on "${s}".aml_smr_clock_alert to abt_app`,
      ...officerRead(s, 'aml_smr_clock_alert'),
    ],
  },
  {
    // The officer's cross-tenant reads as a database role of its own, not a setting any connection can set (#11).
    name: '0072_aml_officer_role',
    up: (s) => [
      ENSURE_OFFICER_ROLE,
      `grant usage on schema "${s}" to ${AML_OFFICER_ROLE}`,
      ...AML_TENANT_TABLES.flatMap((t) => officerRoleRead(s, t)),
    ],
  },
  {
    // Refunds of revenue are monitored operations too (#11): a large or frequent refund is an AML signal.
    name: '0073_aml_operation_refund',
    up: (s) => [
      `alter table "${s}".aml_operation drop constraint if exists aml_operation_kind_check`,
      `alter table "${s}".aml_operation add constraint aml_operation_kind_check check (kind in ('REVENUE', 'REFUND', 'PURCHASE', 'SALE', 'WITHDRAWAL'))`,
    ],
  },
];
