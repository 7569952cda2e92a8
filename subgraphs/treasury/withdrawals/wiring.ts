import type { TenantTransactions } from '../../../lib/db/tenant-tx';
import type { JobHandler } from '../../../lib/queue';
import { WithdrawalExecutor, withdrawalsProcessor } from './executor';
import { PaperWithdrawalRail, type WithdrawalRail } from './rail';
import { WITHDRAWAL_JOB } from './service';

export { WithdrawalService, WITHDRAWAL_JOB } from './service';
export { WithdrawalExecutor, WithdrawalRetryLater, withdrawalsProcessor } from './executor';
export { PaperWithdrawalRail, type WithdrawalRail, type RailWithdrawal } from './rail';
export { withdrawalTenantMigrations, WITHDRAWAL_TENANT_TABLES } from './migrations';
export { WithdrawalResolver } from './resolvers';

/** The executor a worker runs withdrawals with: the paper rail (Kraken and Swyftx withdrawals are not wired yet). */
export function withdrawalExecutor(tenants: TenantTransactions, rails: Record<string, WithdrawalRail> = { paper: new PaperWithdrawalRail() }): WithdrawalExecutor {
  return new WithdrawalExecutor({ tenants, rails });
}

/** The `purchases` queue carries purchase jobs and withdrawal jobs (name `withdrawal`): one handler for both. */
export function purchasesQueueHandler(purchases: JobHandler, executor: WithdrawalExecutor): JobHandler {
  const withdrawals = withdrawalsProcessor(executor);
  return (job) => (job.name === WITHDRAWAL_JOB ? withdrawals(job) : purchases(job));
}
