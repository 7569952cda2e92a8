import { Migration } from '@mikro-orm/migrations';

/**
 * The order facts occur in, shared by every tenant schema's outbox (tenant migration
 * 0015_audit_occurrence takes it as the column default). One sequence rather than one per schema, so
 * the order survives a tenant moving between `pool` and its dedicated schema with facts still pending.
 * No CACHE: numbers are handed out in the order transactions ask for them.
 */
export class Migration20261202001100_outbox_occurrence extends Migration {
  override up(): void {
    this.addSql(`create sequence if not exists public.outbox_occurrence_seq;`);
    this.addSql(`grant usage on sequence public.outbox_occurrence_seq to abt_app;`);
  }
}
