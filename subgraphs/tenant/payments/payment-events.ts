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

/** A stored event as the API shows it: what arrived, its status and why. */
export type PaymentEventRecord = {
  tenantId: string;
  id: string;
  integrationId: string;
  provider: 'stripe' | 'square' | 'paypal';
  providerEventId: string;
  eventType: string;
  kind: PaymentEventFacts['kind'];
  amountCents: bigint | null;
  currency: string | null;
  providerObjectId: string | null;
  relatedPaymentId: string | null;
  occurredAt: Date | null;
  receivedAt: Date;
  status: PaymentEventFacts['status'];
  reason: string | null;
  /** U+0000 or an unpaired surrogate was replaced in what is stored; raw_body keeps the exact delivery. */
  sanitized: boolean;
  /** received_at to the microsecond (a JavaScript Date has milliseconds): the page cursor's sort key. */
  receivedAtExact: string;
};

type RecordRow = {
  tenant_id: string;
  id: string;
  integration_id: string;
  provider: PaymentEventRecord['provider'];
  provider_event_id: string;
  event_type: string;
  kind: PaymentEventRecord['kind'];
  amount_cents: string | null;
  currency: string | null;
  provider_object_id: string | null;
  related_payment_id: string | null;
  occurred_at: Date | string | null;
  received_at: Date | string;
  received_at_exact: string;
  status: PaymentEventRecord['status'];
  status_reason: string | null;
  sanitized: boolean;
};

const RECORD_COLUMNS = `tenant_id, id, integration_id, provider, provider_event_id, event_type, kind, amount_cents::text as amount_cents, currency,
  provider_object_id, related_payment_id, occurred_at, received_at, status, status_reason, raw_body is not null as sanitized,
  to_char(received_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as received_at_exact`;

const toRecord = (r: RecordRow): PaymentEventRecord => ({
  tenantId: r.tenant_id,
  id: r.id,
  integrationId: r.integration_id,
  provider: r.provider,
  providerEventId: r.provider_event_id,
  eventType: r.event_type,
  kind: r.kind,
  amountCents: r.amount_cents === null ? null : BigInt(r.amount_cents),
  currency: r.currency,
  providerObjectId: r.provider_object_id,
  relatedPaymentId: r.related_payment_id,
  // Raw queries on the ORM's connection return timestamps as text.
  occurredAt: r.occurred_at === null ? null : new Date(r.occurred_at),
  receivedAt: new Date(r.received_at),
  status: r.status,
  reason: r.status_reason,
  sanitized: r.sanitized,
  receivedAtExact: r.received_at_exact,
});

/** Where a page ends: the last event's received_at (to the microsecond) and id. */
export type PaymentEventCursor = { receivedAt: string; id: string };

export type PaymentEventFilter = { status?: PaymentEventRecord['status'] | null; integrationId?: string | null };

/** One page of the caller's tenant's events, newest first (in the caller's tenant transaction: RLS scoped). */
export async function listPaymentEvents(
  em: EntityManager,
  filter: PaymentEventFilter,
  first: number,
  after: PaymentEventCursor | null,
): Promise<{ events: PaymentEventRecord[]; hasNextPage: boolean }> {
  const rows = await em.execute<RecordRow[]>(
    `select ${RECORD_COLUMNS} from payment_event
     where (?::text is null or status = ?) and (?::uuid is null or integration_id = ?)
       and (?::timestamptz is null or (received_at, id) < (?::timestamptz, ?::uuid))
     order by received_at desc, id desc
     limit ?`,
    [
      filter.status ?? null,
      filter.status ?? null,
      filter.integrationId ?? null,
      filter.integrationId ?? null,
      after?.receivedAt ?? null,
      after?.receivedAt ?? null,
      after?.id ?? null,
      first + 1,
    ],
  );
  return { events: rows.slice(0, first).map(toRecord), hasNextPage: rows.length > first };
}

/** The events with these ids that the caller's tenant has (in its transaction), in one query. */
export async function paymentEventsById(em: EntityManager, ids: readonly string[]): Promise<PaymentEventRecord[]> {
  if (ids.length === 0) return [];
  const rows = await em.execute<RecordRow[]>(`select ${RECORD_COLUMNS} from payment_event where id = any(?::uuid[])`, [`{${ids.join(',')}}`]);
  return rows.map(toRecord);
}
