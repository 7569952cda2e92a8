import type { TenantTx } from '../../../lib/db/tenant-tx';
import { PurchaseSource } from '../purchases/purchase.entity';
import { RuleType } from '../rules/rule.entity';
import type { RuleEngine } from '../rules/rule-engine';
import { lockEnabledRules, lockPriceDropRules, lockScheduledRule, setNextRun } from '../rules/rule.repository';
import { tenantTimezone } from '../settings/treasury-settings';
import { claimCutoffDay } from './due';
import type { PricePort } from './price.port';
import { isDropAtLeast, nextRun } from './schedule';

/**
 * The time-driven rules, each in its tenant's transaction: the daily cut-off flush, FIXED_DCA runs
 * and PRICE_DROP checks (against market-price's candles, through the PricePort).
 */
export class ScheduleRunner {
  constructor(
    private readonly engine: RuleEngine,
    private readonly prices: PricePort,
  ) {}

  /**
   * The daily cut-off: every enabled revenue/balance rule flushes whatever the exchange will take.
   * Once per tenant and local `day` (YYYY-MM-DD), however often the job is delivered.
   */
  async flushAtCutoff(tx: TenantTx, day: string): Promise<string[]> {
    if (!(await claimCutoffDay(tx.em, day))) return [];
    const rules = await lockEnabledRules(tx.em, [RuleType.PERCENTAGE_OF_REVENUE, RuleType.BALANCE_THRESHOLD]);
    const out: string[] = [];
    for (const rule of rules) out.push(...(await this.engine.flush(tx, rule, PurchaseSource.CUTOFF, 'cutoff')));
    return out;
  }

  /**
   * FIXED_DCA: buys the rule's amount when its schedule is due (within caps), then moves the
   * schedule on. A new rule's first run is scheduled, not bought at once.
   */
  async runSchedule(tx: TenantTx, ruleId: string): Promise<string[]> {
    const now = this.engine.now();
    const rule = await lockScheduledRule(tx.em, ruleId, now);
    if (!rule || !rule.schedule) return [];
    const next = nextRun(rule.schedule, now, await tenantTimezone(tx.em));
    if (rule.unscheduled) await setNextRun(tx.em, rule.id, next);
    if (!rule.due) return [];
    await setNextRun(tx.em, rule.id, next);
    return this.engine.buyFixed(tx, rule, PurchaseSource.SCHEDULE, `scheduled purchase (${rule.schedule})`);
  }

  /**
   * PRICE_DROP: buys the rule's amount when the price is at least percentageBps below its
   * lookback average, at most once per cooldown.
   */
  async checkPriceDrop(tx: TenantTx): Promise<string[]> {
    const rules = await lockPriceDropRules(tx.em, this.engine.now());
    const out: string[] = [];
    const latest = rules.length > 0 ? await this.prices.latest() : null;
    if (latest === null) return out;
    for (const rule of rules) {
      if (rule.cooling) continue;
      const days = rule.lookback_days ?? 7;
      const average = await this.prices.averageOverDays(days);
      if (average === null) continue;
      if (!isDropAtLeast(latest, average, rule.percentage_bps ?? 0)) continue;
      const reason = `price ${latest} is at least ${(rule.percentage_bps ?? 0) / 100}% below the ${days}-day average ${average}`;
      out.push(...(await this.engine.buyFixed(tx, rule, PurchaseSource.RULE, reason)));
    }
    return out;
  }
}
