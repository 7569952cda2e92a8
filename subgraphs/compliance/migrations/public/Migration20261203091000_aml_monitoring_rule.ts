import { Migration } from '@mikro-orm/migrations';

/**
 * The operator's settings of the AML monitoring rules (#11): one row per rule, the patch over the
 * rule's default (subgraphs/compliance/aml/monitoring-config.store.ts). A platform table: the rules
 * are the reporting entity's, the same for every tenant. Only the compliance officer's API writes it.
 */
export class Migration20261203091000_aml_monitoring_rule extends Migration {
  override up(): void {
    this.addSql(`
      create table if not exists public.aml_monitoring_rule (
        rule text primary key check (rule in ('threshold', 'velocity', 'structuring', 'spike', 'screenedDestination', 'newDestination')),
        settings jsonb not null,
        updated_by uuid not null,
        updated_at timestamptz not null default now()
      );`);
    this.addSql(`grant select, insert, update on public.aml_monitoring_rule to abt_app;`);
  }
}
