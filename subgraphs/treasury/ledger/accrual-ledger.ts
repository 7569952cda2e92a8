import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';

/**
 * The accrual ledger: append-only entries per rule, the rule's running balance (rule_accrual) and
 * each origin payment's running balance (payment_accrual), FIFO consumption by purchases and the
 * return of what a purchase left unspent. Every function runs in the caller's tenant transaction.
 */

export const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);
export const max = (a: bigint, b: bigint): bigint => (a > b ? a : b);

/** Accrual amounts are AUD cents x 10,000: a share of a cent is exact and remainders carry over. */
export const E4 = 10_000n;

export type LedgerEntry = {
  ruleId: string;
  kind: 'REVENUE' | 'REFUND' | 'BALANCE' | 'PURCHASE' | 'RETURN';
  amountE4: bigint;
  /** The payment event that caused this entry (a payment, a refund, a balance). */
  paymentEventId?: string | null;
  /** The payment whose share this entry moves: its accrual, a refund of it, a purchase or return of it. */
  originPaymentEventId?: string | null;
  /** REFUND: the share of the origin payment this refund takes back (pending, held by an in-flight purchase, or kept). */
  refundE4?: bigint;
  /** REVENUE: the rule's percentage when the payment accrued (its refunds take back at this rate). */
  rateBps?: number | null;
  /** One entry per rule and source key (a money movement): a repeat is ignored. */
  sourceKey?: string | null;
  /** PURCHASE/RETURN: the purchase; REFUND: the purchase the refunded share was consumed by. */
  purchaseId?: string | null;
  /** Human text only: nothing reads it back. */
  note?: string | null;
  /** A refund whose payment has not arrived: its cents, applied when the payment (awaitsKey) comes. */
  awaitingRefundCents?: bigint | null;
  awaitsKey?: string | null;
};

const ENTRY_COLUMNS = [
  'id',
  'rule_id',
  'kind',
  'amount_e4',
  'payment_event_id',
  'origin_payment_event_id',
  'refund_e4',
  'rate_bps',
  'source_key',
  'purchase_id',
  'note',
  'awaiting_refund_cents',
  'awaits_key',
];

/**
 * The one way into the accrual ledger: the entries, the rule's running balance and each origin
 * payment's running balance change in one statement, in the caller's transaction. Entries whose
 * source key was already counted are skipped; returns how many were written.
 */
export async function addLedgerEntries(em: EntityManager, entries: readonly LedgerEntry[]): Promise<number> {
  if (entries.length === 0) return 0;
  const row = `(${ENTRY_COLUMNS.map(() => '?').join(', ')})`;
  const rows = await em.execute<{ n: string }[]>(
    `with e as (
       insert into accrual_entry (${ENTRY_COLUMNS.join(', ')})
       values ${entries.map(() => row).join(', ')}
       on conflict (tenant_id, rule_id, source_key) where source_key is not null do nothing
       returning rule_id, kind, amount_e4, origin_payment_event_id, refund_e4, rate_bps),
     p as (
       insert into payment_accrual (rule_id, payment_event_id, kind, rate_bps, accrued_e4, refunded_e4, pending_e4)
       select rule_id, origin_payment_event_id, max(kind) filter (where kind in ('REVENUE', 'BALANCE')), max(rate_bps),
         coalesce(sum(amount_e4) filter (where kind in ('REVENUE', 'BALANCE')), 0), sum(refund_e4), sum(amount_e4)
       from e where origin_payment_event_id is not null group by rule_id, origin_payment_event_id
       on conflict (tenant_id, rule_id, payment_event_id) do update set
         kind = coalesce(payment_accrual.kind, excluded.kind), rate_bps = coalesce(payment_accrual.rate_bps, excluded.rate_bps),
         accrued_e4 = payment_accrual.accrued_e4 + excluded.accrued_e4, refunded_e4 = payment_accrual.refunded_e4 + excluded.refunded_e4,
         pending_e4 = payment_accrual.pending_e4 + excluded.pending_e4, updated_at = now()),
     r as (
       insert into rule_accrual (rule_id, pending_e4) select rule_id, sum(amount_e4) from e group by rule_id
       on conflict (tenant_id, rule_id) do update set pending_e4 = rule_accrual.pending_e4 + excluded.pending_e4, updated_at = now())
     select count(*)::text as n from e`,
    entries.flatMap((e) => [
      randomUUID(),
      e.ruleId,
      e.kind,
      e.amountE4.toString(),
      e.paymentEventId ?? null,
      e.originPaymentEventId ?? null,
      (e.refundE4 ?? 0n).toString(),
      e.rateBps ?? null,
      e.sourceKey ?? null,
      e.purchaseId ?? null,
      e.note ?? null,
      e.awaitingRefundCents?.toString() ?? null,
      e.awaitsKey ?? null,
    ]),
  );
  return Number(rows[0]?.n ?? '0');
}

/** One entry; false when its source key was already counted. */
export async function addLedgerEntry(em: EntityManager, e: LedgerEntry): Promise<boolean> {
  return (await addLedgerEntries(em, [e])) === 1;
}

/** What the rule has accrued and not yet spent, in AUD cents x 10,000. */
export async function pendingAccrualE4(em: EntityManager, ruleId: string): Promise<bigint> {
  const rows = await em.execute<{ pending: string }[]>(`select pending_e4::text as pending from rule_accrual where rule_id = ?`, [ruleId]);
  return BigInt(rows[0]?.pending ?? '0');
}

