import type { JobInfo } from '../../../lib/queue';
import type { PurchaseExecutor } from '../purchases/purchase-executor';
import { jobString } from '../../../workers/job-data';

/**
 * `purchases`: runs one purchase to a final state. A RetryLater error asks the queue to try again
 * with backoff. On the last attempt the executor fails the purchase with its reason only when an
 * exchange actually refused and no order may exist; otherwise (an order may exist, or only open
 * breakers were met) it stays SUBMITTED and the workers' sweeper enqueues it again.
 */
export function purchasesProcessor(executor: PurchaseExecutor, maxAttempts: number) {
  return async (job: JobInfo): Promise<void> => {
    await executor.execute(jobString(job, 'tenantId'), jobString(job, 'purchaseId'), job.attempt >= maxAttempts);
  };
}
