import type { PlatformModule } from '../../lib/module';
import { buildComplianceSchema, complianceEntities } from './index';
import { auditProcessor } from './jobs/audit.processor';
import { taxProcessor } from './jobs/tax.processor';
import { reportsProcessor } from './jobs/reports.processor';
import type { ComplianceServices } from './reports/reports.resolver';
import { createObjectStore } from '../../lib/storage/from-config';
import { LocalObjectStore } from '../../lib/storage/local-store';
import { complianceTenantMigrations } from './migrations/tenant';
import { booksTenantMigrations } from './books/books.migrations';
import { accountingProcessor } from './books/accounting.processor';
import { ledgerClients } from './books/ledger-clients';
import type { BooksServices } from './books/books.resolver';

/** compliance: each tenant's audit hash chain (appended from the outbox's audit facts) and its verification. */
export const complianceModule: PlatformModule<ComplianceServices & BooksServices> = {
  name: 'compliance',
  entities: complianceEntities,
  tables: {
    tenant: [
      'audit_event',
      'audit_head',
      // tax ledger (#10)
      'tax_profile',
      'tax_import_batch',
      'tax_acquisition',
      'tax_disposal',
      'tax_transfer',
      'tax_cost_base_adjustment',
      'tax_closed_year',
      // tax report files (#10)
      'tax_report',
      // books (#12)
      'ledger_grant',
      'ledger_connection',
      'ledger_oauth_state',
      'account_mapping',
      'journal_post',
    ],
    public: [],
    shared: [
      {
        module: 'treasury',
        table: 'purchase',
        access: 'read',
        why: "BitcoinPurchase.__resolveReference (tax parcels): the gate checks, under row-level security, that the purchase is the caller's (lib/access.ts REFERENCE_TABLES)",
      },
    ],
  },
  publicMigrations: () => [],
  tenantMigrations: [...complianceTenantMigrations, ...booksTenantMigrations],
  buildSchema: buildComplianceSchema,
  // tax report files (#10): signed download URLs of the configured object store.
  createServices: ({ config, keys }) => ({
    objectStore: createObjectStore(config),
    downloadTtlSeconds: config.storage.urlTtlSeconds,
    // FILES_BASE_URL unset (its default is HOST:GATEWAY_PORT): the gateway's actual address once it listens here.
    filesUrlFromGateway: config.storage.filesBaseUrl === `http://${config.host}:${config.ports.gateway}`,
    // books (#12): the OAuth side of the ledger clients; tokens sealed with the key ring.
    books: { ring: keys.sealing, clients: ledgerClients(config) },
  }),
  published: (svc, { url, via }) => {
    if (via === 'gateway' && svc.filesUrlFromGateway && svc.objectStore instanceof LocalObjectStore) svc.objectStore.setBaseUrl(localhostFor(url));
  },
  jobs: ({ orm, tenants, config, keys }) => ({
    processors: [
      { queue: 'audit', handler: auditProcessor(orm, tenants.directory), concurrency: 4 },
      // tax ledger (#10): treasury's fill and sale facts, each recorded once by id.
      { queue: 'tax', handler: taxProcessor(orm, tenants.directory), concurrency: 4 },
      // tax report files (#10): render and store a requested report.
      { queue: 'reports', handler: reportsProcessor(tenants, createObjectStore(config)), concurrency: 1 },
      // books (#12): each fill's journal to every connected ledger, exactly once (per-organisation limits in the clients).
      { queue: 'accounting', handler: accountingProcessor({ tenants, ring: keys.sealing, clients: ledgerClients(config) }), concurrency: 4 },
    ],
    background: [],
  }),
};

/** A wildcard bind address is not one a browser can fetch from. */
function localhostFor(url: string): string {
  const u = new URL(url);
  if (u.hostname === '0.0.0.0' || u.hostname === '[::]') u.hostname = '127.0.0.1';
  return u.origin;
}
