import { z } from 'zod';
import { TaxAcquisitionFactV1 } from '../../../lib/events/tax-facts';
import { DEFAULT_ATTEMPTS, type JobInfo } from '../../../lib/queue';
import { ACCOUNTING_FILL_JOB, ACCOUNTING_RETRY_JOB, postFill, retryPost, type PostingDeps } from './books.service';

const RetryJob = z.object({ tenantId: z.string().uuid(), postId: z.string().uuid() });

/**
 * `accounting` queue: a fill's journal to every connected ledger (`accounting.fill`, the fill fact
 * treasury writes through its outbox) and a manual retry of one post (`accounting.retry`). A post
 * that failed for a retryable reason throws, so the queue runs the job again with backoff; the
 * ledgers see the same idempotency key each time.
 */
export function accountingProcessor(deps: PostingDeps, opts: { maxAttempts?: number } = {}) {
  const maxAttempts = opts.maxAttempts ?? DEFAULT_ATTEMPTS;
  return async (job: JobInfo): Promise<void> => {
    const at = { attempt: job.attempt, maxAttempts };
    if (job.name === ACCOUNTING_FILL_JOB) {
      await postFill(deps, TaxAcquisitionFactV1.parse(job.data), at);
      return;
    }
    if (job.name === ACCOUNTING_RETRY_JOB) {
      const { tenantId, postId } = RetryJob.parse(job.data);
      await retryPost(deps, tenantId, postId, at);
      return;
    }
    throw new Error(`accounting queue: unknown job ${job.name}`);
  };
}
