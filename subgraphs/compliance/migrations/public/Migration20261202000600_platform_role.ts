import { Migration } from '@mikro-orm/migrations';

/**
 * Platform roles (#11): granted by the operator to a user, independent of any tenant membership.
 * COMPLIANCE_OFFICER works AML cases across tenants (subgraphs/compliance/aml/officer.ts).
 */
export class Migration20261202000600_platform_role extends Migration {
  override up(): void {
    this.addSql(`
      create table if not exists public.platform_role (
        user_id uuid not null,
        role text not null check (role in ('COMPLIANCE_OFFICER')),
        granted_at timestamptz not null default now(),
        granted_by text not null,
        primary key (user_id, role)
      );`);
    // The app only reads who holds a platform role; granting is the operator's (owner) act.
    this.addSql(`grant select on public.platform_role to abt_app;`);
  }
}
