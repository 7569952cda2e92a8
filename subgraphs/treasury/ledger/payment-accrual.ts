import type { EntityManager } from '@mikro-orm/postgresql';
import { IN_FLIGHT, PurchaseStatus } from '../purchases/purchase-state';
import { big, type RuleRow } from '../rules/rule.repository';
import { E4, addLedgerEntries, addLedgerEntry, max, min, type LedgerEntry } from './accrual-ledger';

/**
 * What one payment event adds to (or takes from) one rule's accrual: a payment's share, a
 * refund's take-back, a balance's growth over its threshold. Idempotent per money movement (source
 * key); in the caller's tenant transaction, with the rule's row lock held.
 */

/** What the treasury acts on from a verified payment event (the tenant subgraph stores those). */
export type PaymentFacts = {
  paymentEventId: string;
  provider: 'stripe' | 'square' | 'paypal';
  kind: 'REVENUE' | 'REFUND' | 'BALANCE';
  amountCents: bigint;
  currency: string;
  providerObjectId: string;
  relatedPaymentId: string | null;
};

/** A payment's share at the rule's rate; refunds that arrived first reduce it. False when already counted. */
export async function accrueRevenue(em: EntityManager, rule: RuleRow, facts: PaymentFacts): Promise<boolean> {
  const share = facts.amountCents * BigInt(rule.percentage_bps ?? 0);
  const key = `${facts.provider}:REVENUE:${facts.providerObjectId}`;
  const fresh = await addLedgerEntry(em, {
    ruleId: rule.id,
    kind: 'REVENUE',
    amountE4: share,
    paymentEventId: facts.paymentEventId,
    originPaymentEventId: facts.paymentEventId,
    rateBps: rule.percentage_bps,
    sourceKey: key,
  });
  if (fresh) await applyEarlyRefunds(em, rule, facts.paymentEventId, key, share);
  return fresh;
}

/**
 * A balance is a level, not a flow: only the growth of the excess over the threshold since the last
 * balance event accrues (buying bitcoin does not lower the processor's balance).
 */
export async function accrueBalance(em: EntityManager, rule: RuleRow, facts: PaymentFacts): Promise<{ accrued: boolean; note: string | null }> {
  const threshold = big(rule.amount_aud_cents) ?? 0n;
  const excess = max(facts.amountCents - threshold, 0n);
  const [level] = await em.execute<{ previous: string | null }[]>(`select balance_excess_cents::text as previous from rule_accrual where rule_id = ?`, [rule.id]);
  const growth = excess - BigInt(level?.previous ?? '0');
  await em.execute(
    `insert into rule_accrual (rule_id, balance_excess_cents) values (?, ?)
     on conflict (tenant_id, rule_id) do update set balance_excess_cents = excluded.balance_excess_cents, updated_at = now()`,
    [rule.id, excess.toString()],
  );
  if (growth <= 0n) {
    return { accrued: false, note: excess === 0n ? `balance is at or below the ${threshold} cent threshold` : 'no new cash above the threshold since the last balance' };
  }
  const accrued = await addLedgerEntry(em, {
    ruleId: rule.id,
    kind: 'BALANCE',
    amountE4: growth * E4,
    paymentEventId: facts.paymentEventId,
    originPaymentEventId: facts.paymentEventId,
    sourceKey: `${facts.provider}:BALANCE:${facts.providerObjectId}`,
  });
  return { accrued, note: null };
}

/**
 * A refund takes back its share of the payment (at the rate the payment accrued at, never more
 * than the payment's share less earlier refunds), in this order: what is still pending of that
 * payment leaves the accrual; what an in-flight (PENDING/SUBMITTED) purchase consumed is held
 * against it, so a failure or a partial fill returns that much less; what a purchase already
 * bought is recorded against it and the bitcoin is kept.
 */
