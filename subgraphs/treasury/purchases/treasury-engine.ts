import { createHash, randomUUID } from 'node:crypto';
import { CronExpressionParser } from 'cron-parser';
import type { EntityManager } from '@mikro-orm/postgresql';
import { recordAudit } from '../../../lib/audit';
import type { BusEvent, EventBus } from '../../../lib/bus';
import { AppError, ErrorCode, badInput } from '../../../lib/errors';
import { addToOutbox, kickOutbox } from '../../../lib/outbox';
import { RuleType } from '../treasury-rule.entity';
import type { RuleChange } from '../treasury-rule.service';
import { startOfLocalDay, startOfLocalMonth } from './local-time';
import { PurchaseSource, PurchaseStatus, TRANSITIONS } from './purchase.entity';

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
async function consumeForPurchase(em: EntityManager, ruleId: string, purchaseId: string, amountE4: bigint, note: string | null): Promise<void> {
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

/** AUD cents x 10,000 as an exact decimal number of cents ("1234.5", "0.0001"). */
export function e4ToCentsDecimal(e4: bigint): string {
  const sign = e4 < 0n ? '-' : '';
  const abs = e4 < 0n ? -e4 : e4;
  const frac = (abs % E4).toString().padStart(4, '0').replace(/0+$/, '');
  return `${sign}${abs / E4}${frac ? `.${frac}` : ''}`;
}

/**
 * Whole cents for shares given in cents x 10,000 (all >= 0), summing exactly to the floor of their
 * total: each gets its floor, and the cents left over go to the largest remainders (ties: first).
 */
export function apportionWholeCents(sharesE4: readonly bigint[]): bigint[] {
  const total = sharesE4.reduce((a, b) => a + b, 0n) / E4;
  const out = sharesE4.map((e) => e / E4);
  let left = total - out.reduce((a, b) => a + b, 0n);
  const order = sharesE4.map((e, i) => ({ i, rem: e % E4 })).sort((a, b) => (a.rem === b.rem ? a.i - b.i : a.rem > b.rem ? -1 : 1));
  for (const { i } of order) {
    if (left <= 0n) break;
    out[i] += 1n;
    left -= 1n;
  }
  return out;
}

/** A live event to publish once the transaction that produced it has committed. */
export type Publication = { channel: string; event: BusEvent };

/**
 * After a commit: wake the outbox relay for the jobs it wrote, then publish its live events.
 * Best effort: the jobs are safe in the outbox; a lost live event only delays a screen.
 */
export async function publishAfterCommit(bus: EventBus, publications: readonly Publication[]): Promise<void> {
  if (publications.length === 0) return;
  await kickOutbox(bus);
  for (const p of publications) await bus.publish(p.channel, p.event).catch(() => undefined);
}

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

/** Where PRICE_DROP rules read the market: the latest AUD price and its N-day average, as exact decimals. */
export type PriceReference = {
  latest(): Promise<string | null>;
  averageOverDays(days: number): Promise<string | null>;
};

export type EngineOptions = {
  /** The smallest order the exchanges take; smaller amounts accrue until they reach it. */
  exchangeMinCents: bigint;
  /** The most a single manual request may buy. */
  manualMaxCents: bigint;
  now?: () => Date;
};

type RuleRow = {
  id: string;
  type: RuleType;
  enabled: boolean;
  version: number;
  percentage_bps: number | null;
  amount_aud_cents: string | null;
  min_order_aud_cents: string;
  max_per_purchase_aud_cents: string | null;
  daily_cap_aud_cents: string | null;
  monthly_cap_aud_cents: string | null;
  provider: string | null;
};

const RULE_COLUMNS = `id, type, enabled, version, percentage_bps, amount_aud_cents, min_order_aud_cents, max_per_purchase_aud_cents,
  daily_cap_aud_cents, monthly_cap_aud_cents, provider`;

const big = (v: string | null): bigint | null => (v === null ? null : BigInt(v));
const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);
const max = (a: bigint, b: bigint): bigint => (a > b ? a : b);

export type ApplyOutcome = { status: 'PROCESSED' | 'SKIPPED'; reason: string | null; purchases: string[]; publications: Publication[] };

export type NewPurchase = {
  tenantId: string;
  amountCents: bigint;
  source: PurchaseSource;
  ruleId: string | null;
  requestedBy: string | null;
  reason: string;
};

/**
 * The treasury's rules engine. Every method runs inside the caller's tenant transaction (RLS
 * scoped), so an accrual, the purchase it triggers, its audit record and its `purchases` job
 * commit together or not at all. Live events are returned, to be published after commit.
 */
