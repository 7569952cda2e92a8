import { Migration } from '@mikro-orm/migrations';

/** Platform tables in `public`: tenants, users, memberships, refresh tokens, market data. */
export class Migration20261125000000_platform extends Migration {
  override up(): void {
    this.addSql(`create extension if not exists pgcrypto;`);
    this.addSql(`create schema if not exists pool;`);
    this.addSql(`
      create table if not exists public.tenant (
        id uuid primary key,
        name text not null check (length(name) between 1 and 200),
        plan text not null default 'STANDARD' check (plan in ('STANDARD', 'ISOLATED')),
        schema_name text not null default 'pool',
        timezone text not null default 'Australia/Sydney',
        created_at timestamptz not null default now()
      );`);
    this.addSql(`
      create table if not exists public.app_user (
        id uuid primary key,
        email text not null,
        password_hash text not null,
        created_at timestamptz not null default now()
      );`);
    this.addSql(`create unique index if not exists app_user_email_uq on public.app_user (lower(email));`);
    this.addSql(`
      create table if not exists public.membership (
        tenant_id uuid not null references public.tenant(id) on delete cascade,
        user_id uuid not null references public.app_user(id) on delete cascade,
        role text not null check (role in ('OWNER', 'ADMIN', 'USER', 'VIEWER')),
        created_at timestamptz not null default now(),
        primary key (tenant_id, user_id)
      );`);
    this.addSql(`create index if not exists membership_user_idx on public.membership (user_id);`);
    this.addSql(`
      create table if not exists public.refresh_token (
        id uuid primary key,
        family_id uuid not null,
        user_id uuid not null references public.app_user(id) on delete cascade,
        tenant_id uuid not null references public.tenant(id) on delete cascade,
        token_hash text not null unique,
        expires_at timestamptz not null,
        used_at timestamptz,
        revoked_at timestamptz,
        created_at timestamptz not null default now()
      );`);
    this.addSql(`create index if not exists refresh_token_family_idx on public.refresh_token (family_id);`);
    this.addSql(`
      create table if not exists public.price_tick (
        id bigserial primary key,
        currency text not null check (currency in ('AUD', 'USD')),
        price numeric(20, 2) not null check (price > 0),
        source text not null,
        at timestamptz not null default now()
      );`);
    this.addSql(`create index if not exists price_tick_currency_at_idx on public.price_tick (currency, at desc);`);
  }
}
