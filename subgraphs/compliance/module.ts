import type { PlatformModule } from '../../lib/module';
import { buildComplianceSchema, complianceEntities } from './index';
import { auditProcessor } from './jobs/audit.processor';
import { taxProcessor } from './jobs/tax.processor';
import { reportsProcessor } from './jobs/reports.processor';
import { amlProcessor } from './jobs/aml.processor';
import { AbrClient } from './aml/abr.client';
import type { ComplianceAmlServices } from './aml/aml.resolver';
import { OfficerPath } from './aml/officer';
import { OfficerService } from './aml/officer.service';
import { SmrClock } from './aml/smr-clock';
import { AML_TENANT_TABLES, amlTenantMigrations } from './migrations/aml';
import { join } from 'node:path';
import { loadPublicMigrations } from '../../lib/db/public-migrations';
import { createObjectStore } from '../../lib/storage/from-config';
import { LocalObjectStore } from '../../lib/storage/local-store';
import { complianceTenantMigrations } from './migrations/tenant';
import { booksTenantMigrations } from './books/books.migrations';
import { accountingProcessor } from './books/accounting.processor';
import { ledgerClients } from './books/ledger-clients';
import type { BooksServices } from './books/books.resolver';
import { STATEMENT_TENANT_TABLES, statementTenantMigrations } from './statements/statement.migrations';
import { StatementScheduler } from './statements/statement.scheduler';

/** compliance: each tenant's audit hash chain (appended from the outbox's audit facts) and its verification. */
export const complianceModule: PlatformModule<ComplianceAmlServices & BooksServices> = {
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
      // AML/CTF (#11): KYB, monitored operations, alerts and cases
      ...AML_TENANT_TABLES,
      // monthly statements (#12)
      ...STATEMENT_TENANT_TABLES,
    ],
    // AML/CTF (#11): platform roles (the compliance officer); the operator's monitoring rule settings and time zone
    public: ['platform_role', 'aml_monitoring_rule', 'aml_monitoring_setting'],
    shared: [
      {
        module: 'treasury',
        table: 'purchase',
        access: 'read',
        why: "BitcoinPurchase.__resolveReference (tax parcels): the gate checks, under row-level security, that the purchase is the caller's (lib/access.ts REFERENCE_TABLES)",
      },
      {
        module: 'tenant',
        table: 'tenant',
        access: 'read',
        why: "AML officer path (#11): the schemas to read cases across (pool and every dedicated one), the platform's one tenant list; monthly statements (#12): each tenant's name, timezone and sign-up time (its months)",
      },
    ],
  },
  publicMigrations: () => loadPublicMigrations(join(__dirname, 'migrations', 'public')),
  tenantMigrations: [...complianceTenantMigrations, ...booksTenantMigrations, ...amlTenantMigrations, ...statementTenantMigrations],
  buildSchema: buildComplianceSchema,
  // tax report files (#10): signed download URLs of the configured object store.
  createServices: ({ config, keys, orm, tenants }) => {
    // AML/CTF (#11): ABN Lookup when configured; the officer's cross-tenant path.
    const officerPath = new OfficerPath(orm, tenants);
    return {
        objectStore: createObjectStore(config),
        downloadTtlSeconds: config.storage.urlTtlSeconds,
        // FILES_BASE_URL unset (its default is HOST:GATEWAY_PORT): the gateway's actual address once it listens here.
        filesUrlFromGateway: config.storage.filesBaseUrl === `http://${config.host}:${config.ports.gateway}`,
        // books (#12): the OAuth side of the ledger clients; tokens sealed with the key ring.
        books: { ring: keys.sealing, clients: ledgerClients(config) },
        aml: {
          abr: config.aml.abr ? new AbrClient(config.aml.abr) : null,
          officerPath,
          officer: new OfficerService(officerPath, config.aml.reportingEntity),
        },
    };
  },
  published: (svc, { url, via }) => {
    if (via === 'gateway' && svc.filesUrlFromGateway && svc.objectStore instanceof LocalObjectStore) svc.objectStore.setBaseUrl(localhostFor(url));
  },
  jobs: ({ orm, tenants, config, keys, bus, ports }) => {
    // AML/CTF (#11): the SMR clock, every 60 s: NEAR_DUE / OVERDUE escalated cases, alerted once per level.
    const smrClock = new SmrClock({ officerPath: new OfficerPath(orm, tenants), tenants });
    // Monthly statements (#12): opened from the 1st of each tenant's month; valued at market-price's price at the month's end.
    const statements = new StatementScheduler({ orm, tenants });
    const prices = ports.prices;
    return {
    processors: [
      { queue: 'audit', handler: auditProcessor(orm, tenants.directory), concurrency: 4 },
      // tax ledger (#10): treasury's fill and sale facts, each recorded once by id.
      { queue: 'tax', handler: taxProcessor(orm, tenants.directory), concurrency: 4 },
      // tax report files (#10): render and store a requested report.
      { queue: 'reports', handler: reportsProcessor(tenants, createObjectStore(config), prices ? (at) => prices.closeAt(at) : undefined), concurrency: 1 },
      // books (#12): each fill's journal to every connected ledger, exactly once (per-organisation limits in the clients).
      { queue: 'accounting', handler: accountingProcessor({ tenants, ring: keys.sealing, clients: ledgerClients(config) }), concurrency: 4 },
      // AML/CTF (#11): treasury's operation facts through the monitoring rules; hits open cases.
      { queue: 'aml', handler: amlProcessor(tenants, bus), concurrency: 2 },
    ],
    background: [
      { name: 'smr-clock', start: () => smrClock.start(), stop: () => smrClock.stop() },
      { name: 'statement-scheduler', start: () => statements.start(), stop: () => statements.stop() },
    ],
    };
  },
};

/** A wildcard bind address is not one a browser can fetch from. */
function localhostFor(url: string): string {
  const u = new URL(url);
  if (u.hostname === '0.0.0.0' || u.hostname === '[::]') u.hostname = '127.0.0.1';
  return u.origin;
}
