/** Database roles. The app and relay roles own nothing and have no BYPASSRLS. */
export const APP_ROLE = 'abt_app';
/** Reads and marks every tenant's outbox (a policy of its own on that one table). */
export const RELAY_ROLE = 'abt_relay';

/**
 * The officer's cross-tenant path (aml/officer.ts) runs as this role: NOLOGIN, SELECT on the AML
 * tables only, entered with `set local role` in a read-only transaction (the app role is a member).
 * Roles are cluster-wide, so its name is fixed like abt_app and abt_relay (above).
 */
export const AML_OFFICER_ROLE = 'abt_aml_officer';

/**
 * Creates AML_OFFICER_ROLE once per cluster (a concurrent migrator of another database may create it
 * or grant it at the same moment: duplicate_object, unique_violation, "tuple concurrently updated")
 * and makes the app role a member, so the officer path can `set local role` to it.
 */
export const ENSURE_OFFICER_ROLE = `do $$ begin
  if not exists (select 1 from pg_roles where rolname = '${AML_OFFICER_ROLE}') then
    begin
      create role ${AML_OFFICER_ROLE} nologin nosuperuser nocreatedb nocreaterole nobypassrls noinherit;
    exception when duplicate_object or unique_violation or internal_error then null;
    end;
  end if;
  if not pg_has_role('${APP_ROLE}', '${AML_OFFICER_ROLE}', 'member') then
    begin
      grant ${AML_OFFICER_ROLE} to ${APP_ROLE};
    exception when duplicate_object or unique_violation or internal_error then null;
    end;
  end if;
end $$`;

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
