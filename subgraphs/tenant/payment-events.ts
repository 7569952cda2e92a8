import type { EntityManager } from '@mikro-orm/postgresql';

/** A stored, verified payment event as the treasury needs it (the tenant subgraph owns the table). */
export type PaymentEventFacts = {
  id: string;
  provider: 'stripe' | 'square' | 'paypal';
  kind: 'REVENUE' | 'REFUND' | 'BALANCE' | 'IGNORED';
  amountCents: bigint | null;
  currency: string | null;
  providerObjectId: string | null;
  relatedPaymentId: string | null;
  occurredAt: Date | null;
  status: 'RECEIVED' | 'IGNORED' | 'PROCESSED' | 'SKIPPED';
};

type Row = {
  id: string;
  provider: PaymentEventFacts['provider'];
  kind: PaymentEventFacts['kind'];
  amount_cents: string | null;
  currency: string | null;
  provider_object_id: string | null;
  related_payment_id: string | null;
  occurred_at: Date | null;
  status: PaymentEventFacts['status'];
};

/** Reads one event in the caller's tenant transaction, locking it so two workers never process it at once. */
export async function lockPaymentEvent(em: EntityManager, id: string): Promise<PaymentEventFacts | null> {
  const rows = await em.execute<Row[]>(
    `select id, provider, kind, amount_cents, currency, provider_object_id, related_payment_id, occurred_at, status
     from payment_event where id = ? for update`,
    [id],
  );
  const r = rows[0];
  if (!r) return null;
  return {
    id: r.id,
    provider: r.provider,
    kind: r.kind,
    amountCents: r.amount_cents === null ? null : BigInt(r.amount_cents),
    currency: r.currency,
    providerObjectId: r.provider_object_id,
    relatedPaymentId: r.related_payment_id,
    occurredAt: r.occurred_at,
    status: r.status,
  };
}

/** Records what the treasury did with the event, with a reason a user can read. */
export async function settlePaymentEvent(em: EntityManager, id: string, status: 'PROCESSED' | 'SKIPPED', reason: string | null): Promise<void> {
  await em.execute(`update payment_event set status = ?, status_reason = ? where id = ?`, [status, reason, id]);
}

/** Events still waiting for the treasury after `staleMs` (their job was lost, e.g. Redis restarted empty). */
export async function staleReceivedEvents(em: EntityManager, staleMs: number, limit = 200): Promise<string[]> {
  const rows = await em.execute<{ id: string }[]>(
    `select id from payment_event where status = 'RECEIVED' and received_at < now() - (? * interval '1 millisecond') order by received_at limit ?`,
    [staleMs, limit],
  );
  return rows.map((r) => r.id);
}
