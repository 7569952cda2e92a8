import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { PurchaseStatus } from './purchase-state';

/**
 * Purchase rows as the executor and the sweeper see them, and the lease: one worker at a time owns
 * a purchase while it talks to exchanges. A claim draws a random owner (a fencing token) and ends
 * `leaseMs` after the database's now; every later write by that worker is compare-and-set on the
 * owner, so a worker whose lease lapsed (paused, partitioned) changes nothing once another took over.
 * All times are the database's: workers' clocks are never compared with each other.
 */
export type PurchaseRow = {
  id: string;
  rule_id: string | null;
  status: PurchaseStatus;
  amount_aud_cents: string;
  client_order_id: string;
  /** A live lease is held (by anyone), on the database's clock. */
  leased: boolean;
  /** The holder of the lease, if any (live or lapsed). */
  lease_owner: string | null;
};

const COLUMNS = `id, rule_id, status, amount_aud_cents::text, client_order_id, coalesce(lease_until > now(), false) as leased, lease_owner`;

/** The purchase, row-locked for this transaction. */
export async function lockPurchase(em: EntityManager, id: string): Promise<PurchaseRow | undefined> {
  return (await em.execute<PurchaseRow[]>(`select ${COLUMNS} from purchase where id = ? for update`, [id]))[0];
}

/** Takes the lease of a locked purchase for `leaseMs` from the database's now; returns the new owner's token. */
export async function takeLease(em: EntityManager, id: string, leaseMs: number): Promise<string> {
  const owner = randomUUID();
  await em.execute(`update purchase set lease_until = now() + (? * interval '1 millisecond'), lease_owner = ? where id = ?`, [leaseMs, owner, id]);
  return owner;
}

/** Gives the lease back if `owner` still holds it; false when another worker took it over. */
export async function releaseLease(em: EntityManager, id: string, owner: string): Promise<boolean> {
  const rows = await em.execute<{ id: string }[]>(`update purchase set lease_until = null, lease_owner = null where id = ? and lease_owner = ? returning id`, [id, owner]);
  return rows.length > 0;
}

/** Records where the order is working and releases the lease, if `owner` still holds it. */
export async function parkWorkingOrder(em: EntityManager, id: string, owner: string, order: { exchange: string; exchangeOrderId: string }): Promise<boolean> {
  const rows = await em.execute<{ id: string }[]>(
    `update purchase set exchange = ?, exchange_order_id = ?, lease_until = null, lease_owner = null where id = ? and lease_owner = ? returning id`,
    [order.exchange, order.exchangeOrderId, id, owner],
  );
  return rows.length > 0;
}

/**
 * PENDING/SUBMITTED purchases whose job was lost: no live lease and untouched for `staleMs`
 * (database clock). The sweeper enqueues them again; they reconcile before buying.
 */
export async function stalePurchases(em: EntityManager, staleMs: number, limit = 100): Promise<string[]> {
  const rows = await em.execute<{ id: string }[]>(
    `select id from purchase where status in ('PENDING', 'SUBMITTED') and (lease_until is null or lease_until < now())
     and updated_at < now() - (? * interval '1 millisecond') order by updated_at limit ?`,
    [staleMs, limit],
  );
  return rows.map((r) => r.id);
}
