import type { TreasuryRuleChangedEvent } from '../../../lib/events';

export type RuleChange = 'CREATED' | 'UPDATED' | 'ENABLED' | 'DISABLED' | 'DELETED';

/** The `tenant.<tid>.rule` event: a change to a rule, or what it did (the channel and tenantId come from the transaction). */
export function ruleEvent(rule: { id: string; version: number }, change: RuleChange | 'FIRED' | 'LIMIT_REACHED'): TreasuryRuleChangedEvent {
  return { __typename: 'TreasuryRuleChanged', version: 1, id: rule.id, change, ruleVersion: rule.version };
}
