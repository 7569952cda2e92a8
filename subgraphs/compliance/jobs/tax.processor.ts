import type { MikroORM } from '@mikro-orm/postgresql';
import type { TenantDirectory } from '../../../lib/db/tenant-context';
import { TenantTransactions } from '../../../lib/db/tenant-tx';
import { TAX_ACQUISITION_JOB, TAX_DISPOSAL_JOB, TAX_TRANSFER_JOB, TaxAcquisitionFactV1, TaxDisposalFactV1, TaxTransferFactV1, type TaxTransferFact } from '../../../lib/events/tax-facts';
import type { TenantTx } from '../../../lib/db/tenant-tx';
import { log } from '../../../lib/logger';
import type { JobInfo } from '../../../lib/queue';
import { DEFAULT_TIME_ZONE } from '../tax/tax-calendar';
import { loadProfile, recordAcquisitionFact, recordDisposalFact } from '../tax/tax.store';

/**
 * `tax` queue: treasury's fill and sale-settlement facts (lib/events/tax-facts.ts) become rows of the
 * tenant's tax ledger, each once by its fact id (`on conflict do nothing`), in the tenant's
 * transaction. A replayed or swept job records nothing more. No audit event: the purchase or sale
 * the fact describes is already in the chain (treasury audits it); user actions on the ledger are.
 */
export function taxProcessor(orm: MikroORM, directory: TenantDirectory) {
  const transactions = new TenantTransactions(orm, directory);
  return async (job: JobInfo): Promise<void> => {
    if (job.name === TAX_ACQUISITION_JOB) {
      const fact = TaxAcquisitionFactV1.parse(job.data);
      const recorded = await transactions.run(fact.tenantId, async (tx) =>
        recordAcquisitionFact(tx, fact, (await loadProfile(tx.em))?.timeZone ?? DEFAULT_TIME_ZONE),
      );
      log().debug({ factId: fact.id, recorded }, 'tax acquisition fact');
      return;
    }
    if (job.name === TAX_DISPOSAL_JOB) {
      const fact = TaxDisposalFactV1.parse(job.data);
      const recorded = await transactions.run(fact.tenantId, async (tx) =>
        recordDisposalFact(tx, fact, (await loadProfile(tx.em))?.timeZone ?? DEFAULT_TIME_ZONE),
      );
      log().debug({ factId: fact.id, recorded }, 'tax disposal fact');
      return;
    }
    if (job.name === TAX_TRANSFER_JOB) {
      const fact = TaxTransferFactV1.parse(job.data);
      const recorded = await transactions.run(fact.tenantId, (tx) => recordTransferFact(tx, fact));
      log().debug({ factId: fact.id, recorded }, 'tax transfer fact');
      return;
    }
    throw new Error(`tax queue: unknown job ${job.name}`);
  };
}

/**
 * A withdrawal to an own wallet → one tax_transfer row (once by the fact id). Not a disposal: the
 * kernel moves its parcels and derives the FEE disposal of the network fee from this row on replay
 * (a tax_disposal row for the fee as well would dispose of those sats twice). True when recorded now.
 */
export async function recordTransferFact(tx: Pick<TenantTx, 'em'>, fact: TaxTransferFact): Promise<boolean> {
  const rows = await tx.em.execute<{ id: string }[]>(
    `insert into tax_transfer (id, at, from_wallet, to_wallet, sats, network_fee_sats, network_fee_market_value_aud_cents)
     values (?, ?, ?, ?, ?, ?, ?) on conflict (tenant_id, id) do nothing returning id`,
    [fact.id, new Date(fact.at), fact.fromWallet, fact.toWallet, fact.sats, fact.networkFeeSats, fact.networkFeeSats === '0' ? '0' : fact.networkFeeMarketValueAudCents],
  );
  return rows.length === 1;
}
