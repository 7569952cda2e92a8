import { randomUUID } from 'node:crypto';
import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { TenantTx } from '../../../lib/db/tenant-tx';
import { AppError, ErrorCode, badInput, notFound } from '../../../lib/errors';
import { isUuid } from '../../../lib/db/tenant-context';
import type { Scope } from '../../../lib/access';
import { RuleType, TreasuryRule } from './rule.entity';
import { ruleEvent, type RuleChange } from './rule.events';
import type { TreasuryRuleInput, TreasuryRulePatch } from './rule.input';

type RuleState = Pick<
  TreasuryRule,
  | 'name'
  | 'type'
  | 'percentageBps'
  | 'amountAudCents'
  | 'schedule'
  | 'minOrderAudCents'
  | 'maxPerPurchaseAudCents'
  | 'dailyCapAudCents'
  | 'monthlyCapAudCents'
  | 'provider'
  | 'lookbackDays'
  | 'cooldownMinutes'
>;

const SCHEDULES = new Set(['DAILY', 'WEEKLY', 'MONTHLY']);
const CRON_FIELD = /^(\*|\d+(-\d+)?)(\/\d+)?(,(\*|\d+(-\d+)?)(\/\d+)?)*$/;

export function isValidSchedule(s: string): boolean {
  if (SCHEDULES.has(s)) return true;
  const parts = s.trim().split(/\s+/);
  return parts.length === 5 && parts.every((p) => CRON_FIELD.test(p));
}

/** Every rule must be internally consistent before it is stored; errors name the field. */
export function validateRule(r: RuleState): void {
  const name = r.name.trim();
  if (name.length < 1 || name.length > 120) throw badInput('name must be 1 to 120 characters', 'name');
  const positive = (v: bigint | null, field: string): void => {
    if (v !== null && v <= 0n) throw badInput(`${field} must be greater than zero`, field);
  };
  if (r.minOrderAudCents < 0n) throw badInput('minOrderAudCents must not be negative', 'minOrderAudCents');
  positive(r.amountAudCents, 'amountAudCents');
  positive(r.maxPerPurchaseAudCents, 'maxPerPurchaseAudCents');
  positive(r.dailyCapAudCents, 'dailyCapAudCents');
  positive(r.monthlyCapAudCents, 'monthlyCapAudCents');
  if (r.percentageBps !== null && (!Number.isInteger(r.percentageBps) || r.percentageBps < 1 || r.percentageBps > 10_000)) {
    throw badInput('percentageBps must be between 1 and 10000', 'percentageBps');
  }
  if (r.schedule !== null && !isValidSchedule(r.schedule)) {
    throw badInput('schedule must be DAILY, WEEKLY, MONTHLY or a 5-field cron expression', 'schedule');
  }
  if (r.maxPerPurchaseAudCents !== null && r.maxPerPurchaseAudCents < r.minOrderAudCents) {
    throw badInput('maxPerPurchaseAudCents must be at least minOrderAudCents', 'maxPerPurchaseAudCents');
  }
  if (r.dailyCapAudCents !== null && r.monthlyCapAudCents !== null && r.dailyCapAudCents > r.monthlyCapAudCents) {
    throw badInput('dailyCapAudCents must not exceed monthlyCapAudCents', 'dailyCapAudCents');
  }
  if (r.provider !== null && !['stripe', 'square', 'paypal'].includes(r.provider)) {
    throw badInput('provider must be stripe, square or paypal', 'provider');
  }
  if (r.provider !== null && r.type !== RuleType.PERCENTAGE_OF_REVENUE) {
    throw badInput('provider applies to PERCENTAGE_OF_REVENUE rules only', 'provider');
  }
  if (r.lookbackDays !== null && (!Number.isInteger(r.lookbackDays) || r.lookbackDays < 1 || r.lookbackDays > 365)) {
    throw badInput('lookbackDays must be between 1 and 365', 'lookbackDays');
  }
  if (r.cooldownMinutes !== null && (!Number.isInteger(r.cooldownMinutes) || r.cooldownMinutes < 0 || r.cooldownMinutes > 525_600)) {
    throw badInput('cooldownMinutes must be between 0 and 525600', 'cooldownMinutes');
  }
  const need = (ok: boolean, field: string, why: string): void => {
    if (!ok) throw badInput(`${field} is required for ${r.type} rules (${why})`, field);
  };
  switch (r.type) {
    case RuleType.PERCENTAGE_OF_REVENUE:
      need(r.percentageBps !== null, 'percentageBps', 'the share of each payment');
      break;
    case RuleType.FIXED_DCA:
      need(r.amountAudCents !== null, 'amountAudCents', 'the amount per purchase');
      need(r.schedule !== null, 'schedule', 'when to buy');
      break;
    case RuleType.PRICE_DROP:
      need(r.amountAudCents !== null, 'amountAudCents', 'the amount to buy');
      need(r.percentageBps !== null, 'percentageBps', 'the drop below the average');
      break;
    case RuleType.BALANCE_THRESHOLD:
      need(r.amountAudCents !== null, 'amountAudCents', 'the cash to keep');
      break;
  }
}

const n = <T>(v: T | null | undefined): T | null => (v === undefined ? null : v);

export type { RuleChange } from './rule.events';

/** Rule use cases; every change is audited in its transaction and published after commit. */
export class TreasuryRuleService {
  list(scope: Scope): Promise<TreasuryRule[]> {
    return scope.read(({ em }) => em.find(TreasuryRule, { tenantId: scope.tenantId }, { orderBy: { createdAt: 'asc', id: 'asc' }, disableIdentityMap: true }));
  }

