import { Migration } from '@mikro-orm/migrations';

/**
 * The guard a tenant move installs on every tenant table: a row is written only into the schema its
 * tenant lives in. It takes the tenant's schema lock in share mode (as enterTenant does; the move
 * takes it exclusively), then reads the schema in a statement of its own (a snapshot after the
 * lock): a write in flight either commits before the move (and is moved with the rest) or, once the
 * move committed, is refused with a retryable serialization failure instead of landing in the old schema.
 */
export class Migration20261201000400_tenant_schema_guard extends Migration {
  override up(): void {
    this.addSql(`
      create or replace function public.abt_tenant_schema_guard() returns trigger language plpgsql as $$
      begin
        perform pg_advisory_xact_lock_shared(hashtext('abt-tenant-schema'), hashtext(new.tenant_id::text));
        perform 1 from public.tenant t where t.id = new.tenant_id and t.schema_name = tg_table_schema;
        if not found then
          raise exception 'tenant % does not live in schema %', new.tenant_id, tg_table_schema using errcode = '40001';
        end if;
        return new;
      end $$;`);
  }
}
