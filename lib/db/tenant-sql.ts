/** SQL building blocks every module's tenant migrations share (row-level security, the tenant id column). */

const TENANT_POLICY = `tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid`;

/** Row-level security, forced even for the owner, on one tenant table. */
export function rls(schema: string, table: string): string[] {
  const t = `"${schema}".${table}`;
  return [
    `alter table ${t} enable row level security`,
    `alter table ${t} force row level security`,
    `drop policy if exists tenant_isolation on ${t}`,
    `create policy tenant_isolation on ${t} using (${TENANT_POLICY}) with check (${TENANT_POLICY})`,
  ];
}

/** The first column of every tenant table: defaults to the transaction's tenant. */
export const tenantIdColumn = `tenant_id uuid not null default nullif(current_setting('app.tenant_id', true), '')::uuid`;
