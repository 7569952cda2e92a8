import { z } from 'zod';
import type { TenantTransactions } from '../../../lib/db/tenant-tx';
import type { JobInfo } from '../../../lib/queue';
import type { ObjectStore } from '../../../lib/storage/object-store';
import { TAX_REPORT_JOB, generateTaxReport } from '../reports/reports.service';

const TaxReportJob = z.object({ tenantId: z.string().uuid(), reportId: z.string().uuid() });

/** `reports` queue: generates a requested tax report's files (subgraphs/compliance/reports). */
export function reportsProcessor(tenants: TenantTransactions, store: ObjectStore) {
  return async (job: JobInfo): Promise<void> => {
    if (job.name !== TAX_REPORT_JOB) throw new Error(`reports queue: unknown job ${job.name}`);
    const { tenantId, reportId } = TaxReportJob.parse(job.data);
    await generateTaxReport(tenants, store, tenantId, reportId);
  };
}
