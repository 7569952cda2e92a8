import type { ModuleDeps } from '../../../lib/module';
import type { TenantTransactions } from '../../../lib/db/tenant-tx';
import type { JobHandler } from '../../../lib/queue';
import { KrakenClient } from '../exchanges/kraken.client';
import { KrakenWithdrawalRail } from '../exchanges/kraken-withdrawal.rail';
import { SwyftxWithdrawalRail } from '../exchanges/swyftx-withdrawal.rail';
import { WithdrawalExecutor, withdrawalsProcessor, type OnConfirmed } from './executor';
import { PaperWithdrawalRail, type WithdrawalRail } from './rail';
import { AUTO_WITHDRAW_JOB, autoWithdrawProcessor } from './scheduler';
import { WITHDRAWAL_JOB, WithdrawalService } from './service';

export { WithdrawalService, WITHDRAWAL_JOB } from './service';
export { WithdrawalScheduler, AUTO_WITHDRAW_JOB, autoPeriodOf } from './scheduler';
export { taxTransferOnConfirmed } from './tax-fact';
export { WithdrawalExecutor, WithdrawalRetryLater, withdrawalsProcessor } from './executor';
export { PaperWithdrawalRail, type WithdrawalRail, type RailWithdrawal } from './rail';
export { withdrawalTenantMigrations, WITHDRAWAL_TENANT_TABLES } from './migrations';
export { WithdrawalResolver } from './resolvers';

/** The rails of the exchanges with credentials configured (Kraken and Swyftx withdrawal APIs); paper is always there. */
export function withdrawalRails(t: ModuleDeps['config']['treasury']): Record<string, WithdrawalRail> {
  const rails: Record<string, WithdrawalRail> = { paper: new PaperWithdrawalRail() };
  // The Kraken client signs funding calls as it signs orders (one nonce sequence per API key).
  if (t.kraken) rails.kraken = new KrakenWithdrawalRail(new KrakenClient(t.kraken));
  if (t.swyftx) rails.swyftx = new SwyftxWithdrawalRail(t.swyftx);
  return rails;
}

/** The executor a worker runs withdrawals with. */
export function withdrawalExecutor(tenants: TenantTransactions, rails: Record<string, WithdrawalRail> = { paper: new PaperWithdrawalRail() }, onConfirmed?: OnConfirmed): WithdrawalExecutor {
  return new WithdrawalExecutor({ tenants, rails, ...(onConfirmed ? { onConfirmed } : {}) });
}

/**
 * The `purchases` queue carries purchase jobs, withdrawal jobs (name `withdrawal`, also the sweeper's)
 * and auto-withdraw evaluations (`withdrawal.auto`, when `auto` is given): one handler for all.
 */
export function purchasesQueueHandler(purchases: JobHandler, executor: WithdrawalExecutor, auto?: { tenants: TenantTransactions; service: WithdrawalService }): JobHandler {
  const withdrawals = withdrawalsProcessor(executor);
  const autoWithdraw = auto ? autoWithdrawProcessor(auto.tenants, auto.service) : null;
  return (job) => {
    if (job.name === WITHDRAWAL_JOB) return withdrawals(job);
    if (job.name === AUTO_WITHDRAW_JOB && autoWithdraw) return autoWithdraw(job);
    return purchases(job);
  };
}
