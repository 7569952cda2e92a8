import { Migration } from '@mikro-orm/migrations';

const TENANT = `nullif(current_setting('app.tenant_id', true), '')::uuid`;
const USER = `nullif(current_setting('app.user_id', true), '')::uuid`;
/** No tenant transaction: a platform path before a tenant is known (login, refresh, key lookup); README "Tenant data in public". */
const OUTSIDE_A_TENANT = `${TENANT} is null`;

const policies: Record<string, string> = {
  membership: `${OUTSIDE_A_TENANT} or tenant_id = ${TENANT}`,
  invitation: `${OUTSIDE_A_TENANT} or tenant_id = ${TENANT}`,
  api_key: `${OUTSIDE_A_TENANT} or tenant_id = ${TENANT}`,
  // The tenant's sessions, and the acting user's own in every tenant (logoutEverywhere; app.user_id is set by Scope.tx).
  refresh_token: `${OUTSIDE_A_TENANT} or tenant_id = ${TENANT} or user_id = ${USER}`,
  // Keyed by user only: the acting user's, or a member's of this tenant (a login's second step in it).
  mfa_recovery_code: `${OUTSIDE_A_TENANT} or user_id = ${USER} or exists (select 1 from public.membership m where m.user_id = mfa_recovery_code.user_id and m.tenant_id = ${TENANT})`,
};

/**
 * Row-level security for the platform tables that hold tenant data. Inside a tenant transaction
 * (app.tenant_id set locally, as every resolver's and job's is) a query sees only that tenant's rows,
 * even if it forgets its filter; outside one, the platform's pre-tenant paths read by secret-keyed
 * lookups as before.
 */
export class Migration20261202001000_public_tenant_rls extends Migration {
  override async up(): Promise<void> {
    for (const [table, rule] of Object.entries(policies)) {
      const t = `public.${table}`;
      this.addSql(`alter table ${t} enable row level security;`);
      this.addSql(`alter table ${t} force row level security;`);
      this.addSql(`drop policy if exists tenant_scope on ${t};`);
      this.addSql(`create policy tenant_scope on ${t} using (${rule}) with check (${rule});`);
    }
  }
}
