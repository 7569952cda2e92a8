/**
 * A worker process for the withdrawal kill test: runs one withdrawal on the Kraken rail against the
 * fake, with nothing in memory shared with the test, so the test can SIGKILL it mid-withdrawal.
 * Env: APP_DB_URL, TENANT_ID, WITHDRAWAL_ID, KRAKEN_URL, KRAKEN_KEY, KRAKEN_SECRET.
 */
import { InProcessBus } from '../../lib/bus';
import { openAppOrm } from '../../lib/db/orm';
import { TenantDirectory } from '../../lib/db/tenant-context';
import { TenantTransactions } from '../../lib/db/tenant-tx';
import { configureLogger } from '../../lib/logger';
import { treasuryEntities } from '../../subgraphs/treasury';
import { KrakenClient } from '../../subgraphs/treasury/exchanges/kraken.client';
import { KrakenWithdrawalRail } from '../../subgraphs/treasury/exchanges/kraken-withdrawal.rail';
import { WithdrawalExecutor } from '../../subgraphs/treasury/withdrawals/executor';

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is required`);
  return v;
};

async function main(): Promise<void> {
  configureLogger('silent');
  const orm = await openAppOrm(env('APP_DB_URL'), treasuryEntities, 2);
  const tenants = new TenantTransactions(orm, new TenantDirectory(orm), new InProcessBus());
  const rail = new KrakenWithdrawalRail(new KrakenClient({ apiKey: env('KRAKEN_KEY'), apiSecret: env('KRAKEN_SECRET'), baseUrl: env('KRAKEN_URL'), timeoutMs: 60_000 }), { settleMs: 0 });
  const executor = new WithdrawalExecutor({ tenants, rails: { kraken: rail }, pollMs: 1, leaseMs: 1000 });
  process.stdout.write('worker: executing\n');
  await executor.execute(env('TENANT_ID'), env('WITHDRAWAL_ID'));
  process.stdout.write('worker: done\n');
  await orm.close(true);
}

main().catch((err: unknown) => {
  process.stderr.write(`worker failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