  async create(scope: Scope, input: TreasuryRuleInput): Promise<TreasuryRule> {
    const state: RuleState = {
      name: input.name.trim(),
      type: input.type,
      percentageBps: n(input.percentageBps),
      amountAudCents: n(input.amountAudCents),
      schedule: n(input.schedule),
      minOrderAudCents: input.minOrderAudCents ?? 0n,
      maxPerPurchaseAudCents: n(input.maxPerPurchaseAudCents),
      dailyCapAudCents: n(input.dailyCapAudCents),
      monthlyCapAudCents: n(input.monthlyCapAudCents),
      provider: n(input.provider),
      lookbackDays: n(input.lookbackDays),
      cooldownMinutes: n(input.cooldownMinutes),
    };
    validateRule(state);
    return scope.tx(async (tx) => {
      const { em, now } = tx;
      const r = em.create(TreasuryRule, {
        ...state,
        tenantId: scope.tenantId,
        id: randomUUID(),
        enabled: input.enabled,
        version: 1,
        lastFiredAt: null,
        nextRunAt: null,
        createdAt: now,
        updatedAt: now,
      });
      await em.flush();
      await this.changed(tx, scope, r, 'CREATED');
      return r;
    });
  }

  async update(scope: Scope, id: string, patch: TreasuryRulePatch): Promise<TreasuryRule> {
    const rule = await this.mutate(scope, id, 'UPDATED', (r) => {
      if (patch.expectedVersion !== undefined && patch.expectedVersion !== null && patch.expectedVersion !== r.version) {
        throw new AppError(ErrorCode.CONFLICT, 'the rule changed since you read it', { currentVersion: r.version });
      }
      const next: RuleState = {
        name: patch.name !== undefined && patch.name !== null ? patch.name.trim() : r.name,
        type: r.type,
        percentageBps: patch.percentageBps !== undefined ? patch.percentageBps : r.percentageBps,
        amountAudCents: patch.amountAudCents !== undefined ? patch.amountAudCents : r.amountAudCents,
        schedule: patch.schedule !== undefined ? patch.schedule : r.schedule,
        minOrderAudCents: patch.minOrderAudCents ?? r.minOrderAudCents,
        maxPerPurchaseAudCents: patch.maxPerPurchaseAudCents !== undefined ? patch.maxPerPurchaseAudCents : r.maxPerPurchaseAudCents,
        dailyCapAudCents: patch.dailyCapAudCents !== undefined ? patch.dailyCapAudCents : r.dailyCapAudCents,
        monthlyCapAudCents: patch.monthlyCapAudCents !== undefined ? patch.monthlyCapAudCents : r.monthlyCapAudCents,
        provider: patch.provider !== undefined ? patch.provider : r.provider,
        lookbackDays: patch.lookbackDays !== undefined ? patch.lookbackDays : r.lookbackDays,
        cooldownMinutes: patch.cooldownMinutes !== undefined ? patch.cooldownMinutes : r.cooldownMinutes,
      };
      validateRule(next);
      Object.assign(r, next);
    });
    return rule;
  }

  setEnabled(scope: Scope, id: string, enabled: boolean): Promise<TreasuryRule> {
    return this.mutate(scope, id, enabled ? 'ENABLED' : 'DISABLED', (r) => {
      r.enabled = enabled;
    });
  }

  async delete(scope: Scope, id: string): Promise<string> {
    const rule = await this.mutate(scope, id, 'DELETED', (r, em) => em.remove(r));
    return rule.id;
  }

  private async mutate(
    scope: Scope,
    id: string,
    change: RuleChange,
    apply: (r: TreasuryRule, em: EntityManager) => void,
  ): Promise<TreasuryRule> {
    if (!isUuid(id)) throw notFound('treasury rule');
    return scope.tx(async (tx) => {
      const { em, now } = tx;
      const r = await em.findOne(TreasuryRule, { tenantId: scope.tenantId, id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (!r) throw notFound('treasury rule');
      apply(r, em);
      if (change !== 'DELETED') r.updatedAt = now;
      await em.flush();
      await this.changed(tx, scope, r, change);
      return r;
    });
  }

  /** Audited in the change's transaction; the live event goes out after it commits. */
  private async changed(tx: TenantTx, scope: Scope, r: TreasuryRule, change: RuleChange): Promise<void> {
    await tx.audit({
      eventType: `treasury_rule.${change.toLowerCase()}`,
      actorId: scope.userId,
      subjectType: 'TreasuryRule',
      subjectId: r.id,
      data: ruleSnapshot(r),
    });
    tx.publish('rule', ruleEvent(r, change));
  }
}

export function ruleSnapshot(r: TreasuryRule): Record<string, unknown> {
  return {
    name: r.name,
    type: r.type,
    enabled: r.enabled,
    percentageBps: r.percentageBps,
    amountAudCents: r.amountAudCents?.toString() ?? null,
    schedule: r.schedule,
    minOrderAudCents: r.minOrderAudCents.toString(),
    maxPerPurchaseAudCents: r.maxPerPurchaseAudCents?.toString() ?? null,
    dailyCapAudCents: r.dailyCapAudCents?.toString() ?? null,
    monthlyCapAudCents: r.monthlyCapAudCents?.toString() ?? null,
    provider: r.provider,
    lookbackDays: r.lookbackDays,
    cooldownMinutes: r.cooldownMinutes,
  };
}
