import type { JobInfo } from '../lib/queue';
import type { PurchaseExecutor } from '../subgraphs/treasury/purchases/purchase-executor';
import { jobString } from './job-data';

/**
 * `purchases`: runs one purchase to a final state. A RetryLater error asks the queue to try again
 * with backoff; on the last attempt the executor fails the purchase with its reason instead
 * (unless an order may exist, which is never given up on: the sweeper picks it up again).
 */
export function purchasesProcessor(executor: PurchaseExecutor, maxAttempts: number) {
  return async (job: JobInfo): Promise<void> => {
    await executor.execute(jobString(job, 'tenantId'), jobString(job, 'purchaseId'), job.attempt >= maxAttempts);
  };
}
