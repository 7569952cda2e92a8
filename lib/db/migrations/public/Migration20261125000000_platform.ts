import { Migration } from '@mikro-orm/migrations';

/**
 * What every module's tables stand on: pgcrypto and the shared tenant schema `pool`. (Until modules
 * owned their migrations this one also created tenant's and market-price's first tables; those parts
 * now live in Migration20261125000001_tenant_platform and Migration20261125000002_price_tick.)
 */
export class Migration20261125000000_platform extends Migration {
  override up(): void {
    this.addSql(`create extension if not exists pgcrypto;`);
    this.addSql(`create schema if not exists pool;`);
  }
}
