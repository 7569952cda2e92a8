/** Database roles. The app and relay roles own nothing and have no BYPASSRLS. */
export const APP_ROLE = 'abt_app';
/** Reads and marks every tenant's outbox (a policy of its own on that one table). */
export const RELAY_ROLE = 'abt_relay';

/** The owner URL with another role's credentials. */
export function roleUrl(ownerUrl: string, role: string, password: string): string {
  const u = new URL(ownerUrl);
  u.username = role;
  u.password = encodeURIComponent(password);
  return u.toString();
}

export const SCHEMA_NAME = /^(pool|tenant_[0-9a-f]{8}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{12})$/;

export function dedicatedSchemaName(tenantId: string): string {
  const name = `tenant_${tenantId.toLowerCase().replace(/-/g, '_')}`;
  assertSchemaName(name);
  return name;
}

export function assertSchemaName(name: string): void {
  if (!SCHEMA_NAME.test(name)) throw new Error('invalid tenant schema name');
}
