import { createHash, randomUUID } from 'node:crypto';
import type { TenantTx } from '../../../lib/db/tenant-tx';
import { AppError, ErrorCode, badInput } from '../../../lib/errors';
import { amlOperationMessage } from '../../../lib/events/aml-facts';
import type { ExchangeName } from '../exchanges/exchange.types';
import { assertRouteAllowed } from '../kyb/kyb-gate';
import { readTreasurySettings } from '../settings/treasury-settings';
import { PurchaseSource } from './purchase.entity';
import { PurchaseStatus, purchaseEvent } from './purchase-state';

export type NewPurchase = {
  amountCents: bigint;
  source: PurchaseSource;
  ruleId: string | null;
  requestedBy: string | null;
  reason: string;
};

/**
 * Our order id at the exchange: the purchase id itself, so a retry finds the same order. A UUID is
 * the one form every adapter takes (Kraken's cl_ord_id: a UUID or at most 18 characters).
 */
export function clientOrderIdFor(purchaseId: string): string {
  return purchaseId;
}

/**
 * Creates a PENDING purchase with its first transition, audit record and execution job (via the
 * outbox: the job exists if and only if the purchase commits), and its live event after commit.
 */
export async function createPurchase(tx: TenantTx, p: NewPurchase, at: Date, id: string = randomUUID()): Promise<string> {
  const { em } = tx;
  await em.execute(
    `insert into purchase (id, rule_id, source, status, amount_aud_cents, client_order_id, requested_by, created_at, updated_at)
     values (?, ?, ?, 'PENDING', ?, ?, ?, ?, ?)`,
    [id, p.ruleId, p.source, p.amountCents.toString(), clientOrderIdFor(id), p.requestedBy, at, at],
  );
  await em.execute(`insert into purchase_transition (id, purchase_id, from_status, to_status, reason, at) values (?, ?, null, 'PENDING', ?, ?)`, [
    randomUUID(),
    id,
    p.reason,
    at,
  ]);
  await tx.audit({
    eventType: 'purchase.pending',
    actorId: p.requestedBy,
    subjectType: 'BitcoinPurchase',
    subjectId: id,
    data: { amountAudCents: p.amountCents.toString(), source: p.source, ruleId: p.ruleId, reason: p.reason },
  });
  // The job id is the purchase id: enqueueing twice is a no-op.
  await tx.outbox({ queue: 'purchases', jobName: 'execute', payload: { purchaseId: id }, id });
  // AML monitoring (#11): compliance evaluates every purchase, the fact committed with it.
  await tx.outbox(amlOperationMessage({ version: 1, tenantId: tx.tenantId, id, kind: 'PURCHASE', amountAudCents: p.amountCents.toString(), at: at.toISOString() }));
  tx.publish('purchase', purchaseEvent(id, PurchaseStatus.PENDING, null, at));
  return id;
}

export type ManualLimits = { exchangeMinCents: bigint; manualMaxCents: bigint };

/**
 * A manual purchase with Stripe's idempotency semantics, scoped to the tenant: the same key with
 * the same amount returns the same purchase; the same key with a different amount is refused.
 */
export async function requestPurchase(
  tx: TenantTx,
  limits: ManualLimits,
  r: { userId: string; amountCents: bigint; idempotencyKey: string; at: Date },
): Promise<{ id: string; created: boolean }> {
  const key = r.idempotencyKey.trim();
  if (key.length < 8 || key.length > 255 || !/^[\x21-\x7e]+$/.test(key)) {
    throw badInput('idempotencyKey must be 8 to 255 printable characters', 'idempotencyKey');
  }
  if (r.amountCents < limits.exchangeMinCents) {
    throw badInput(`amountAudCents must be at least the exchange minimum of ${limits.exchangeMinCents} cents`, 'amountAudCents');
  }
  if (r.amountCents > limits.manualMaxCents) {
    throw badInput(`amountAudCents must not exceed ${limits.manualMaxCents} cents per request`, 'amountAudCents');
  }
  // KYB gate (#11): a real exchange in the tenant's route needs a verified business; nothing is written.
  const settings = await readTreasurySettings(tx.em);
  await assertRouteAllowed(tx.em, { primary: settings.primaryExchange as ExchangeName, failover: settings.failoverExchanges as ExchangeName[] }, 'PURCHASE');
  const requestHash = createHash('sha256').update(JSON.stringify({ amountAudCents: r.amountCents.toString() })).digest('hex');
  const id = randomUUID();
  // Concurrent requests with one key: the second waits on the first's row, then sees it.
  const claimed = await tx.em.execute<{ purchase_id: string }[]>(
    `insert into purchase_idempotency (key, request_hash, purchase_id) values (?, ?, ?) on conflict (tenant_id, key) do nothing returning purchase_id`,
    [key, requestHash, id],
  );
  if (claimed.length === 0) {
    const [prior] = await tx.em.execute<{ request_hash: string; purchase_id: string }[]>(`select request_hash, purchase_id from purchase_idempotency where key = ?`, [key]);
    if (!prior || prior.request_hash !== requestHash) {
      throw new AppError(ErrorCode.CONFLICT, 'this idempotencyKey was used with different parameters', { reason: 'IDEMPOTENCY_KEY_REUSED' });
    }
    return { id: prior.purchase_id, created: false };
  }
  await createPurchase(tx, { amountCents: r.amountCents, source: PurchaseSource.MANUAL, ruleId: null, requestedBy: r.userId, reason: 'requested by a user' }, r.at, id);
  return { id, created: true };
}