export class TreasuryEngine {
  private readonly now: () => Date;

  constructor(private readonly opts: EngineOptions) {
    this.now = opts.now ?? (() => new Date());
  }

  get exchangeMinCents(): bigint {
    return this.opts.exchangeMinCents;
  }

  /**
   * Applies one payment event to the tenant's enabled rules (a refund also to paused ones: it takes
   * back what they accrued). Idempotent per money movement.
   */
  async applyPaymentEvent(em: EntityManager, tenantId: string, facts: PaymentFacts): Promise<ApplyOutcome> {
    const out: ApplyOutcome = { status: 'PROCESSED', reason: null, purchases: [], publications: [] };
    if (facts.currency !== 'AUD') {
      return { ...out, status: 'SKIPPED', reason: `amount is in ${facts.currency}; rules act on AUD only and nothing is converted` };
    }
    if (facts.amountCents <= 0n) return { ...out, status: 'SKIPPED', reason: 'amount is not positive' };
    const types = facts.kind === 'BALANCE' ? [RuleType.BALANCE_THRESHOLD] : [RuleType.PERCENTAGE_OF_REVENUE];
    // Locking the rules serializes flushes per tenant rule: two events never spend one accrual twice.
    const rules = (
      await em.execute<RuleRow[]>(
        `select ${RULE_COLUMNS} from treasury_rule where (enabled or ?) and type = any(?::text[]) order by id for update`,
        [facts.kind === 'REFUND', `{${types.join(',')}}`],
      )
    ).filter((r) => r.provider === null || r.provider === facts.provider);
    if (rules.length === 0) return { ...out, status: 'SKIPPED', reason: 'no enabled rule applies to this event' };

    const notes: string[] = [];
    for (const rule of rules) {
      if (facts.kind === 'REVENUE') {
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
        if (fresh) await this.applyEarlyRefunds(em, rule, facts.paymentEventId, key, share);
      } else if (facts.kind === 'REFUND') {
        notes.push(await this.refund(em, rule, facts));
      } else {
        // A balance is a level, not a flow: sweep only the growth of the excess over the threshold
        // since the last balance event (buying bitcoin does not lower the processor's balance).
        const threshold = big(rule.amount_aud_cents) ?? 0n;
        const excess = max(facts.amountCents - threshold, 0n);
        const [level] = await em.execute<{ previous: string | null }[]>(
          `select balance_excess_cents::text as previous from rule_accrual where rule_id = ?`,
          [rule.id],
        );
        const growth = excess - BigInt(level?.previous ?? '0');
        await em.execute(
          `insert into rule_accrual (rule_id, balance_excess_cents) values (?, ?)
           on conflict (tenant_id, rule_id) do update set balance_excess_cents = excluded.balance_excess_cents, updated_at = now()`,
          [rule.id, excess.toString()],
        );
        if (growth <= 0n) {
          notes.push(excess === 0n ? `balance is at or below the ${threshold} cent threshold` : 'no new cash above the threshold since the last balance');
          continue;
        }
        const fresh = await addLedgerEntry(em, {
          ruleId: rule.id,
          kind: 'BALANCE',
          amountE4: growth * E4,
          paymentEventId: facts.paymentEventId,
          originPaymentEventId: facts.paymentEventId,
          sourceKey: `${facts.provider}:BALANCE:${facts.providerObjectId}`,
        });
        if (!fresh) continue;
      }
      if (!rule.enabled) continue;
      const flushed = await this.flush(em, tenantId, rule, PurchaseSource.RULE, 'threshold');
      out.purchases.push(...flushed.purchases);
      out.publications.push(...flushed.publications);
    }
    return { ...out, reason: [...new Set(notes.filter(Boolean))].join('; ') || null };
  }

