import type { TenantTx } from '../../../lib/db/tenant-tx';
import { E4, consumeForPurchase, max, pendingAccrualE4 } from '../ledger/accrual-ledger';
import { accrueBalance, accrueRefund, accrueRevenue, type PaymentFacts } from '../ledger/payment-accrual';
import { PurchaseSource } from '../purchases/purchase.entity';
import { createPurchase, requestPurchase, type NewPurchase } from '../purchases/purchase-requests';
import { RuleType } from './rule.entity';
import { ruleEvent } from './rule.events';
import { recordLimitNotice } from './limit-notices';
import { withinLimits } from './rule-limits';
import { big, lockRulesForPayment, markFired, type RuleRow } from './rule.repository';

export type EngineOptions = {
  /** The smallest order the exchanges take; smaller amounts accrue until they reach it. */
  exchangeMinCents: bigint;
  /** The most a single manual request may buy. */
  manualMaxCents: bigint;
  /** The business clock of caps and schedules (tests move it); defaults to the wall clock. */
  now?: () => Date;
};

export type ApplyOutcome = { status: 'PROCESSED' | 'SKIPPED'; reason: string | null; purchases: string[] };

/**
 * The treasury's rules engine: payments → accruals → purchases, within each rule's minimums and
 * caps. Every method runs inside the caller's tenant transaction (TenantTx), so an accrual, the
 * purchase it triggers, its audit record and its `purchases` job commit together or not at all;
 * live events go out through the transaction, after commit.
 */
export class RuleEngine {
  readonly now: () => Date;

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
  async applyPaymentEvent(tx: TenantTx, facts: PaymentFacts): Promise<ApplyOutcome> {
    const out: ApplyOutcome = { status: 'PROCESSED', reason: null, purchases: [] };
    if (facts.currency !== 'AUD') {
      return { ...out, status: 'SKIPPED', reason: `amount is in ${facts.currency}; rules act on AUD only and nothing is converted` };
    }
    if (facts.amountCents <= 0n) return { ...out, status: 'SKIPPED', reason: 'amount is not positive' };
    const types = facts.kind === 'BALANCE' ? [RuleType.BALANCE_THRESHOLD] : [RuleType.PERCENTAGE_OF_REVENUE];
    const rules = (await lockRulesForPayment(tx.em, types, facts.kind === 'REFUND')).filter((r) => r.provider === null || r.provider === facts.provider);
    if (rules.length === 0) return { ...out, status: 'SKIPPED', reason: 'no enabled rule applies to this event' };

    const notes: string[] = [];
    for (const rule of rules) {
      if (facts.kind === 'REVENUE') {
        await accrueRevenue(tx.em, rule, facts);
      } else if (facts.kind === 'REFUND') {
        notes.push(await accrueRefund(tx.em, rule, facts));
      } else {
        const b = await accrueBalance(tx.em, rule, facts);
        if (b.note) notes.push(b.note);
        if (!b.accrued) continue;
      }
      if (!rule.enabled) continue;
      out.purchases.push(...(await this.flush(tx, rule, PurchaseSource.RULE, 'threshold')));
    }
    return { ...out, reason: [...new Set(notes.filter(Boolean))].join('; ') || null };
  }

  /**
   * Turns a rule's pending accrual into a purchase when it reaches the rule's minimum (and the
   * exchange's), within its per-purchase, daily and monthly caps. `cutoff` flushes anything the
   * exchange will take, below the rule's own minimum. The purchase consumes payments oldest first.
   */
  async flush(tx: TenantTx, rule: RuleRow, source: PurchaseSource, why: 'threshold' | 'cutoff'): Promise<string[]> {
    const pendingE4 = await pendingAccrualE4(tx.em, rule.id);
    const pending = pendingE4 > 0n ? pendingE4 / E4 : 0n;
    const exchangeMin = this.opts.exchangeMinCents;
    const threshold = why === 'cutoff' ? exchangeMin : max(BigInt(rule.min_order_aud_cents), exchangeMin);
    if (pending < threshold || pending <= 0n) return [];

    const { amount, limitedBy } = await withinLimits(tx.em, rule, pending, this.now());
    if (limitedBy) {
      tx.publish('rule', ruleEvent(rule, 'LIMIT_REACHED'));
      await recordLimitNotice(tx, rule, limitedBy, this.now());
    }
    if (amount < exchangeMin || amount <= 0n) return [];
    const id = await this.createPurchase(tx, {
      amountCents: amount,
      source,
      ruleId: rule.id,
      requestedBy: null,
      reason: `${rule.type} rule reached ${why === 'cutoff' ? 'the daily cut-off' : 'its minimum order'}${limitedBy ? `; limited by its ${limitedBy}` : ''}`,
    });
    await consumeForPurchase(tx.em, rule.id, id, amount * E4, limitedBy ? `limited by ${limitedBy}` : null);
    await this.fired(tx, rule);
    return [id];
  }

  /** A fixed-amount purchase for a rule (FIXED_DCA, PRICE_DROP), within its per-purchase, daily and monthly caps. */
  async buyFixed(tx: TenantTx, rule: RuleRow, source: PurchaseSource, reason: string): Promise<string[]> {
    const { amount, limitedBy } = await withinLimits(tx.em, rule, big(rule.amount_aud_cents) ?? 0n, this.now());
    if (limitedBy) await recordLimitNotice(tx, rule, limitedBy, this.now());
    if (amount < this.opts.exchangeMinCents) {
      tx.publish('rule', ruleEvent(rule, 'LIMIT_REACHED'));
      return [];
    }
    const id = await this.createPurchase(tx, { amountCents: amount, source, ruleId: rule.id, requestedBy: null, reason });
    await this.fired(tx, rule);
    return [id];
  }

  /** A PENDING purchase (with its transition, audit, job and live event) at the engine's clock. */
  createPurchase(tx: TenantTx, p: NewPurchase): Promise<string> {
    return createPurchase(tx, p, this.now());
  }

  /** A manual, idempotent purchase request (purchases/purchase-requests.ts). */
  requestPurchase(tx: TenantTx, userId: string, amountCents: bigint, idempotencyKey: string): Promise<{ id: string; created: boolean }> {
    return requestPurchase(tx, this.opts, { userId, amountCents, idempotencyKey, at: this.now() });
  }

  /** A rule created a purchase: note when, and say so on the rule channel. */
  private async fired(tx: TenantTx, rule: RuleRow): Promise<void> {
    await markFired(tx.em, rule.id, this.now());
    tx.publish('rule', ruleEvent(rule, 'FIRED'));
  }
}
