import type { GraphQLSchema } from 'graphql';
import { buildFederatedSchema } from '../../lib/subgraph';
import { AuditEvent, AuditHead } from './audit-event.entity';
import { AuditResolver, TenantAudit, TenantAuditResolver } from './audit.resolver';
import { complianceReferences } from './audit.reference';
import { PurchaseParcels, PurchaseParcelsResolver } from './tax/purchase-parcels';
import { purchaseParcelsReferences } from './tax/purchase-parcels.reference';
import { TaxResolver } from './tax/tax.resolver';
import { TaxReportResolver } from './reports/reports.resolver';
import { BooksResolver } from './books/books.resolver';
import { AmlResolver } from './aml/aml.resolver';
import { MonthlyStatementResolver } from './statements/statement.resolver';

export const complianceEntities = [AuditEvent, AuditHead];

export function buildComplianceSchema(): Promise<GraphQLSchema> {
  return buildFederatedSchema([AuditResolver, TenantAuditResolver, TaxResolver, PurchaseParcelsResolver, TaxReportResolver, BooksResolver, AmlResolver, MonthlyStatementResolver], { ...complianceReferences, ...purchaseParcelsReferences }, [TenantAudit, PurchaseParcels]);
}
