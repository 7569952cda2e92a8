import { z } from 'zod';
import type { TenantTransactions } from '../../../lib/db/tenant-tx';
import type { JobInfo } from '../../../lib/queue';
import type { ObjectStore } from '../../../lib/storage/object-store';
import { TAX_REPORT_JOB, generateTaxReport } from '../reports/reports.service';
import { STATEMENT_JOB, generateStatement, type PriceAt } from '../statements/statement.service';

const TaxReportJob = z.object({ tenantId: z.string().uuid(), reportId: z.string().uuid() });
const StatementJob = z.object({ tenantId: z.string().uuid(), statementId: z.string().uuid() });

/** No price source in this process: statements say "no price recorded" rather than guess. */
const noPrice: PriceAt = () => Promise.resolve(null);

/** `reports` queue: a requested tax report's files (subgraphs/compliance/reports) and monthly statements (../statements). */
export function reportsProcessor(tenants: TenantTransactions, store: ObjectStore, priceAt: PriceAt = noPrice) {
  return async (job: JobInfo): Promise<void> => {
    if (job.name === STATEMENT_JOB) {
      const { tenantId, statementId } = StatementJob.parse(job.data);
      return generateStatement(tenants, store, priceAt, tenantId, statementId);
    }
    if (job.name !== TAX_REPORT_JOB) throw new Error(`reports queue: unknown job ${job.name}`);
    const { tenantId, reportId } = TaxReportJob.parse(job.data);
    await generateTaxReport(tenants, store, tenantId, reportId);
  };
}
