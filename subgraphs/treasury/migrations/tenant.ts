import { rls, tenantIdColumn } from '../../../lib/db/tenant-sql';
import type { TenantMigration } from '../../../lib/module';

/**
 * Treasury's tenant tables: rules, the accrual ledger, purchases and their transitions, exchange
 * attempts, holdings and settings. Each runs once in `pool` and once in every dedicated schema.
 */
export const treasuryTenantMigrations: TenantMigration[] = [
  {
    name: '0001_foundation_treasury_rule',
    replaces: ['0001_foundation'],
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
    ],
  },
  {
    name: '0003_treasury_loop',
    up: (s) => [
      // Rule options the engine needs: per-provider revenue rules, price-drop window and cooldown, schedule bookkeeping.
      `alter table "${s}".treasury_rule add column if not exists provider text check (provider in ('stripe', 'square', 'paypal'))`,
      `alter table "${s}".treasury_rule add column if not exists lookback_days integer check (lookback_days between 1 and 365)`,
      `alter table "${s}".treasury_rule add column if not exists cooldown_minutes integer check (cooldown_minutes between 0 and 525600)`,
      `alter table "${s}".treasury_rule add column if not exists last_fired_at timestamptz`,
      `alter table "${s}".treasury_rule add column if not exists next_run_at timestamptz`,

      `create table if not exists "${s}".purchase (
        ${tenantIdColumn},
        id uuid not null,
        rule_id uuid,
        source text not null check (source in ('RULE', 'MANUAL', 'SCHEDULE', 'CUTOFF')),
        status text not null check (status in ('PENDING', 'SUBMITTED', 'FILLED', 'PARTIALLY_FILLED', 'FAILED', 'CANCELLED')),
        amount_aud_cents bigint not null check (amount_aud_cents > 0),
        client_order_id text not null,
        exchange text,
        exchange_order_id text,
        filled_sats bigint not null default 0 check (filled_sats >= 0),
        spent_aud_cents bigint not null default 0 check (spent_aud_cents >= 0),
        fee_aud_cents bigint not null default 0 check (fee_aud_cents >= 0),
        average_price numeric,
        failure_reason text,
        requested_by uuid,
        lease_until timestamptz,
        version integer not null default 1,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        primary key (tenant_id, id),
        unique (tenant_id, client_order_id)
      )`,
      `create index if not exists purchase_created_idx on "${s}".purchase (tenant_id, created_at)`,
      `create index if not exists purchase_open_idx on "${s}".purchase (tenant_id, updated_at) where status in ('PENDING', 'SUBMITTED')`,
      ...rls(s, 'purchase'),
      `grant select, insert, update on "${s}".purchase to abt_app`,

      `create table if not exists "${s}".purchase_transition (
        ${tenantIdColumn},
        id uuid not null,
        purchase_id uuid not null,
        from_status text,
        to_status text not null,
        reason text,
        at timestamptz not null default clock_timestamp(),
        primary key (tenant_id, id)
      )`,
      `create index if not exists purchase_transition_purchase_idx on "${s}".purchase_transition (tenant_id, purchase_id, at)`,
      ...rls(s, 'purchase_transition'),
      `grant select, insert on "${s}".purchase_transition to abt_app`,

      `create table if not exists "${s}".exchange_attempt (
        ${tenantIdColumn},
        id uuid not null,
        purchase_id uuid not null,
        exchange text not null,
        operation text not null,
        outcome text not null,
        error_kind text,
        detail text,
        at timestamptz not null,
        primary key (tenant_id, id)
      )`,
      `create index if not exists exchange_attempt_purchase_idx on "${s}".exchange_attempt (tenant_id, purchase_id, at)`,
      ...rls(s, 'exchange_attempt'),
      `grant select, insert on "${s}".exchange_attempt to abt_app`,

      // The accrual ledger: what each rule owes the treasury. Pending = sum(amount) per rule.
      // REVENUE/REFUND/BALANCE come from payment events (once per money movement: source_key);
      // PURCHASE takes the amount out when a purchase is created; RETURN puts it back if it fails.
      // Amounts are AUD cents x 10,000 so a 10% share of 1 cent is exact; remainders carry over, never lost.
      `create table if not exists "${s}".accrual_entry (
        ${tenantIdColumn},
        id uuid not null,
        rule_id uuid not null,
        kind text not null check (kind in ('REVENUE', 'REFUND', 'BALANCE', 'PURCHASE', 'RETURN')),
        amount_e4 bigint not null,
        payment_event_id uuid,
        source_key text,
        purchase_id uuid,
        note text,
        created_at timestamptz not null default clock_timestamp(),
        primary key (tenant_id, id)
      )`,
      `create unique index if not exists accrual_entry_source_uq on "${s}".accrual_entry (tenant_id, rule_id, source_key) where source_key is not null`,
      `create index if not exists accrual_entry_rule_idx on "${s}".accrual_entry (tenant_id, rule_id, created_at)`,
      `create index if not exists accrual_entry_purchase_idx on "${s}".accrual_entry (tenant_id, purchase_id)`,
      ...rls(s, 'accrual_entry'),
      `grant select, insert, update on "${s}".accrual_entry to abt_app`,

      `create table if not exists "${s}".holding (
        ${tenantIdColumn},
        exchange text not null,
        sats bigint not null default 0 check (sats >= 0),
        cost_base_aud_cents bigint not null default 0 check (cost_base_aud_cents >= 0),
        fees_aud_cents bigint not null default 0 check (fees_aud_cents >= 0),
        purchases integer not null default 0,
        updated_at timestamptz not null default now(),
        primary key (tenant_id, exchange)
      )`,
      ...rls(s, 'holding'),
      `grant select, insert, update on "${s}".holding to abt_app`,

      // Stripe-style idempotency for requestPurchase: same key + same request → same purchase.
      `create table if not exists "${s}".purchase_idempotency (
        ${tenantIdColumn},
        key text not null,
        request_hash text not null,
        purchase_id uuid not null,
        created_at timestamptz not null default now(),
        primary key (tenant_id, key)
      )`,
      ...rls(s, 'purchase_idempotency'),
      `grant select, insert on "${s}".purchase_idempotency to abt_app`,

      `create table if not exists "${s}".treasury_settings (
        ${tenantIdColumn} primary key,
        primary_exchange text not null default 'paper',
        failover_exchanges text[] not null default '{}',
        cutoff_local_time text not null default '17:00' check (cutoff_local_time ~ '^([01][0-9]|2[0-3]):[0-5][0-9]$'),
        updated_at timestamptz not null default now()
      )`,
      ...rls(s, 'treasury_settings'),
      `grant select, insert, update on "${s}".treasury_settings to abt_app`,
    ],
  },
  {
    name: '0004_accrual_balance',
    up: (s) => [
      // Each rule's pending accrual, kept with every ledger entry in the same transaction, so a
      // flush reads one row instead of summing the rule's whole history.
      `create table if not exists "${s}".rule_accrual (
        ${tenantIdColumn},
        rule_id uuid not null,
        pending_e4 bigint not null default 0,
        updated_at timestamptz not null default now(),
        primary key (tenant_id, rule_id)
      )`,
      ...rls(s, 'rule_accrual'),
      `grant select, insert, update on "${s}".rule_accrual to abt_app`,
      // The backfill reads every tenant's rows: as the (non-superuser) owner that needs RLS lifted for
      // this transaction only, else it would silently see nothing.
      `alter table "${s}".accrual_entry no force row level security`,
      `alter table "${s}".rule_accrual no force row level security`,
      `insert into "${s}".rule_accrual (tenant_id, rule_id, pending_e4)
       select tenant_id, rule_id, sum(amount_e4) from "${s}".accrual_entry group by tenant_id, rule_id
       on conflict (tenant_id, rule_id) do nothing`,
      `alter table "${s}".accrual_entry force row level security`,
      `alter table "${s}".rule_accrual force row level security`,
      // The entries a flush links to its purchase: those not consumed yet.
      `create index if not exists accrual_entry_open_idx on "${s}".accrual_entry (tenant_id, rule_id) where purchase_id is null`,
    ],
  },
  {
    name: '0005_execution_safety',
    up: (s) => [
      // A placement whose answer never came: the order may exist there, so routing must reconcile first.
      `alter table "${s}".exchange_attempt add column if not exists outcome_unknown boolean not null default false`,
      // The daily cut-off runs once per local day, whatever the queue remembers.
      `alter table "${s}".treasury_settings add column if not exists last_cutoff_day text`,
      // BALANCE_THRESHOLD: the excess already swept, so a new balance event sweeps only its increase.
      `alter table "${s}".rule_accrual add column if not exists balance_excess_cents bigint`,
      // A refund delivered before its payment: its cents wait here and reduce the payment's share when it arrives.
      `alter table "${s}".accrual_entry add column if not exists awaiting_refund_cents bigint check (awaiting_refund_cents > 0)`,
      `alter table "${s}".accrual_entry add column if not exists awaits_key text`,
      `create index if not exists accrual_entry_awaiting_idx on "${s}".accrual_entry (tenant_id, rule_id, awaits_key) where awaiting_refund_cents is not null`,
    ],
  },
  {
    name: '0006_attempt_intent_exchange_seq',
    replaces: ['0006_attempt_intent'],
    up: (s) => [
      // The exact order attempts were recorded in: an intent, its outcome and the lookup before it can share a millisecond.
      `alter table "${s}".exchange_attempt add column if not exists seq bigint generated by default as identity`,
      `create index if not exists exchange_attempt_seq_idx on "${s}".exchange_attempt (tenant_id, purchase_id, seq)`,
    ],
  },
  {
    name: '0007_payment_events_api_ledger_idx',
    replaces: ['0007_payment_events_api'],
    up: (s) => [
      // What an event did: its ledger entries, looked up by event for a page of events at once.
      `create index if not exists accrual_entry_payment_event_idx on "${s}".accrual_entry (tenant_id, payment_event_id) where payment_event_id is not null`,
    ],
  },
  {
    name: '0008_payment_attribution',
    up: (s) => [
      // Every ledger entry names the payment whose share it moves (origin), so refunds, purchases and
      // returns are matched by column, never by note text. PURCHASE and RETURN entries are per payment.
      `alter table "${s}".accrual_entry add column if not exists origin_payment_event_id uuid`,
      // REFUND entries: the share of the origin payment this refund takes back (off the pending accrual,
      // held against an in-flight purchase, or kept as bitcoin); amount_e4 is what it changes now.
      `alter table "${s}".accrual_entry add column if not exists refund_e4 bigint not null default 0 check (refund_e4 >= 0)`,
      // REVENUE entries: the rule's percentage when the payment accrued; its refunds take back at that rate.
      `alter table "${s}".accrual_entry add column if not exists rate_bps integer check (rate_bps between 1 and 10000)`,
      `create index if not exists accrual_entry_origin_idx on "${s}".accrual_entry (tenant_id, rule_id, origin_payment_event_id)`,
      `drop index if exists "${s}".accrual_entry_open_idx`,
      // Each payment's running balance per rule, kept with every entry like rule_accrual: what it accrued,
      // what refunds took back, and what is still pending (not consumed by a purchase); FIFO by first_at.
      `create table if not exists "${s}".payment_accrual (
        ${tenantIdColumn},
        rule_id uuid not null,
        payment_event_id uuid not null,
        kind text check (kind in ('REVENUE', 'BALANCE')),
        rate_bps integer,
        accrued_e4 bigint not null default 0,
        refunded_e4 bigint not null default 0,
        pending_e4 bigint not null default 0,
        first_at timestamptz not null default clock_timestamp(),
        updated_at timestamptz not null default now(),
        primary key (tenant_id, rule_id, payment_event_id)
      )`,
      `create index if not exists payment_accrual_open_idx on "${s}".payment_accrual (tenant_id, rule_id, first_at, payment_event_id) where pending_e4 > 0`,
      ...rls(s, 'payment_accrual'),
      `grant select, insert, update on "${s}".payment_accrual to abt_app`,
      // The backfill reads and rewrites every tenant's rows: RLS lifted for this transaction only (as in 0004).
      `alter table "${s}".accrual_entry no force row level security`,
      `alter table "${s}".payment_accrual no force row level security`,
      ...backfillPaymentAttribution(s),
      `alter table "${s}".accrual_entry force row level security`,
      `alter table "${s}".payment_accrual force row level security`,
    ],
  },
  {
    // The purchase lease's fencing token (random per claim; the executor writes only while it holds it).
    name: '0011_lease_owner',
    up: (s) => [`alter table "${s}".purchase add column if not exists lease_owner uuid`],
  },
  {
    // Treasury keeps the tenant's timezone (from the tenant module's `tenant.profile` job) instead of reading public.tenant.
    // Backfilled once here from public.tenant, by the migration (owner role), for the tenants living in this schema;
    // from then on only the job changes it, when its asOf is newer than timezone_as_of (null: backfilled, any event wins).
    name: '0012_tenant_profile',
    up: (s) => [
      `alter table "${s}".treasury_settings add column if not exists timezone text not null default 'Australia/Sydney'`,
      `alter table "${s}".treasury_settings add column if not exists timezone_as_of timestamptz`,
      `alter table "${s}".treasury_settings no force row level security`,
      `insert into "${s}".treasury_settings (tenant_id, timezone)
       select t.id, t.timezone from public.tenant t where t.schema_name = '${s}'
       on conflict (tenant_id) do update set timezone = excluded.timezone where "${s}".treasury_settings.timezone_as_of is null`,
      `alter table "${s}".treasury_settings force row level security`,
    ],
  },
  {
    // Sales (#10): the purchases' state machine on the sell side. The client order id is the sale id.
    name: '0030_sales',
    up: (s) => [
      `create table if not exists "${s}".sale (
        ${tenantIdColumn},
        id uuid not null,
        status text not null check (status in ('PENDING', 'SUBMITTED', 'FILLED', 'PARTIALLY_FILLED', 'FAILED', 'CANCELLED')),
        sats bigint not null check (sats > 0),
        client_order_id text not null,
        exchange text,
        exchange_order_id text,
        filled_sats bigint not null default 0 check (filled_sats >= 0),
        proceeds_aud_cents bigint not null default 0 check (proceeds_aud_cents >= 0),
        fee_aud_cents bigint not null default 0 check (fee_aud_cents >= 0),
        average_price numeric,
        failure_reason text,
        requested_by uuid,
        lease_until timestamptz,
        lease_owner uuid,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        primary key (tenant_id, id),
        unique (tenant_id, client_order_id)
      )`,
      `create index if not exists sale_created_idx on "${s}".sale (tenant_id, created_at)`,
      ...rls(s, 'sale'),
      `grant select, insert, update on "${s}".sale to abt_app`,
      `create table if not exists "${s}".sale_transition (
        ${tenantIdColumn},
        id uuid not null,
        sale_id uuid not null,
        from_status text,
        to_status text not null,
        reason text,
        at timestamptz not null default clock_timestamp(),
        primary key (tenant_id, id)
      )`,
      `create index if not exists sale_transition_sale_idx on "${s}".sale_transition (tenant_id, sale_id, at)`,
      ...rls(s, 'sale_transition'),
      `grant select, insert on "${s}".sale_transition to abt_app`,
      `create table if not exists "${s}".sale_idempotency (
        ${tenantIdColumn},
        key text not null,
        request_hash text not null,
        sale_id uuid not null,
        created_at timestamptz not null default now(),
        primary key (tenant_id, key)
      )`,
      ...rls(s, 'sale_idempotency'),
      `grant select, insert on "${s}".sale_idempotency to abt_app`,
    ],
  },
];