/**
 * A new purchase takes `amountE4` from the rule's accrual, oldest payment first (FIFO by when each
 * payment accrued): one PURCHASE entry per payment it consumed, whole or in part. What caps left
 * unbought stays pending with its payment, so a later refund of it reduces the accrual.
 */
export async function consumeForPurchase(em: EntityManager, ruleId: string, purchaseId: string, amountE4: bigint, note: string | null): Promise<void> {
  const open = await em.execute<{ origin: string; pending: string }[]>(
    `select payment_event_id as origin, pending_e4::text as pending from (
       select payment_event_id, pending_e4, first_at, sum(pending_e4) over (order by first_at, payment_event_id) - pending_e4 as before
       from payment_accrual where rule_id = ? and pending_e4 > 0) b
     where before < ? order by first_at, payment_event_id`,
    [ruleId, amountE4.toString()],
  );
  const entries: LedgerEntry[] = [];
  let need = amountE4;
  for (const b of open) {
    const take = min(need, BigInt(b.pending));
    if (take <= 0n) break;
    entries.push({ ruleId, kind: 'PURCHASE', amountE4: -take, originPaymentEventId: b.origin, purchaseId, sourceKey: `purchase:${purchaseId}:${b.origin}`, note });
    need -= take;
  }
  // Only rows written before payments were tracked can leave money no payment holds.
  if (need > 0n) entries.push({ ruleId, kind: 'PURCHASE', amountE4: -need, purchaseId, sourceKey: `purchase:${purchaseId}`, note });
  await addLedgerEntries(em, entries);
}

type Consumption = { origin: string | null; consumed: bigint; held: bigint };

/** Per payment: what the purchase consumed (net of returns) and what refunds hold against it, unrealized. */
async function consumptionOf(em: EntityManager, ruleId: string, purchaseId: string): Promise<Consumption[]> {
  const rows = await em.execute<{ origin: string | null; consumed: string; held: string }[]>(
    `select a.origin_payment_event_id as origin,
       coalesce(-sum(a.amount_e4) filter (where a.kind in ('PURCHASE', 'RETURN')), 0)::text as consumed,
       coalesce(sum(a.refund_e4 + a.amount_e4) filter (where a.kind = 'REFUND'), 0)::text as held
     from accrual_entry a left join payment_accrual p on p.tenant_id = a.tenant_id and p.rule_id = a.rule_id and p.payment_event_id = a.origin_payment_event_id
     where a.rule_id = ? and a.purchase_id = ?
     group by a.origin_payment_event_id, p.first_at
     order by p.first_at desc nulls first, a.origin_payment_event_id desc`,
    [ruleId, purchaseId],
  );
  return rows.map((r) => ({ origin: r.origin, consumed: BigInt(r.consumed), held: BigInt(r.held) }));
}

/**
 * A purchase ended (FAILED, CANCELLED, PARTIALLY_FILLED, or FILLED with change) leaving
 * `unspentCents` of its amount unspent: up to what it consumed, that goes back to the payments it
 * consumed. Shares that refunds took back while it was in flight are covered first (the refunded
 * revenue is never bought later); the rest returns newest payment first, so what stays bought is
 * the oldest (FIFO). Whatever of an in-flight refund the unspent money does not cover was bought:
 * that bitcoin is kept. Call once, in the transaction that makes the purchase final.
 */
export async function returnUnspent(em: EntityManager, p: { id: string; ruleId: string | null; unspentCents: bigint }): Promise<void> {
  if (!p.ruleId || p.unspentCents <= 0n) return;
  const ruleId = p.ruleId;
  // Every ledger writer of a rule holds its row lock (the engine takes it first): a refund being
  // applied now is either committed before this reads, or waits and sees this purchase final.
  await em.execute(`select id from treasury_rule where id = ? for update`, [ruleId]);
  const parts = await consumptionOf(em, ruleId, p.id);
  let left = p.unspentCents * E4;
  const entries: LedgerEntry[] = [];
  const back = new Map<string | null, bigint>();
  const give = (origin: string | null, amount: bigint) => back.set(origin, (back.get(origin) ?? 0n) + amount);
  for (const c of parts) {
    const covered = min(min(c.held, c.consumed), left);
    if (covered <= 0n || c.origin === null) continue;
    give(c.origin, covered);
    // The refund, held until now, takes the returned share off the accrual.
    entries.push({
      ruleId,
      kind: 'REFUND',
      amountE4: -covered,
      originPaymentEventId: c.origin,
      purchaseId: p.id,
      sourceKey: `purchase:${p.id}:refunded:${c.origin}`,
      note: `refunded while purchase ${p.id} was in flight; not bought`,
    });
    left -= covered;
  }
  for (const c of parts) {
    if (left <= 0n) break;
    const take = min(max(c.consumed - c.held, 0n), left);
    if (take <= 0n) continue;
    give(c.origin, take);
    left -= take;
  }
  // More unspent than it consumed: a fixed-amount (DCA, price-drop) purchase took nothing from an accrual; none is owed.
  const returns: LedgerEntry[] = [...back].map(([origin, amount]) => ({
    ruleId,
    kind: 'RETURN',
    amountE4: amount,
    originPaymentEventId: origin,
    purchaseId: p.id,
    sourceKey: `purchase:${p.id}:return:${origin ?? 'untraced'}`,
    note: `unspent by purchase ${p.id}`,
  }));
  await addLedgerEntries(em, [...returns, ...entries]);
}
