import type { JobInfo } from '../../../lib/queue';
import type { PurchaseExecutor } from '../purchases/purchase-executor';
import { jobString } from '../../../workers/job-data';
import type { SaleExecutor } from '../sales/sale-executor';
import { SALE_EXECUTE_JOB } from '../sales/sale-requests';

/**
 * `purchases`: runs one purchase to a final state. A RetryLater error asks the queue to try again
 * with backoff. On the last attempt the executor fails the purchase with its reason only when an
 * exchange actually refused and no order may exist; otherwise (an order may exist, or only open
 * breakers were met) it stays SUBMITTED and the workers' sweeper enqueues it again.
 */
export function purchasesProcessor(executor: PurchaseExecutor, maxAttempts: number, sales?: SaleExecutor) {
  return async (job: JobInfo): Promise<void> => {
    // Sales share the queue (job sale.execute, payload saleId) and the same retry rules.
    if (job.name === SALE_EXECUTE_JOB) {
      if (!sales) throw new Error('a sale job reached a purchases processor without a sale executor');
      await sales.execute(jobString(job, 'tenantId'), jobString(job, 'saleId'), job.attempt >= maxAttempts);
      return;
    }
    await executor.execute(jobString(job, 'tenantId'), jobString(job, 'purchaseId'), job.attempt >= maxAttempts);
  };
}
