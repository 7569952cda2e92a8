import { Migration } from '@mikro-orm/migrations';

/**
 * Payment processors' app-level webhooks (Square's application subscription, Stripe Connect) name
 * the connected account, not our integration: this routing row says which tenant, and which of its
 * integrations, an account belongs to. One account belongs to one tenant (the primary key). No
 * tokens here: those stay sealed in the tenant's payment_integration row.
 */
export class Migration20261203170000_payment_account_route extends Migration {
  override up(): void {
    this.addSql(`
      create table if not exists public.payment_account_route (
        provider text not null check (provider in ('stripe', 'square', 'paypal')),
        account_id text not null check (length(account_id) between 1 and 255),
        tenant_id uuid not null references public.tenant(id) on delete cascade,
        integration_id uuid not null,
        created_at timestamptz not null default now(),
        primary key (provider, account_id)
      );`);
    this.addSql(`create index if not exists payment_account_route_tenant_idx on public.payment_account_route (tenant_id);`);
    this.addSql(`grant select, insert, update, delete on public.payment_account_route to abt_app;`);
  }
}