  /**
   * A refund takes back its share of the payment (at the rate the payment accrued at, never more
   * than the payment's share less earlier refunds), in this order: what is still pending of that
   * payment leaves the accrual; what an in-flight (PENDING/SUBMITTED) purchase consumed is held
   * against it, so a failure or a partial fill returns that much less; what a purchase already
   * bought is recorded against it and the bitcoin is kept.
   */
  private async refund(em: EntityManager, rule: RuleRow, facts: PaymentFacts): Promise<string> {
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
      const inFlight = (id: string): boolean => [PurchaseStatus.PENDING, PurchaseStatus.SUBMITTED].includes(status.get(id) ?? PurchaseStatus.FAILED);
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
  private async applyEarlyRefunds(em: EntityManager, rule: RuleRow, paymentEventId: string, revenueKey: string, shareE4: bigint): Promise<void> {
    const [waiting] = await em.execute<{ cents: string }[]>(
      `with w as (
         select id, awaiting_refund_cents from accrual_entry
         where rule_id = ? and awaits_key = ? and awaiting_refund_cents is not null for update),
       done as (update accrual_entry a set awaiting_refund_cents = null, origin_payment_event_id = ? from w where a.id = w.id)
       select coalesce(sum(awaiting_refund_cents), 0)::text as cents from w`,
      [rule.id, revenueKey, paymentEventId],
    );
    const refundE4 = min(BigInt(waiting.cents) * BigInt(rule.percentage_bps ?? 0), shareE4);
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

  /**
   * Turns a rule's pending accrual into a purchase when it reaches the rule's minimum (and the
   * exchange's), within its per-purchase, daily and monthly caps. `cutoff` flushes anything the
   * exchange will take, below the rule's own minimum. The purchase consumes payments oldest first.
   */
  async flush(em: EntityManager, tenantId: string, rule: RuleRow, source: PurchaseSource, why: 'threshold' | 'cutoff'): Promise<{ purchases: string[]; publications: Publication[] }> {
    const none = { purchases: [], publications: [] };
    const pendingE4 = await pendingAccrualE4(em, rule.id);
    const pending = pendingE4 > 0n ? pendingE4 / E4 : 0n;
    const exchangeMin = this.opts.exchangeMinCents;
    const threshold = why === 'cutoff' ? exchangeMin : max(BigInt(rule.min_order_aud_cents), exchangeMin);
    if (pending < threshold || pending <= 0n) return none;

    const { amount, limitedBy } = await this.withinLimits(em, rule, pending);
    const publications: Publication[] = [];
    if (limitedBy) {
      publications.push(ruleEvent(tenantId, rule, 'LIMIT_REACHED'));
    }
    if (amount < exchangeMin || amount <= 0n) return { purchases: [], publications };
    const created = await this.createPurchase(em, {
      tenantId,
      amountCents: amount,
      source,
      ruleId: rule.id,
      requestedBy: null,
      reason: `${rule.type} rule reached ${why === 'cutoff' ? 'the daily cut-off' : 'its minimum order'}${limitedBy ? `; limited by its ${limitedBy}` : ''}`,
    });
    await consumeForPurchase(em, rule.id, created.id, amount * E4, limitedBy ? `limited by ${limitedBy}` : null);
    const fired = await this.fired(em, tenantId, rule, created);
    return { purchases: fired.purchases, publications: [...publications, ...fired.publications] };
  }

  /** `wanted` cut to the rule's per-purchase maximum and what its daily and monthly caps leave; which cap bit, if one did. */
  private async withinLimits(em: EntityManager, rule: RuleRow, wanted: bigint): Promise<{ amount: bigint; limitedBy: string | null }> {
    let amount = wanted;
    const perPurchase = big(rule.max_per_purchase_aud_cents);
    if (perPurchase !== null) amount = min(amount, perPurchase);
    const limits = await this.remainingCaps(em, rule);
    let limitedBy: string | null = null;
    if (limits.daily !== null && limits.daily < amount) {
      amount = limits.daily;
      limitedBy = 'daily cap';
    }
    if (limits.monthly !== null && limits.monthly < amount) {
      amount = limits.monthly;
      limitedBy = 'monthly cap';
    }
    return { amount, limitedBy };
  }

  /** A rule created a purchase: note when, and say so on the rule channel. */
  private async fired(
    em: EntityManager,
    tenantId: string,
    rule: RuleRow,
    created: { id: string; publications: Publication[] },
  ): Promise<{ purchases: string[]; publications: Publication[] }> {
    await em.execute(`update treasury_rule set last_fired_at = ? where id = ?`, [this.now(), rule.id]);
    return { purchases: [created.id], publications: [...created.publications, ruleEvent(tenantId, rule, 'FIRED')] };
  }

  /** What the rule may still buy today and this month, in the tenant's timezone (null = no cap). */
  private async remainingCaps(em: EntityManager, rule: RuleRow): Promise<{ daily: bigint | null; monthly: bigint | null }> {
    const daily = big(rule.daily_cap_aud_cents);
    const monthly = big(rule.monthly_cap_aud_cents);
    if (daily === null && monthly === null) return { daily: null, monthly: null };
    const tz = await this.timezone(em);
    const now = this.now();
    const rows = await em.execute<{ day: string; month: string }[]>(
      // In flight: its whole amount; settled: what it took from the rule (a partial fill returned the rest).
      `with p as (
         select created_at, case when status in ('FILLED', 'PARTIALLY_FILLED') then least(amount_aud_cents, spent_aud_cents + fee_aud_cents)
                                 else amount_aud_cents end as used
         from purchase where rule_id = ? and status not in ('FAILED', 'CANCELLED') and created_at >= ?)
       select coalesce(sum(used) filter (where created_at >= ?), 0)::text as day, coalesce(sum(used), 0)::text as month from p`,
      [rule.id, startOfLocalMonth(now, tz), startOfLocalDay(now, tz)],
    );
    const r = rows[0];
    return {
      daily: daily === null ? null : max(daily - BigInt(r.day), 0n),
      monthly: monthly === null ? null : max(monthly - BigInt(r.month), 0n),
    };
  }

  private async timezone(em: EntityManager): Promise<string> {
    const rows = await em.execute<{ timezone: string }[]>(
      `select timezone from public.tenant where id = nullif(current_setting('app.tenant_id', true), '')::uuid`,
    );
    return rows[0]?.timezone ?? 'Australia/Sydney';
  }

  /**
   * The daily cut-off: every enabled revenue/balance rule flushes whatever the exchange will take.
   * Once per tenant and local `day` (YYYY-MM-DD), recorded in the tenant's settings, however often
   * the job is delivered.
   */
  async flushAtCutoff(em: EntityManager, tenantId: string, day: string): Promise<{ purchases: string[]; publications: Publication[] }> {
    const first = await em.execute<{ ok: number }[]>(
      `insert into treasury_settings (last_cutoff_day) values (?)
       on conflict (tenant_id) do update set last_cutoff_day = excluded.last_cutoff_day
       where treasury_settings.last_cutoff_day is distinct from excluded.last_cutoff_day
       returning 1 as ok`,
      [day],
    );
    if (first.length === 0) return { purchases: [], publications: [] };
    const rules = await em.execute<RuleRow[]>(
      `select ${RULE_COLUMNS} from treasury_rule where enabled and type in ('PERCENTAGE_OF_REVENUE', 'BALANCE_THRESHOLD') order by id for update`,
    );
    const out = { purchases: [] as string[], publications: [] as Publication[] };
    for (const rule of rules) {
      const r = await this.flush(em, tenantId, rule, PurchaseSource.CUTOFF, 'cutoff');
      out.purchases.push(...r.purchases);
      out.publications.push(...r.publications);
    }
    return out;
  }

  /**
   * FIXED_DCA: buys the rule's amount when its schedule is due (within caps), then moves the
   * schedule on. A new rule's first run is scheduled, not bought at once.
   */
  async runSchedule(em: EntityManager, tenantId: string, ruleId: string): Promise<{ purchases: string[]; publications: Publication[] }> {
    const rule = (
      await em.execute<(RuleRow & { schedule: string | null; unscheduled: boolean; due: boolean })[]>(
        `select ${RULE_COLUMNS}, schedule, next_run_at is null as unscheduled, coalesce(next_run_at <= ?, false) as due
         from treasury_rule where id = ? and type = 'FIXED_DCA' and enabled for update`,
        [this.now(), ruleId],
      )
    )[0];
    const none = { purchases: [], publications: [] };
    if (!rule || !rule.schedule) return none;
    const tz = await this.timezone(em);
    const next = nextRun(rule.schedule, this.now(), tz);
    if (rule.unscheduled) await em.execute(`update treasury_rule set next_run_at = ? where id = ?`, [next, rule.id]);
    if (!rule.due) return none;
    await em.execute(`update treasury_rule set next_run_at = ? where id = ?`, [next, rule.id]);
    return this.buyFixed(em, tenantId, rule, PurchaseSource.SCHEDULE, `scheduled purchase (${rule.schedule})`);
  }

  /**
   * PRICE_DROP: buys the rule's amount when the price is at least percentageBps below its
   * lookback average, at most once per cooldown.
   */
  async checkPriceDrop(em: EntityManager, tenantId: string, prices: PriceReference): Promise<{ purchases: string[]; publications: Publication[] }> {
    const rules = await em.execute<(RuleRow & { lookback_days: number | null; cooling: boolean })[]>(
      `select ${RULE_COLUMNS}, lookback_days,
         coalesce(last_fired_at + coalesce(cooldown_minutes, 1440) * interval '1 minute' > ?, false) as cooling
       from treasury_rule where enabled and type = 'PRICE_DROP' order by id for update`,
      [this.now()],
    );
    const out = { purchases: [] as string[], publications: [] as Publication[] };
    const latest = rules.length > 0 ? await prices.latest() : null;
    if (latest === null) return out;
    for (const rule of rules) {
      if (rule.cooling) continue;
      const average = await prices.averageOverDays(rule.lookback_days ?? 7);
      if (average === null) continue;
      if (!isDropAtLeast(latest, average, rule.percentage_bps ?? 0)) continue;
      const r = await this.buyFixed(em, tenantId, rule, PurchaseSource.RULE, `price ${latest} is at least ${(rule.percentage_bps ?? 0) / 100}% below the ${rule.lookback_days ?? 7}-day average ${average}`);
      out.purchases.push(...r.purchases);
      out.publications.push(...r.publications);
    }
    return out;
  }

  /** A fixed-amount purchase for a rule, within its per-purchase, daily and monthly caps. */
  private async buyFixed(em: EntityManager, tenantId: string, rule: RuleRow, source: PurchaseSource, reason: string): Promise<{ purchases: string[]; publications: Publication[] }> {
    const { amount } = await this.withinLimits(em, rule, big(rule.amount_aud_cents) ?? 0n);
    if (amount < this.opts.exchangeMinCents) return { purchases: [], publications: [ruleEvent(tenantId, rule, 'LIMIT_REACHED')] };
    const created = await this.createPurchase(em, { tenantId, amountCents: amount, source, ruleId: rule.id, requestedBy: null, reason });
    return this.fired(em, tenantId, rule, created);
  }

  /** Creates a PENDING purchase with its first transition, audit record and execution job. */
  async createPurchase(em: EntityManager, p: NewPurchase): Promise<{ id: string; publications: Publication[] }> {
    const id = randomUUID();
    return { id, ...(await this.createPurchaseWithId(em, id, p)) };
  }

  /**
   * A manual purchase with Stripe's idempotency semantics, scoped to the tenant: the same key with
   * the same amount returns the same purchase; the same key with a different amount is refused.
   */
  async requestPurchase(
    em: EntityManager,
    tenantId: string,
    userId: string,
    amountCents: bigint,
    idempotencyKey: string,
  ): Promise<{ id: string; created: boolean; publications: Publication[] }> {
    const key = idempotencyKey.trim();
    if (key.length < 8 || key.length > 255 || !/^[\x21-\x7e]+$/.test(key)) {
      throw badInput('idempotencyKey must be 8 to 255 printable characters', 'idempotencyKey');
    }
    if (amountCents < this.opts.exchangeMinCents) {
      throw badInput(`amountAudCents must be at least the exchange minimum of ${this.opts.exchangeMinCents} cents`, 'amountAudCents');
    }
    if (amountCents > this.opts.manualMaxCents) {
      throw badInput(`amountAudCents must not exceed ${this.opts.manualMaxCents} cents per request`, 'amountAudCents');
    }
    const requestHash = createHash('sha256').update(JSON.stringify({ amountAudCents: amountCents.toString() })).digest('hex');
    const id = randomUUID();
    // Concurrent requests with one key: the second waits on the first's row, then sees it.
    const claimed = await em.execute<{ purchase_id: string }[]>(
      `insert into purchase_idempotency (key, request_hash, purchase_id) values (?, ?, ?) on conflict (tenant_id, key) do nothing returning purchase_id`,
      [key, requestHash, id],
    );
    if (claimed.length === 0) {
      const prior = (await em.execute<{ request_hash: string; purchase_id: string }[]>(
        `select request_hash, purchase_id from purchase_idempotency where key = ?`,
        [key],
      ))[0];
      if (prior.request_hash !== requestHash) {
        throw new AppError(ErrorCode.CONFLICT, 'this idempotencyKey was used with different parameters', { reason: 'IDEMPOTENCY_KEY_REUSED' });
      }
      return { id: prior.purchase_id, created: false, publications: [] };
    }
    const created = await this.createPurchaseWithId(em, id, {
      tenantId,
      amountCents,
      source: PurchaseSource.MANUAL,
      ruleId: null,
      requestedBy: userId,
      reason: 'requested by a user',
    });
    return { id, created: true, publications: created.publications };
  }

  private async createPurchaseWithId(em: EntityManager, id: string, p: NewPurchase): Promise<{ publications: Publication[] }> {
    const at = this.now();
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
    await recordAudit(em, {
      eventType: 'purchase.pending',
      actorId: p.requestedBy,
      subjectType: 'BitcoinPurchase',
      subjectId: id,
      data: { amountAudCents: p.amountCents.toString(), source: p.source, ruleId: p.ruleId, reason: p.reason },
    });
    // The job id is the purchase id: enqueueing twice is a no-op.
    await addToOutbox(em, { queue: 'purchases', jobName: 'execute', payload: { purchaseId: id }, id });
    return { publications: [purchaseEvent(p.tenantId, id, PurchaseStatus.PENDING, null, at)] };
  }
}

const NAMED_SCHEDULES: Record<string, string> = { DAILY: '0 9 * * *', WEEKLY: '0 9 * * 1', MONTHLY: '0 9 1 * *' };

/** The next run of a DAILY/WEEKLY/MONTHLY (09:00 local) or 5-field cron schedule after `after`, in the tenant's timezone. */
export function nextRun(schedule: string, after: Date, timeZone: string): Date {
  const expr = NAMED_SCHEDULES[schedule] ?? schedule;
  return CronExpressionParser.parse(expr, { currentDate: after, tz: timeZone }).next().toDate();
}

/** True when `price` is at least `bps` basis points below `average`, compared exactly (no floats). */
export function isDropAtLeast(price: string, average: string, bps: number): boolean {
  const scale = (v: string): [bigint, number] => {
    const [i, f = ''] = v.split('.');
    return [BigInt(i + f), f.length];
  };
  const [p, pf] = scale(price);
  const [a, af] = scale(average);
  const digits = Math.max(pf, af);
  const P = p * 10n ** BigInt(digits - pf);
  const A = a * 10n ** BigInt(digits - af);
  // price <= average * (1 - bps/10000)  ⇔  price * 10000 <= average * (10000 - bps)
  return P * 10_000n <= A * BigInt(10_000 - bps);
}

/**
 * Our order id at the exchange: the purchase id itself, so a retry finds the same order. A UUID is
 * the one form every adapter takes (Kraken's cl_ord_id: a UUID or at most 18 characters).
 */
export function clientOrderIdFor(purchaseId: string): string {
  return purchaseId;
}

/**
 * Moves a purchase from `p.status` to `to`, as the state machine allows: the status, its stored
 * transition, its audit record, and the live event to publish after commit. Updates `p.status`.
 */
export async function transitionPurchase(
  em: EntityManager,
  tenantId: string,
  p: { id: string; status: PurchaseStatus },
  to: PurchaseStatus,
  change: { reason: string | null; actorId: string | null; at: Date },
): Promise<Publication> {
  if (!TRANSITIONS[p.status].includes(to)) throw new Error(`purchase ${p.id}: ${p.status} → ${to} is not allowed`);
  const { reason, actorId, at } = change;
  await em.execute(`update purchase set status = ?, updated_at = ?, version = version + 1 where id = ?`, [to, at, p.id]);
  await em.execute(`insert into purchase_transition (id, purchase_id, from_status, to_status, reason, at) values (?, ?, ?, ?, ?, ?)`, [
    randomUUID(),
    p.id,
    p.status,
    to,
    reason,
    at,
  ]);
  await recordAudit(em, {
    eventType: `purchase.${to.toLowerCase()}`,
    actorId,
    subjectType: 'BitcoinPurchase',
    subjectId: p.id,
    data: { from: p.status, to, reason },
  });
  const from = p.status;
  p.status = to;
  return purchaseEvent(tenantId, p.id, to, from, at);
}

export function purchaseEvent(tenantId: string, purchaseId: string, status: PurchaseStatus, previous: PurchaseStatus | null, at: Date): Publication {
  return {
    channel: `tenant.${tenantId}.purchase`,
    event: { __typename: 'PurchaseUpdated', version: 1, purchaseId, status, previousStatus: previous, at: at.toISOString() },
  };
}

/** The `tenant.<tid>.rule` event: a change to a rule (treasury-rule.service) or what it did (this engine). */
export function ruleEvent(tenantId: string, rule: Pick<RuleRow, 'id' | 'version'>, change: RuleChange | 'FIRED' | 'LIMIT_REACHED'): Publication {
  return {
    channel: `tenant.${tenantId}.rule`,
    event: { __typename: 'TreasuryRuleChanged', version: 1, id: rule.id, change, ruleVersion: rule.version },
  };
}

export type { RuleRow };
