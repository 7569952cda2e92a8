import { Migration } from '@mikro-orm/migrations';

/**
 * The operator's monitoring settings that belong to no single rule (#11): today the IANA time zone
 * whose local days SPIKE counts (subgraphs/compliance/aml/monitoring-config.store.ts). A platform
 * table like aml_monitoring_rule; only the compliance officer's API writes it.
 */
export class Migration20261203172000_aml_monitoring_setting extends Migration {
  override up(): void {
    this.addSql(`
      create table if not exists public.aml_monitoring_setting (
        key text primary key check (key in ('timeZone')),
        value text not null,
        updated_by uuid not null,
        updated_at timestamptz not null default now()
      );`);
    this.addSql(`grant select, insert, update on public.aml_monitoring_setting to abt_app;`);
  }
}
