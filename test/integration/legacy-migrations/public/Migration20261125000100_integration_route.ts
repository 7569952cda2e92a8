import { Migration } from '@mikro-orm/migrations';

/**
 * Webhooks arrive with only an integration id; this platform-level routing row says which
 * tenant (and so which schema) owns it. No credentials here: those stay in the tenant's schema.
 */
export class Migration20261125000100_integration_route extends Migration {
  override up(): void {
    this.addSql(`
      create table if not exists public.integration_route (
        integration_id uuid primary key,
        tenant_id uuid not null references public.tenant(id) on delete cascade,
        provider text not null check (provider in ('stripe', 'square', 'paypal')),
        created_at timestamptz not null default now()
      );`);
    this.addSql(`create index if not exists integration_route_tenant_idx on public.integration_route (tenant_id);`);
  }
}
