import { randomUUID } from 'node:crypto';
import { registerEnumType } from 'type-graphql';
import type { PurchaseUpdatedEvent } from '../../../lib/events';
import type { TenantTx } from '../../../lib/db/tenant-tx';

/**
 * The purchase state machine, in one place: the statuses, the legal moves, and the one function
 * that moves a purchase (its status, stored transition, audit record and live event together).
 *
 *   PENDING → SUBMITTED → FILLED | PARTIALLY_FILLED | FAILED | CANCELLED
 *   PENDING → FAILED | CANCELLED
 */
export enum PurchaseStatus {
  PENDING = 'PENDING',
  SUBMITTED = 'SUBMITTED',
  FILLED = 'FILLED',
  PARTIALLY_FILLED = 'PARTIALLY_FILLED',
  FAILED = 'FAILED',
  CANCELLED = 'CANCELLED',
}
registerEnumType(PurchaseStatus, { name: 'PurchaseStatus' });

export const TERMINAL: ReadonlySet<PurchaseStatus> = new Set([
  PurchaseStatus.FILLED,
  PurchaseStatus.PARTIALLY_FILLED,
  PurchaseStatus.FAILED,
  PurchaseStatus.CANCELLED,
]);

export const IN_FLIGHT: readonly PurchaseStatus[] = [PurchaseStatus.PENDING, PurchaseStatus.SUBMITTED];

/** The only moves a purchase may make; anything else is a bug and is refused. */
export const TRANSITIONS: Readonly<Record<PurchaseStatus, readonly PurchaseStatus[]>> = {
  PENDING: [PurchaseStatus.SUBMITTED, PurchaseStatus.FAILED, PurchaseStatus.CANCELLED],
  SUBMITTED: [PurchaseStatus.FILLED, PurchaseStatus.PARTIALLY_FILLED, PurchaseStatus.FAILED, PurchaseStatus.CANCELLED],
  FILLED: [],
  PARTIALLY_FILLED: [],
  FAILED: [],
  CANCELLED: [],
};

export const canTransition = (from: PurchaseStatus, to: PurchaseStatus): boolean => TRANSITIONS[from].includes(to);

/** The executor no longer owns the purchase's lease: another worker took it over; it must change nothing. */
export class LeaseLost extends Error {
  constructor(purchaseId: string) {
    super(`purchase ${purchaseId}: the lease was taken over by another worker`);
    this.name = 'LeaseLost';
  }
}

export type TransitionChange = {
  reason: string | null;
  actorId: string | null;
  /** Defaults to the transaction's (database) time. */
  at?: Date;
  /** The executor's fencing token: the move happens only while this owner holds the lease (else LeaseLost). */
  leaseOwner?: string;
};

/**
 * Moves a purchase from `p.status` to `to`, as the state machine allows: the status, its stored
 * transition, its audit record, and the live event published after commit. Updates `p.status`.
 */
export async function transitionPurchase(tx: TenantTx, p: { id: string; status: PurchaseStatus }, to: PurchaseStatus, change: TransitionChange): Promise<void> {
  if (!canTransition(p.status, to)) throw new Error(`purchase ${p.id}: ${p.status} → ${to} is not allowed`);
  const { reason, actorId } = change;
  const at = change.at ?? tx.now;
  const fenced = change.leaseOwner !== undefined;
  const moved = await tx.em.execute<{ id: string }[]>(
    `update purchase set status = ?, updated_at = ?, version = version + 1 where id = ? and status = ?${fenced ? ' and lease_owner = ?' : ''} returning id`,
    [to, at, p.id, p.status, ...(fenced ? [change.leaseOwner] : [])],
  );
  if (moved.length === 0) {
    if (fenced) throw new LeaseLost(p.id);
    throw new Error(`purchase ${p.id} is no longer ${p.status}`);
  }
  await tx.em.execute(`insert into purchase_transition (id, purchase_id, from_status, to_status, reason, at) values (?, ?, ?, ?, ?, ?)`, [
    randomUUID(),
    p.id,
    p.status,
    to,
    reason,
    at,
  ]);
  await tx.audit({ eventType: `purchase.${to.toLowerCase()}`, actorId, subjectType: 'BitcoinPurchase', subjectId: p.id, data: { from: p.status, to, reason } });
  const from = p.status;
  p.status = to;
  tx.publish('purchase', purchaseEvent(p.id, to, from, at));
}

/** The `tenant.<tid>.purchase` event (the channel and tenantId come from the transaction). */
export function purchaseEvent(purchaseId: string, status: PurchaseStatus, previous: PurchaseStatus | null, at: Date): PurchaseUpdatedEvent {
  return { __typename: 'PurchaseUpdated', version: 1, purchaseId, status, previousStatus: previous, at: at.toISOString() };
}
