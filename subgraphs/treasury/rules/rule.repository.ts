import type { EntityManager } from '@mikro-orm/postgresql';
import { RuleType } from './rule.entity';

/** A rule as the engine reads it (raw row, locked in the caller's transaction). */
export type RuleRow = {
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

export const RULE_COLUMNS = `id, type, enabled, version, percentage_bps, amount_aud_cents, min_order_aud_cents, max_per_purchase_aud_cents,
  daily_cap_aud_cents, monthly_cap_aud_cents, provider`;

export const big = (v: string | null): bigint | null => (v === null ? null : BigInt(v));

/**
 * The rules a payment event feeds, locked in id order: locking serializes flushes per rule, so two
 * events never spend one accrual twice. A refund also reaches paused rules (it takes back what they accrued).
 */
export function lockRulesForPayment(em: EntityManager, types: readonly RuleType[], includePaused: boolean): Promise<RuleRow[]> {
  return em.execute<RuleRow[]>(`select ${RULE_COLUMNS} from treasury_rule where (enabled or ?) and type = any(?::text[]) order by id for update`, [
    includePaused,
    `{${types.join(',')}}`,
  ]);
}

/** Enabled rules of these types, locked in id order. */
export function lockEnabledRules(em: EntityManager, types: readonly RuleType[]): Promise<RuleRow[]> {
  return em.execute<RuleRow[]>(`select ${RULE_COLUMNS} from treasury_rule where enabled and type = any(?::text[]) order by id for update`, [`{${types.join(',')}}`]);
}

export type ScheduledRuleRow = RuleRow & { schedule: string | null; unscheduled: boolean; due: boolean };

/** An enabled FIXED_DCA rule, locked, and whether its next run is due at `now`. */
export async function lockScheduledRule(em: EntityManager, ruleId: string, now: Date): Promise<ScheduledRuleRow | undefined> {
  const rows = await em.execute<ScheduledRuleRow[]>(
    `select ${RULE_COLUMNS}, schedule, next_run_at is null as unscheduled, coalesce(next_run_at <= ?, false) as due
     from treasury_rule where id = ? and type = 'FIXED_DCA' and enabled for update`,
    [now, ruleId],
  );
  return rows[0];
}

export type PriceDropRuleRow = RuleRow & { lookback_days: number | null; cooling: boolean };

/** Enabled PRICE_DROP rules, locked, and whether each is still in its cooldown at `now`. */
export function lockPriceDropRules(em: EntityManager, now: Date): Promise<PriceDropRuleRow[]> {
  return em.execute<PriceDropRuleRow[]>(
    `select ${RULE_COLUMNS}, lookback_days,
       coalesce(last_fired_at + coalesce(cooldown_minutes, 1440) * interval '1 minute' > ?, false) as cooling
     from treasury_rule where enabled and type = 'PRICE_DROP' order by id for update`,
    [now],
  );
}

export async function setNextRun(em: EntityManager, ruleId: string, next: Date): Promise<void> {
  await em.execute(`update treasury_rule set next_run_at = ? where id = ?`, [next, ruleId]);
}

export async function markFired(em: EntityManager, ruleId: string, at: Date): Promise<void> {
  await em.execute(`update treasury_rule set last_fired_at = ? where id = ?`, [at, ruleId]);
}
