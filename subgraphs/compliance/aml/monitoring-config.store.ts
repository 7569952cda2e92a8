import type { EntityManager } from '@mikro-orm/postgresql';
import type { TenantTransactions } from '../../../lib/db/tenant-tx';
import { AmlReason, amlError } from './errors';
import { isTimeZone } from './local-date';
import { monitoringConfig, type MonitoringConfig, type MonitoringConfigPatch, type OperationKind } from './monitoring';
import type { Officer } from './officer';

/**
 * The operator's settings of the monitoring rules (#11): one row per rule in the platform table
 * `public.aml_monitoring_rule` (migration 20261203000000), each the patch over that rule's
 * DEFAULT_MONITORING_CONFIG entry, amounts as decimal strings. Rules without a row keep the
 * defaults. The whole merged config is validated (monitoringConfig) before anything is written, so
 * a bad setting is refused with INVALID_MONITORING_CONFIG and changes nothing.
 */

export const MONITORING_RULES = ['threshold', 'velocity', 'structuring', 'spike', 'screenedDestination', 'newDestination'] as const;
export type MonitoringRuleKey = (typeof MONITORING_RULES)[number];

/** The settings one rule takes (anything else in a patch is refused): the keys of its config entry. */
const FIELDS: { [K in MonitoringRuleKey]: readonly (keyof MonitoringConfig[K])[] } = {
  threshold: ['enabled', 'kinds', 'amountAudCents'],
  velocity: ['enabled', 'kinds', 'count', 'windowMinutes'],
  structuring: ['enabled', 'kinds', 'thresholdAudCents', 'marginAudCents', 'count', 'windowHours'],
  spike: ['enabled', 'kinds', 'baselineDays', 'multipleBps', 'minHistoryDays', 'minAmountAudCents'],
  screenedDestination: ['enabled'],
  newDestination: ['enabled', 'minAmountAudCents'],
};
const CENTS_FIELDS = new Set(['amountAudCents', 'thresholdAudCents', 'marginAudCents', 'minAmountAudCents']);

/** One rule's settings as given: every field optional (null or absent: keep the current value). */
export type MonitoringRulePatch = {
  enabled?: boolean | null;
  kinds?: OperationKind[] | null;
  amountAudCents?: bigint | null;
  thresholdAudCents?: bigint | null;
  marginAudCents?: bigint | null;
  minAmountAudCents?: bigint | null;
  count?: number | null;
  windowMinutes?: number | null;
  windowHours?: number | null;
  baselineDays?: number | null;
  multipleBps?: number | null;
  minHistoryDays?: number | null;
};

export type StoredRule = { rule: MonitoringRuleKey; updatedBy: string; updatedAt: Date };
export type StoredTimeZone = { timeZone: string; updatedBy: string; updatedAt: Date };
export type EffectiveMonitoringConfig = { config: MonitoringConfig; overrides: StoredRule[]; timeZone: StoredTimeZone | null };

type Row = { rule: MonitoringRuleKey; settings: Record<string, unknown>; updated_by: string; updated_at: Date | string };
type Json = Record<string, string | number | boolean | string[]>;

const bad = (message: string, field: string): Error => amlError(AmlReason.INVALID_MONITORING_CONFIG, message, { field });

function isRule(v: string): v is MonitoringRuleKey {
  return (MONITORING_RULES as readonly string[]).includes(v);
}

/** Stored JSON (bigints as strings) → the kernel's patch of one rule. */
function fromJson(settings: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(settings).map(([k, v]) => [k, CENTS_FIELDS.has(k) && typeof v === 'string' ? BigInt(v) : v]));
}

function toJson(patch: Record<string, unknown>): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(patch)) {
    if (typeof v === 'bigint') out[k] = v.toString();
    else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = v;
    else if (Array.isArray(v)) out[k] = v.map(String);
  }
  return out;
}

async function rows(em: EntityManager): Promise<Row[]> {
  return em.execute<Row[]>(`select rule, settings, updated_by::text as updated_by, updated_at from public.aml_monitoring_rule order by rule`);
}

function merged(stored: readonly Row[]): MonitoringConfigPatch {
  const patch: Record<string, unknown> = {};
  for (const r of stored) if (isRule(r.rule)) patch[r.rule] = fromJson(r.settings);
  return patch;
}

/** The operator's time zone row (public.aml_monitoring_setting), if set. */
async function storedTimeZone(em: EntityManager): Promise<StoredTimeZone | null> {
  const [r] = await em.execute<{ value: string; updated_by: string; updated_at: Date | string }[]>(
    `select value, updated_by::text as updated_by, updated_at from public.aml_monitoring_setting where key = 'timeZone'`,
  );
  return r ? { timeZone: r.value, updatedBy: r.updated_by, updatedAt: new Date(r.updated_at) } : null;
}

