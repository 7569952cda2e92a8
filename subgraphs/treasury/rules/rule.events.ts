import type { BusEvent } from '../../../lib/bus';

export type RuleChange = 'CREATED' | 'UPDATED' | 'ENABLED' | 'DISABLED' | 'DELETED';

/** The `tenant.<tid>.rule` event: a change to a rule, or what it did (the channel and tenantId come from the transaction). */
export function ruleEvent(rule: { id: string; version: number }, change: RuleChange | 'FIRED' | 'LIMIT_REACHED'): BusEvent {
  return { __typename: 'TreasuryRuleChanged', version: 1, id: rule.id, change, ruleVersion: rule.version };
}
