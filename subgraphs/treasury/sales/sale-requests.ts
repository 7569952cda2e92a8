import { createHash, randomUUID } from 'node:crypto';
import type { TenantTx } from '../../../lib/db/tenant-tx';
import type { SaleUpdatedEvent } from '../../../lib/events';
import { AppError, ErrorCode, badInput } from '../../../lib/errors';
import { PurchaseStatus } from '../purchases/purchase-state';
import { assertRouteAllowed } from '../kyb/kyb-gate';
import { readTreasurySettings } from '../settings/treasury-settings';
import type { ExchangeName } from '../exchanges/exchange.types';

/** The `purchases` queue job that executes a sale (the purchases processor's second job name). */
export const SALE_EXECUTE_JOB = 'sale.execute' as const;

/** Our order id at the exchange: the sale id itself (a UUID: every adapter takes it), so a retry finds the same order. */
export function clientOrderIdForSale(saleId: string): string {
  return saleId;
}

export function saleEvent(saleId: string, status: PurchaseStatus, previous: PurchaseStatus | null, at: Date): SaleUpdatedEvent {
  return { __typename: 'SaleUpdated', version: 1, saleId, status, previousStatus: previous, at: at.toISOString() };
}

/**
 * Sats the tenant may still sell: everything its purchases filled, less every sale that is not
 * FAILED or CANCELLED (a pending or submitted sale is counted at its full size, a settled one at
 * what it sold). Read under a per-tenant advisory lock so two concurrent requests cannot both spend
 * the same sats.
 */
export async function availableSats(tx: TenantTx): Promise<bigint> {
  const { em } = tx;
  await em.execute(`select pg_advisory_xact_lock(hashtext('sale:' || ?::text))`, [tx.tenantId]);
  const [row] = await em.execute<{ bought: string; committed: string }[]>(
    `select (select coalesce(sum(filled_sats), 0) from purchase where status in ('FILLED', 'PARTIALLY_FILLED'))::text as bought,
            (select coalesce(sum(case when status in ('FILLED', 'PARTIALLY_FILLED') then filled_sats else sats end), 0)
               from sale where status not in ('FAILED', 'CANCELLED'))::text as committed`,
  );
  if (!row) return 0n;
  return BigInt(row.bought) - BigInt(row.committed);
}

/**
 * A sale with the purchase requests' idempotency semantics (the same key with the same sats returns
 * the same sale; with different sats it is refused), refused with INSUFFICIENT_HOLDINGS above what
 * the tenant holds. A new sale is PENDING with its first transition, audit record and execution job
 * (via the outbox, job id = sale id), and its live event after commit. Refusals write nothing.
 */
export async function requestSale(
  tx: TenantTx,
  r: { userId: string; sats: bigint; idempotencyKey: string; at: Date },
): Promise<{ id: string; created: boolean }> {
  const key = r.idempotencyKey.trim();
  if (key.length < 8 || key.length > 255 || !/^[\x21-\x7e]+$/.test(key)) {
    throw badInput('idempotencyKey must be 8 to 255 printable characters', 'idempotencyKey');
  }
  if (r.sats <= 0n) throw badInput('satoshis must be a positive whole number', 'satoshis');
  const requestHash = createHash('sha256').update(JSON.stringify({ satoshis: r.sats.toString() })).digest('hex');
  const { em } = tx;
  const [prior] = await em.execute<{ request_hash: string; sale_id: string }[]>(`select request_hash, sale_id from sale_idempotency where key = ?`, [key]);
  if (prior) {
    if (prior.request_hash !== requestHash) {
      throw new AppError(ErrorCode.CONFLICT, 'this idempotencyKey was used with different parameters', { reason: 'IDEMPOTENCY_KEY_REUSED' });
    }
    return { id: prior.sale_id, created: false };
  }
  // AML/CTF (#11): a sale on a real exchange waits for the tenant's KYB verification (FORBIDDEN KYB_NOT_VERIFIED; paper stays open).
  const settings = await readTreasurySettings(em);
  await assertRouteAllowed(em, { primary: settings.primaryExchange as ExchangeName, failover: settings.failoverExchanges as ExchangeName[] }, 'SALE');
  // The lock in availableSats also serialises requests with one key: the second sees the first's row below.
  const available = await availableSats(tx);
  const [again] = await em.execute<{ request_hash: string; sale_id: string }[]>(`select request_hash, sale_id from sale_idempotency where key = ?`, [key]);
  if (again) {
    if (again.request_hash !== requestHash) {
      throw new AppError(ErrorCode.CONFLICT, 'this idempotencyKey was used with different parameters', { reason: 'IDEMPOTENCY_KEY_REUSED' });
    }
    return { id: again.sale_id, created: false };
  }
  if (r.sats > available) {
    throw new AppError(ErrorCode.BAD_USER_INPUT, `cannot sell ${r.sats} sats: the treasury holds ${available > 0n ? available : 0n} sats not already sold or being sold`, {
      reason: 'INSUFFICIENT_HOLDINGS',
      field: 'satoshis',
    });
  }
  const id = randomUUID();
  await em.execute(`insert into sale_idempotency (key, request_hash, sale_id) values (?, ?, ?)`, [key, requestHash, id]);
  await em.execute(
    `insert into sale (id, status, sats, client_order_id, requested_by, created_at, updated_at) values (?, 'PENDING', ?, ?, ?, ?, ?)`,
    [id, r.sats.toString(), clientOrderIdForSale(id), r.userId, r.at, r.at],
  );
  await em.execute(`insert into sale_transition (id, sale_id, from_status, to_status, reason, at) values (?, ?, null, 'PENDING', ?, ?)`, [
    randomUUID(),
    id,
    'requested by a user',
    r.at,
  ]);
  await tx.audit({ eventType: 'sale.pending', actorId: r.userId, subjectType: 'BitcoinSale', subjectId: id, data: { satoshis: r.sats.toString() } });
  await tx.outbox({ queue: 'purchases', jobName: SALE_EXECUTE_JOB, payload: { saleId: id }, id });
  tx.publish('sale', saleEvent(id, PurchaseStatus.PENDING, null, r.at));
  return { id, created: true };
}