const UUID_RE = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

/**
 * Rows written before 0008 linked refunds to payments only by note text (`refund of <id>`), linked
 * every unspent entry to the next purchase (even when caps spent part of it), and had one PURCHASE
 * and one RETURN entry per purchase. This derives the origin of each entry from the structured keys
 * and the old notes, then replays each rule's history in order, splitting every PURCHASE entry over
 * the payments it consumed (oldest first, as the engine now does) and every RETURN back over them
 * (newest first). Sums per rule are unchanged; what cannot be traced keeps a null origin.
 */
function backfillPaymentAttribution(s: string): string[] {
  const t = `"${s}".accrual_entry`;
  return [
    `update ${t} set origin_payment_event_id = payment_event_id, purchase_id = null where kind in ('REVENUE', 'BALANCE') and origin_payment_event_id is null`,
    // Refunds of a named payment: the revenue entry's key from the refund's own key (provider) and its note, or the awaited key.
    `update ${t} r set origin_payment_event_id = v.payment_event_id, refund_e4 = greatest(-r.amount_e4, 0), purchase_id = null
     from ${t} v
     where r.kind = 'REFUND' and r.origin_payment_event_id is null and v.tenant_id = r.tenant_id and v.rule_id = r.rule_id
       and v.kind in ('REVENUE', 'BALANCE')
       and v.source_key = case
         when r.source_key like '%:early-refunds' then left(r.source_key, -length(':early-refunds'))
         when r.awaits_key is not null then r.awaits_key
         when r.note like 'refund of %' then split_part(r.source_key, ':', 1) || ':REVENUE:' || substr(r.note, length('refund of ') + 1)
       end`,
    // A refund recorded after its share was bought names that purchase; the old flush linked it to the next one.
    `update ${t} set purchase_id = case when note ~ '^refunded after purchase ${UUID_RE}' then substring(note from '${UUID_RE}')::uuid end
     where kind = 'REFUND' and origin_payment_event_id is null`,
    // A RETURN belongs to the purchase its note names ("unspent by purchase <id> (…)", "cancelled purchase <id>").
    `update ${t} set purchase_id = substring(note from '${UUID_RE}')::uuid where kind = 'RETURN' and note ~ '${UUID_RE}'`,
    `do $$
     declare
       e record; b record; need bigint; take bigint;
     begin
       create temp table _pa_bucket (tenant_id uuid, rule_id uuid, origin uuid, first_at timestamptz, pending bigint,
         primary key (tenant_id, rule_id, origin)) on commit drop;
       create temp table _pa_alloc (seq bigserial, tenant_id uuid, rule_id uuid, purchase_id uuid, origin uuid, amount bigint) on commit drop;
       create temp table _pa_out (tenant_id uuid, rule_id uuid, kind text, amount bigint, origin uuid, purchase_id uuid, note text, created_at timestamptz) on commit drop;
       for e in select * from ${t} order by tenant_id, rule_id, created_at, id loop
         if e.kind in ('REVENUE', 'BALANCE', 'REFUND') then
           if e.origin_payment_event_id is not null then
             insert into _pa_bucket values (e.tenant_id, e.rule_id, e.origin_payment_event_id, e.created_at, e.amount_e4)
             on conflict (tenant_id, rule_id, origin) do update set pending = _pa_bucket.pending + excluded.pending;
           end if;
         elsif e.kind = 'PURCHASE' then
           need := -e.amount_e4;
           for b in select * from _pa_bucket where tenant_id = e.tenant_id and rule_id = e.rule_id and pending > 0 order by first_at, origin loop
             exit when need <= 0;
             take := least(need, b.pending);
             update _pa_bucket set pending = pending - take where tenant_id = b.tenant_id and rule_id = b.rule_id and origin = b.origin;
             insert into _pa_alloc (tenant_id, rule_id, purchase_id, origin, amount) values (e.tenant_id, e.rule_id, e.purchase_id, b.origin, take);
             insert into _pa_out values (e.tenant_id, e.rule_id, 'PURCHASE', -take, b.origin, e.purchase_id, e.note, e.created_at);
             need := need - take;
           end loop;
           if need <> 0 then insert into _pa_out values (e.tenant_id, e.rule_id, 'PURCHASE', -need, null, e.purchase_id, e.note, e.created_at); end if;
         elsif e.kind = 'RETURN' then
           need := e.amount_e4;
           for b in select origin, sum(amount) as amount from _pa_alloc
                    where tenant_id = e.tenant_id and rule_id = e.rule_id and purchase_id = e.purchase_id
                    group by origin having sum(amount) > 0 order by max(seq) desc loop
             exit when need <= 0;
             take := least(need, b.amount);
             insert into _pa_alloc (tenant_id, rule_id, purchase_id, origin, amount) values (e.tenant_id, e.rule_id, e.purchase_id, b.origin, -take);
             update _pa_bucket set pending = pending + take where tenant_id = e.tenant_id and rule_id = e.rule_id and origin = b.origin;
             insert into _pa_out values (e.tenant_id, e.rule_id, 'RETURN', take, b.origin, e.purchase_id, e.note, e.created_at);
             need := need - take;
           end loop;
           if need <> 0 then insert into _pa_out values (e.tenant_id, e.rule_id, 'RETURN', need, null, e.purchase_id, e.note, e.created_at); end if;
         end if;
       end loop;
       delete from ${t} where kind in ('PURCHASE', 'RETURN');
       insert into ${t} (tenant_id, id, rule_id, kind, amount_e4, origin_payment_event_id, purchase_id, note, created_at)
         select tenant_id, gen_random_uuid(), rule_id, kind, amount, origin, purchase_id, note, created_at from _pa_out;
     end $$`,
    `insert into "${s}".payment_accrual (tenant_id, rule_id, payment_event_id, kind, accrued_e4, refunded_e4, pending_e4, first_at)
     select tenant_id, rule_id, origin_payment_event_id, max(kind) filter (where kind in ('REVENUE', 'BALANCE')),
       coalesce(sum(amount_e4) filter (where kind in ('REVENUE', 'BALANCE')), 0), sum(refund_e4), sum(amount_e4), min(created_at)
     from ${t} where origin_payment_event_id is not null
     group by tenant_id, rule_id, origin_payment_event_id
     on conflict (tenant_id, rule_id, payment_event_id) do nothing`,
  ];
}
