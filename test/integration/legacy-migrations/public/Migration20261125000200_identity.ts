import { Migration } from '@mikro-orm/migrations';

/**
 * Identity and roles (issue 5): invitations, API keys, TOTP MFA and recovery codes, login
 * throttling, per-user token revocation, and the tenant's requireMfaForAdmins setting.
 */
export class Migration20261125000200_identity extends Migration {
  override up(): void {
    this.addSql(`alter table public.tenant add column if not exists require_mfa_for_admins boolean not null default false;`);
    // Access tokens issued before this instant are refused (logout everywhere).
    this.addSql(`alter table public.app_user add column if not exists tokens_valid_after timestamptz;`);
    // TOTP secret sealed with AES-256-GCM (lib/crypto/secret-box); pending until confirmed with a code.
    this.addSql(`alter table public.app_user add column if not exists mfa_secret_sealed text;`);
    this.addSql(`alter table public.app_user add column if not exists mfa_pending_secret_sealed text;`);
    this.addSql(`alter table public.app_user add column if not exists mfa_enabled_at timestamptz;`);
    // Highest TOTP time step accepted: a code is never accepted twice.
    this.addSql(`alter table public.app_user add column if not exists mfa_last_time_step bigint;`);
    this.addSql(`
      create table if not exists public.mfa_recovery_code (
        id uuid primary key,
        user_id uuid not null references public.app_user(id) on delete cascade,
        code_hash text not null,
        used_at timestamptz,
        created_at timestamptz not null default now()
      );`);
    this.addSql(`create index if not exists mfa_recovery_code_user_idx on public.mfa_recovery_code (user_id);`);
    this.addSql(`
      create table if not exists public.invitation (
        id uuid primary key,
        tenant_id uuid not null references public.tenant(id) on delete cascade,
        email text not null,
        role text not null check (role in ('OWNER', 'ADMIN', 'USER', 'VIEWER')),
        token_hash text not null unique,
        invited_by uuid not null,
        expires_at timestamptz not null,
        accepted_at timestamptz,
        accepted_by uuid,
        revoked_at timestamptz,
        created_at timestamptz not null default now()
      );`);
    this.addSql(`create index if not exists invitation_tenant_idx on public.invitation (tenant_id, created_at);`);
    this.addSql(`
      create table if not exists public.api_key (
        id uuid primary key,
        tenant_id uuid not null references public.tenant(id) on delete cascade,
        name text not null check (length(name) between 1 and 100),
        lookup text not null unique check (lookup ~ '^[0-9A-Za-z]{12}$'),
        secret_hash text not null,
        scopes text[] not null,
        created_by uuid not null,
        expires_at timestamptz,
        last_used_at timestamptz,
        revoked_at timestamptz,
        created_at timestamptz not null default now()
      );`);
    this.addSql(`create index if not exists api_key_tenant_idx on public.api_key (tenant_id, created_at);`);
    // Failed-login counters per account and per ip+account; keys hold a hash, never the email.
    this.addSql(`
      create table if not exists public.login_throttle (
        key text primary key,
        failures integer not null default 0,
        locked_until timestamptz,
        locked_at_failures integer not null default 0,
        last_failure_at timestamptz not null default now()
      );`);
    this.addSql(`alter table public.refresh_token add column if not exists amr text[] not null default '{pwd}';`);
    this.addSql(`create index if not exists refresh_token_user_idx on public.refresh_token (user_id);`);
    this.addSql(
      `grant select, insert, update, delete on public.mfa_recovery_code, public.invitation, public.api_key, public.login_throttle to abt_app;`,
    );
  }
}