export async function accrueRefund(em: EntityManager, rule: RuleRow, facts: PaymentFacts): Promise<string> {
  const key = `${facts.provider}:REFUND:${facts.providerObjectId}`;
  const base = { ruleId: rule.id, kind: 'REFUND' as const, paymentEventId: facts.paymentEventId };
  const seen = await em.execute<{ ok: number }[]>(`select 1 as ok from accrual_entry where rule_id = ? and source_key = ?`, [rule.id, key]);
  if (seen.length > 0) return 'this refund was already counted';
  if (!facts.relatedPaymentId) {
    await addLedgerEntry(em, { ...base, amountE4: 0n, sourceKey: key, note: 'refund names no payment' });
    return 'refund names no payment';
  }
  const revenueKey = `${facts.provider}:REVENUE:${facts.relatedPaymentId}`;
  const [payment] = await em.execute<{ origin: string; rate_bps: number | null; accrued: string; refunded: string; pending: string }[]>(
    `select p.payment_event_id as origin, p.rate_bps, p.accrued_e4::text as accrued, p.refunded_e4::text as refunded, p.pending_e4::text as pending
     from accrual_entry a join payment_accrual p on p.tenant_id = a.tenant_id and p.rule_id = a.rule_id and p.payment_event_id = a.origin_payment_event_id
     where a.rule_id = ? and a.source_key = ?`,
    [rule.id, revenueKey],
  );
  if (!payment) {
    // Delivered before its payment (webhooks arrive in any order): it waits and reduces the payment's share then.
    await addLedgerEntry(em, {
      ...base,
      amountE4: 0n,
      sourceKey: key,
      note: `refund of ${facts.relatedPaymentId}, received before the payment`,
      awaitingRefundCents: facts.amountCents,
      awaitsKey: revenueKey,
    });
    return 'refund received before its payment; it will reduce that payment when it arrives';
  }
  const origin = payment.origin;
  let left = min(facts.amountCents * BigInt(payment.rate_bps ?? rule.percentage_bps ?? 0), max(BigInt(payment.accrued) - BigInt(payment.refunded), 0n));
  if (left <= 0n) {
    await addLedgerEntry(em, { ...base, amountE4: 0n, originPaymentEventId: origin, sourceKey: key, note: 'the payment was already refunded in full' });
    return 'the payment’s share was already refunded in full';
  }
  const parts: LedgerEntry[] = [];
  const reasons: string[] = [];
  const fromPending = min(left, max(BigInt(payment.pending), 0n));
  if (fromPending > 0n) {
    parts.push({ ...base, amountE4: -fromPending, refundE4: fromPending, originPaymentEventId: origin, note: `refund of ${facts.relatedPaymentId}` });
    left -= fromPending;
  }
  if (left > 0n) {
    // The rule's lock (held) keeps these statuses: finishing a purchase takes it before returning money.
    const held = await em.execute<{ id: string; status: PurchaseStatus }[]>(
      `select id, status from purchase where id in (
         select purchase_id from accrual_entry where rule_id = ? and origin_payment_event_id = ? and purchase_id is not null)`,
      [rule.id, origin],
    );
    const status = new Map(held.map((h) => [h.id, h.status]));
    const outstanding = await em.execute<{ purchase_id: string; outstanding: string; at: Date }[]>(
      `select purchase_id, (-sum(amount_e4 + refund_e4))::text as outstanding, max(created_at) as at from accrual_entry
       where rule_id = ? and origin_payment_event_id = ? and purchase_id is not null
       group by purchase_id having -sum(amount_e4 + refund_e4) > 0`,
      [rule.id, origin],
    );
    const inFlight = (id: string): boolean => IN_FLIGHT.includes(status.get(id) ?? PurchaseStatus.FAILED);
    // In flight first (that share may still come back), then the most recent purchase.
    outstanding.sort((a, b) => Number(inFlight(b.purchase_id)) - Number(inFlight(a.purchase_id)) || new Date(b.at).getTime() - new Date(a.at).getTime());
    for (const o of outstanding) {
      const take = min(left, BigInt(o.outstanding));
      if (take <= 0n) continue;
      const flying = inFlight(o.purchase_id);
      parts.push({
        ...base,
        amountE4: 0n,
        refundE4: take,
        originPaymentEventId: origin,
        purchaseId: o.purchase_id,
        note: flying ? `refund held against purchase ${o.purchase_id}, in flight` : `refunded after purchase ${o.purchase_id}; the bitcoin is kept`,
      });
      reasons.push(
        flying
          ? 'refunded while its purchase is in flight; if that purchase fails or partly fills, the refunded share is not returned to the accrual'
          : 'refunded after its share was bought; the bitcoin is kept',
      );
      left -= take;
      if (left <= 0n) break;
    }
  }
  if (parts.length === 0) parts.push({ ...base, amountE4: 0n, originPaymentEventId: origin, note: 'nothing of the payment’s share is left to take back' });
  await addLedgerEntries(
    em,
    parts.map((e, i) => ({ ...e, sourceKey: i === 0 ? key : `${key}:${i}` })),
  );
  return [...new Set(reasons)].join('; ');
}

/** Refunds that arrived before this payment now reduce its share (never below zero), once. */
async function applyEarlyRefunds(em: EntityManager, rule: RuleRow, paymentEventId: string, revenueKey: string, shareE4: bigint): Promise<void> {
  const [waiting] = await em.execute<{ cents: string }[]>(
    `with w as (
       select id, awaiting_refund_cents from accrual_entry
       where rule_id = ? and awaits_key = ? and awaiting_refund_cents is not null for update),
     done as (update accrual_entry a set awaiting_refund_cents = null, origin_payment_event_id = ? from w where a.id = w.id)
     select coalesce(sum(awaiting_refund_cents), 0)::text as cents from w`,
    [rule.id, revenueKey, paymentEventId],
  );
  const refundE4 = min(BigInt(waiting?.cents ?? '0') * BigInt(rule.percentage_bps ?? 0), shareE4);
  if (refundE4 <= 0n) return;
  await addLedgerEntry(em, {
    ruleId: rule.id,
    kind: 'REFUND',
    amountE4: -refundE4,
    refundE4,
    originPaymentEventId: paymentEventId,
    sourceKey: `${revenueKey}:early-refunds`,
    note: 'refunds received before the payment',
  });
}
