import { TAX_QUEUE, TAX_TRANSFER_JOB, TaxTransferFactV1, taxFactJobId, type TaxTransferFact } from '../../../lib/events/tax-facts';
import { log } from '../../../lib/logger';
import { parsePrice, satsToAudCentsCeil } from './approvals';
import type { OnConfirmed } from './executor';
import { destinationWallet } from './tax-transfer';
import { isOwnWalletRecord } from './travel-record';

/**
 * What a CONFIRMED withdrawal tells compliance's tax ledger, written to the outbox in the CONFIRMED
 * transaction (so the fact exists if and only if the confirmation committed): to the tenant's own
 * wallet it is a `TaxTransferFactV1` — parcels move from the exchange's wallet to the destination's,
 * the network fee is the FEE disposal the kernel derives, at the fee sats' value at the latest price
 * (rounded up to the cent; 0 with `priceMissing` when no price is known).
 */
export function taxTransferOnConfirmed(latestPrice: () => Promise<string | null>): OnConfirmed {
  return async (tx, row, seen, at) => {
    if (!isOwnWalletRecord(row.travel_rule)) {
      // Every destination today is the tenant's own confirmed wallet; anything else is compliance's call.
      log().warn({ tenantId: tx.tenantId, withdrawalId: row.id }, 'confirmed withdrawal is not to an own wallet: no transfer fact');
      return;
    }
    const feeSats = seen.feeSats ?? (row.fee_sats === null ? 0n : BigInt(row.fee_sats));
    const received = seen.sats;
    let priceText: string | null = null;
    try {
      priceText = feeSats > 0n ? await latestPrice() : null;
    } catch (err) {
      log().warn({ err: (err as Error).message }, 'no price for the withdrawal fee value');
    }
    const value = priceText === null ? 0n : satsToAudCentsCeil(feeSats, parsePrice(priceText));
    const fact: TaxTransferFact = TaxTransferFactV1.parse({
      version: 1,
      kind: 'transfer',
      tenantId: tx.tenantId,
      id: row.id,
      withdrawalId: row.id,
      exchange: row.rail,
      at: at.toISOString(),
      fromWallet: row.rail,
      toWallet: destinationWallet(row.destination_id),
      sats: received.toString(),
      networkFeeSats: feeSats.toString(),
      networkFeeMarketValueAudCents: value.toString(),
      ...(feeSats > 0n && priceText === null ? { priceMissing: true } : {}),
      txid: seen.txid ?? row.txid,
    });
    await tx.outbox({ queue: TAX_QUEUE, jobName: TAX_TRANSFER_JOB, payload: fact, id: taxFactJobId(TAX_TRANSFER_JOB, fact.id) });
  };
}
