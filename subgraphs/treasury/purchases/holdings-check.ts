import type { EntityManager } from '@mikro-orm/postgresql';

/** One exchange's holding: as stored (`holding`) and as the purchase and sale ledger adds up. */
export type HoldingFigures = { sats: bigint; costBaseAudCents: bigint; feesAudCents: bigint; purchases: number };
export type HoldingDifference = { exchange: string; stored: HoldingFigures | null; recomputed: HoldingFigures };
export type HoldingsCheck = { exchanges: number; differences: HoldingDifference[] };

type Row = {
  exchange: string;
  stored_sats: string | null;
  stored_cost: string | null;
  stored_fees: string | null;
  stored_purchases: number | null;
  bought_sats: string;
  cost: string;
  fees: string;
  fills: number;
  sold_sats: string;
};

/**
 * Recomputes each exchange's holding from the ledger the executors write it from, in the tenant's
 * transaction: purchases that filled anything add their sats, cost (spent + fee) and fee and count
 * once (PurchaseExecutor.finish); sales that filled take their sats off (SaleExecutor.finish, which
 * floors at 0 per sale: recomputed as a floor on the total, the same unless a sale outsold its
 * exchange's holding at the time). Filtered by tenant explicitly too, so it also holds for an owner
 * connection that bypasses row-level security (a restore check).
 */
export async function checkHoldings(em: EntityManager, tenantId: string): Promise<HoldingsCheck> {
  const rows = await em.execute<Row[]>(
    `with bought as (
       select exchange, sum(filled_sats) as sats, sum(spent_aud_cents + fee_aud_cents) as cost, sum(fee_aud_cents) as fees, count(*)::int as fills
         from purchase where tenant_id = ? and filled_sats > 0 and exchange is not null and status in ('FILLED', 'PARTIALLY_FILLED') group by exchange),
     sold as (
       select exchange, sum(filled_sats) as sats
         from sale where tenant_id = ? and filled_sats > 0 and exchange is not null and status in ('FILLED', 'PARTIALLY_FILLED') group by exchange),
     stored as (select exchange, sats, cost_base_aud_cents, fees_aud_cents, purchases from holding where tenant_id = ?),
     exchanges as (select exchange from bought union select exchange from sold union select exchange from stored)
     select e.exchange,
            s.sats::text as stored_sats, s.cost_base_aud_cents::text as stored_cost, s.fees_aud_cents::text as stored_fees, s.purchases as stored_purchases,
            coalesce(b.sats, 0)::text as bought_sats, coalesce(b.cost, 0)::text as cost, coalesce(b.fees, 0)::text as fees, coalesce(b.fills, 0) as fills,
            coalesce(x.sats, 0)::text as sold_sats
       from exchanges e left join bought b using (exchange) left join sold x using (exchange) left join stored s using (exchange)
      order by e.exchange`,
    [tenantId, tenantId, tenantId],
  );
  const differences: HoldingDifference[] = [];
  for (const r of rows) {
    const net = BigInt(r.bought_sats) - BigInt(r.sold_sats);
    const recomputed: HoldingFigures = { sats: net > 0n ? net : 0n, costBaseAudCents: BigInt(r.cost), feesAudCents: BigInt(r.fees), purchases: Number(r.fills) };
    const stored: HoldingFigures | null =
      r.stored_sats === null
        ? null
        : { sats: BigInt(r.stored_sats), costBaseAudCents: BigInt(r.stored_cost ?? '0'), feesAudCents: BigInt(r.stored_fees ?? '0'), purchases: Number(r.stored_purchases ?? 0) };
    const empty = recomputed.sats === 0n && recomputed.costBaseAudCents === 0n && recomputed.purchases === 0;
    const same =
      stored === null
        ? empty
        : stored.sats === recomputed.sats && stored.costBaseAudCents === recomputed.costBaseAudCents && stored.feesAudCents === recomputed.feesAudCents && stored.purchases === recomputed.purchases;
    if (!same) differences.push({ exchange: r.exchange, stored, recomputed });
  }
  return { exchanges: rows.length, differences };
}