/** The config the rules run with: the defaults, then the operator's settings (validated again). */
export async function loadMonitoringConfig(em: EntityManager): Promise<EffectiveMonitoringConfig> {
  const stored = await rows(em);
  const tz = await storedTimeZone(em);
  return {
    config: monitoringConfig({ ...merged(stored), ...(tz ? { timeZone: tz.timeZone } : {}) }),
    overrides: stored.filter((r) => isRule(r.rule)).map((r) => ({ rule: r.rule, updatedBy: r.updated_by, updatedAt: new Date(r.updated_at) })),
    timeZone: tz,
  };
}

/**
 * The officer sets the monitoring time zone (the local days SPIKE counts, default
 * Australia/Sydney): an IANA zone or INVALID_MONITORING_CONFIG (field `timeZone`) and nothing
 * written; the row and its audit fact (platform chain) in one transaction.
 */
export async function setMonitoringTimeZone(tenants: TenantTransactions, o: Officer, timeZone: string): Promise<EffectiveMonitoringConfig> {
  if (typeof timeZone !== 'string' || timeZone.trim() === '' || !isTimeZone(timeZone)) throw bad('timeZone must be an IANA time zone, e.g. Australia/Perth', 'timeZone');
  const canonical = new Intl.DateTimeFormat('en-AU', { timeZone }).resolvedOptions().timeZone;
  return tenants.run(o.tenantId, async (tx) => {
    const { em } = tx;
    await em.execute(`select pg_advisory_xact_lock(hashtext('aml-monitoring-config'))`);
    const before = await storedTimeZone(em);
    await em.execute(
      `insert into public.aml_monitoring_setting (key, value, updated_by, updated_at) values ('timeZone', ?, ?, ?)
       on conflict (key) do update set value = excluded.value, updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
      [canonical, o.userId, tx.now],
    );
    await tx.audit({ eventType: 'aml.monitoring_time_zone.set', actorId: o.userId, subjectType: 'AmlMonitoringConfig', subjectId: 'timeZone', data: { from: before?.timeZone ?? null, to: canonical } });
    return loadMonitoringConfig(em);
  });
}

/**
 * The officer changes one rule: the given fields over the rule's current settings, the whole
 * config validated, then the row and its audit fact (platform chain, the officer's tenant) in one
 * transaction. Fields the rule does not have are refused, as are negative amounts, empty windows
 * and empty kind lists (monitoringConfig).
 */
export async function setMonitoringRule(tenants: TenantTransactions, o: Officer, rule: string, patch: MonitoringRulePatch): Promise<EffectiveMonitoringConfig> {
  if (!isRule(rule)) throw bad(`rule must be one of ${MONITORING_RULES.join(', ')}`, 'rule');
  const given = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== null && v !== undefined)) as Record<string, unknown>;
  const allowed = FIELDS[rule] as readonly string[];
  for (const k of Object.keys(given)) if (!allowed.includes(k)) throw bad(`${rule} has no setting ${k} (it takes ${allowed.join(', ')})`, `${rule}.${k}`);
  if (Object.keys(given).length === 0) throw bad('give at least one setting to change', rule);
  const kinds = given.kinds;
  if (Array.isArray(kinds) && new Set(kinds).size !== kinds.length) throw bad(`${rule}.kinds lists a kind twice`, `${rule}.kinds`);
  return tenants.run(o.tenantId, async (tx) => {
    const { em } = tx;
    // One change at a time: the validation sees the settings it writes over.
    await em.execute(`select pg_advisory_xact_lock(hashtext('aml-monitoring-config'))`);
    const stored = await rows(em);
    const current = stored.find((r) => r.rule === rule);
    const next = { ...(current ? fromJson(current.settings) : {}), ...given };
    const others = merged(stored.filter((r) => r.rule !== rule));
    monitoringConfig({ ...others, [rule]: next });
    const settings = toJson(next);
    await em.execute(
      `insert into public.aml_monitoring_rule (rule, settings, updated_by, updated_at) values (?, ?::jsonb, ?, ?)
       on conflict (rule) do update set settings = excluded.settings, updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
      [rule, JSON.stringify(settings), o.userId, tx.now],
    );
    await tx.audit({ eventType: 'aml.monitoring_rule.set', actorId: o.userId, subjectType: 'AmlMonitoringRule', subjectId: rule, data: { changed: toJson(given), settings } });
    return loadMonitoringConfig(em);
  });
}
