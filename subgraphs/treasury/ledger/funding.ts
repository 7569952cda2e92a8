import type { EntityManager } from '@mikro-orm/postgresql';
import type { PurchaseFunding } from '../purchases/purchase.entity';
import { apportionWholeCents, e4ToCentsDecimal } from './cents';

type FundingRow = { purchase_id: string; origin: string | null; kind: string | null; taken: string; returned: string };

/**
 * What each purchase took from its rule's accrual, per payment (oldest first): what it consumed
 * less what it returned unspent. The exact shares sum to the purchase's net take; so do the whole
 * cents. One query for any number of purchases.
 */
export async function fundingOf(em: EntityManager, purchaseIds: readonly string[]): Promise<Map<string, PurchaseFunding[]>> {
  const out = new Map<string, PurchaseFunding[]>(purchaseIds.map((id) => [id, []]));
  if (purchaseIds.length === 0) return out;
  const rows = await em.execute<FundingRow[]>(
    `select a.purchase_id, a.origin_payment_event_id as origin, p.kind, (-sum(a.amount_e4))::text as taken,
       coalesce(sum(a.amount_e4) filter (where a.kind = 'RETURN'), 0)::text as returned
     from accrual_entry a
     left join payment_accrual p on p.tenant_id = a.tenant_id and p.rule_id = a.rule_id and p.payment_event_id = a.origin_payment_event_id
     where a.purchase_id = any(?::uuid[]) and a.kind in ('PURCHASE', 'RETURN')
     group by a.purchase_id, a.origin_payment_event_id, p.kind, p.first_at
     having sum(a.amount_e4) <> 0
     order by a.purchase_id, p.first_at nulls last, a.origin_payment_event_id`,
    [`{${purchaseIds.join(',')}}`],
  );
  const byPurchase = new Map<string, FundingRow[]>();
  for (const r of rows) byPurchase.set(r.purchase_id, [...(byPurchase.get(r.purchase_id) ?? []), r]);
  for (const [id, list] of byPurchase) {
    const cents = apportionWholeCents(list.map((r) => BigInt(r.taken)));
    out.set(
      id,
      list.map((r, i) => {
        const returned = BigInt(r.returned);
        return {
          kind: r.kind ?? 'UNTRACED',
          paymentEventId: r.origin,
          amountAudCents: cents[i] ?? 0n,
          exactAudCents: e4ToCentsDecimal(BigInt(r.taken)),
          note: returned > 0n ? `${e4ToCentsDecimal(BigInt(r.taken) + returned)} cents consumed, ${e4ToCentsDecimal(returned)} returned unspent` : null,
        };
      }),
    );
  }
  return out;
}
