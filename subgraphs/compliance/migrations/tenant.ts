import { rls, tenantIdColumn } from '../../../lib/db/tenant-sql';
import type { TenantMigration } from '../../../lib/module';

/** Compliance's tenant tables: the per-tenant audit hash chain and its head; the tax ledger (0020–0029). */
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
  // ---- tax ledger (#10): the kernel's history (subgraphs/compliance/tax) as rows; tax/tax.store.ts reads and writes them.
  {
    name: '0020_tax_ledger',
    up: (s) => [
      // One row per tenant: the kernel's TaxProfile (closed years live in tax_closed_year).
      `create table if not exists "${s}".tax_profile (
        ${tenantIdColumn} primary key,
        entity_type text not null check (entity_type in ('COMPANY', 'INDIVIDUAL', 'TRUST', 'SMSF')),
        gst_registered boolean not null,
        time_zone text not null default 'Australia/Sydney',
        loss_order text not null default 'NON_DISCOUNTABLE_FIRST' check (loss_order in ('NON_DISCOUNTABLE_FIRST', 'DISCOUNTABLE_FIRST')),
        company_loss_tests jsonb not null default '[]',
        prior_net_capital_losses jsonb not null default '[]',
        updated_at timestamptz not null default now(),
        updated_by uuid
      )`,
      ...rls(s, 'tax_profile'),
      `grant select, insert, update on "${s}".tax_profile to abt_app`,
      // Who imported what: every imported row names its batch.
      `create table if not exists "${s}".tax_import_batch (
        ${tenantIdColumn},
        id uuid not null,
        created_at timestamptz not null default now(),
        actor_id uuid,
        sha256 text not null,
        acquisitions int not null default 0,
        disposals int not null default 0,
        primary key (tenant_id, id)
      )`,
      ...rls(s, 'tax_import_batch'),
      `grant select, insert on "${s}".tax_import_batch to abt_app`,
      // A fill, a partial fill or an imported acquisition: one parcel, keyed by the fact id.
      `create table if not exists "${s}".tax_acquisition (
        ${tenantIdColumn},
        id text not null,
        source text not null check (source in ('FILL', 'IMPORT', 'MANUAL')),
        at timestamptz not null,
        local_date text not null,
        sats bigint not null check (sats > 0),
        cost_aud_cents bigint not null check (cost_aud_cents >= 0),
        fee_aud_cents bigint not null default 0 check (fee_aud_cents >= 0),
        fee_gst_aud_cents bigint,
        fee_gst_inclusive boolean,
        fee_itc_claimed boolean,
        exchange text not null,
        wallet text,
        purchase_id uuid,
        fill_id text,
        exchange_order_id text,
        import_batch_id uuid,
        recorded_at timestamptz not null default now(),
        primary key (tenant_id, id)
      )`,
      `create index if not exists tax_acquisition_at_idx on "${s}".tax_acquisition (tenant_id, at)`,
      ...rls(s, 'tax_acquisition'),
      // update: local_date only, when the profile's time zone changes (tax.store.ts relocalize).
      `grant select, insert, update on "${s}".tax_acquisition to abt_app`,
      // CGT event A1: a sale, a spend or a fee paid in bitcoin. identification = the parcel choice (kernel JSON).
      `create table if not exists "${s}".tax_disposal (
        ${tenantIdColumn},
        id text not null,
        type text not null check (type in ('SALE', 'SPEND', 'FEE')),
        source text not null check (source in ('PLATFORM', 'IMPORT')),
        at timestamptz not null,
        local_date text not null,
        sats bigint not null check (sats > 0),
        proceeds_aud_cents bigint not null check (proceeds_aud_cents >= 0),
        fee_aud_cents bigint not null default 0 check (fee_aud_cents >= 0),
        fee_gst_aud_cents bigint,
        fee_gst_inclusive boolean,
        fee_itc_claimed boolean,
        exchange text,
        wallet text,
        identification jsonb,
        flags jsonb not null default '[]',
        sale_id uuid,
        exchange_order_id text,
        import_batch_id uuid,
        recorded_by uuid,
        recorded_at timestamptz not null default now(),
        primary key (tenant_id, id)
      )`,
      `create index if not exists tax_disposal_at_idx on "${s}".tax_disposal (tenant_id, at)`,
      ...rls(s, 'tax_disposal'),
      `grant select, insert, update on "${s}".tax_disposal to abt_app`,
      // Between the tenant's own wallets: not a disposal; its network fee is a FEE disposal the kernel derives.
      `create table if not exists "${s}".tax_transfer (
        ${tenantIdColumn},
        id text not null,
        at timestamptz not null,
        from_wallet text not null,
        to_wallet text not null,
        sats bigint not null check (sats > 0),
        network_fee_sats bigint not null default 0 check (network_fee_sats >= 0),
        network_fee_market_value_aud_cents bigint not null default 0 check (network_fee_market_value_aud_cents >= 0),
        identification jsonb,
        recorded_at timestamptz not null default now(),
        primary key (tenant_id, id)
      )`,
      ...rls(s, 'tax_transfer'),
      `grant select, insert on "${s}".tax_transfer to abt_app`,
      // An audited cost-base edit (append-only: a later edit supersedes from its effective time).
      `create table if not exists "${s}".tax_cost_base_adjustment (
        ${tenantIdColumn},
        id uuid not null,
        parcel_id text not null,
        effective_at timestamptz not null,
        recorded_at timestamptz not null,
        cost_base_aud_cents bigint not null check (cost_base_aud_cents >= 0),
        reason text not null check (length(reason) > 0),
        actor_id uuid,
        primary key (tenant_id, id)
      )`,
      ...rls(s, 'tax_cost_base_adjustment'),
      `grant select, insert on "${s}".tax_cost_base_adjustment to abt_app`,
      // Lodged years: every year up to the greatest closed one is closed (the kernel's closedThroughYear).
      `create table if not exists "${s}".tax_closed_year (
        ${tenantIdColumn},
        financial_year int not null,
        closed_at timestamptz not null default now(),
        closed_by uuid,
        primary key (tenant_id, financial_year)
      )`,
      ...rls(s, 'tax_closed_year'),
      `grant select, insert on "${s}".tax_closed_year to abt_app`,
    ],
  },
  // ---- tax report files (#10): one row per requested report; the files live in object storage (subgraphs/compliance/reports).
  {
    name: '0040_tax_report',
    up: (s) => [
      `create table if not exists "${s}".tax_report (
        ${tenantIdColumn},
        id uuid not null,
        financial_year int not null check (financial_year between 2000 and 2200),
        status text not null check (status in ('QUEUED', 'RUNNING', 'READY', 'FAILED')),
        csv_key text,
        csv_sha256 text,
        pdf_key text,
        pdf_sha256 text,
        net_capital_gain_aud_cents bigint,
        requested_by uuid,
        error text,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        completed_at timestamptz,
        primary key (tenant_id, id)
      )`,
      `create index if not exists tax_report_created_idx on "${s}".tax_report (tenant_id, created_at)`,
      ...rls(s, 'tax_report'),
      `grant select, insert, update on "${s}".tax_report to abt_app`,
    ],
  },
];
