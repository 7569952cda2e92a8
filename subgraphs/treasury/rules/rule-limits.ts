import type { EntityManager } from '@mikro-orm/postgresql';
import { max, min } from '../ledger/accrual-ledger';
import { startOfLocalDay, startOfLocalMonth } from '../schedules/local-time';
import { tenantTimezone } from '../settings/treasury-settings';
import { big, type RuleRow } from './rule.repository';

/** What the rule may still buy today and this month, in the tenant's timezone (null = no cap). */
export async function remainingCaps(em: EntityManager, rule: RuleRow, now: Date): Promise<{ daily: bigint | null; monthly: bigint | null }> {
  const daily = big(rule.daily_cap_aud_cents);
  const monthly = big(rule.monthly_cap_aud_cents);
  if (daily === null && monthly === null) return { daily: null, monthly: null };
  const tz = await tenantTimezone(em);
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
    daily: daily === null ? null : max(daily - BigInt(r?.day ?? '0'), 0n),
    monthly: monthly === null ? null : max(monthly - BigInt(r?.month ?? '0'), 0n),
  };
}

/** `wanted` cut to the rule's per-purchase maximum and what its daily and monthly caps leave; which cap bit, if one did. */
export async function withinLimits(em: EntityManager, rule: RuleRow, wanted: bigint, now: Date): Promise<{ amount: bigint; limitedBy: 'daily cap' | 'monthly cap' | null }> {
  let amount = wanted;
  const perPurchase = big(rule.max_per_purchase_aud_cents);
  if (perPurchase !== null) amount = min(amount, perPurchase);
  const limits = await remainingCaps(em, rule, now);
  let limitedBy: 'daily cap' | 'monthly cap' | null = null;
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
