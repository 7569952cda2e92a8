import { canonicalAddress, type Network } from './bitcoin-address';
import { AmlReason, amlError } from './errors';
import { dayNumber, isTimeZone, localDate } from './local-date';
import type { ScreeningEntry, ScreeningList } from './screening-list';
import { centsToAud } from '../../../lib/money';

/**
 * Transaction monitoring: each operation (revenue event, purchase, sale, withdrawal) is checked
 * against the tenant's own recent history by configurable rules; every hit carries the facts
 * that caused it, for the alert and the case it opens. Windows slide: "within W" means the
 * interval (at − W, at], never a calendar bucket, so a pattern straddling midnight is caught.
 *
 * - THRESHOLD: amount ≥ amountAudCents (default A$10,000).
 * - VELOCITY: at least `count` operations of the rule's kinds within `windowMinutes`.
 * - STRUCTURING: at least `count` amounts in [threshold − margin, threshold) within `windowHours`,
 *   the current one among them.
 * - SPIKE: today's (tenant time zone) total of this operation's kind exceeds `multipleBps`/10000
 *   times the mean daily total of the previous `baselineDays` days (90), compared exactly as
 *   today × days × 10000 > multipleBps × baselineSum; skipped until the tenant has
 *   `minHistoryDays` of history, and below `minAmountAudCents`.
 * - SCREENED_DESTINATION: a withdrawal to an address on the screening list (held, not just alerted).
 * - NEW_DESTINATION: a withdrawal to an address the tenant has never withdrawn to.
 */

export type OperationKind = 'REVENUE' | 'REFUND' | 'PURCHASE' | 'SALE' | 'WITHDRAWAL';
export const OPERATION_KINDS: readonly OperationKind[] = ['REVENUE', 'REFUND', 'PURCHASE', 'SALE', 'WITHDRAWAL'];

export type Destination = { address: string; network: Network };

export type MonitoredOperation = {
  id: string;
  tenantId: string;
  kind: OperationKind;
  amountAudCents: bigint;
  at: Date;
  /** Withdrawals only. */
  destination?: Destination | null;
};

export type RuleCode = 'THRESHOLD' | 'VELOCITY' | 'STRUCTURING' | 'SPIKE' | 'SCREENED_DESTINATION' | 'NEW_DESTINATION';

export type MonitoringConfig = {
  /** Days for SPIKE are the tenant's local days. */
  timeZone: string;
  threshold: { enabled: boolean; kinds: OperationKind[]; amountAudCents: bigint };
  velocity: { enabled: boolean; kinds: OperationKind[]; count: number; windowMinutes: number };
  structuring: { enabled: boolean; kinds: OperationKind[]; thresholdAudCents: bigint; marginAudCents: bigint; count: number; windowHours: number };
  spike: { enabled: boolean; kinds: OperationKind[]; baselineDays: number; multipleBps: number; minHistoryDays: number; minAmountAudCents: bigint };
  screenedDestination: { enabled: boolean };
  newDestination: { enabled: boolean; minAmountAudCents: bigint };
};

export type MonitoringConfigPatch = { timeZone?: string } & { [K in Exclude<keyof MonitoringConfig, 'timeZone'>]?: Partial<MonitoringConfig[K]> };

export const DEFAULT_MONITORING_CONFIG: MonitoringConfig = {
  timeZone: 'Australia/Sydney',
  threshold: { enabled: true, kinds: [...OPERATION_KINDS], amountAudCents: 1_000_000n },
  velocity: { enabled: true, kinds: ['REFUND', 'PURCHASE', 'SALE', 'WITHDRAWAL'], count: 20, windowMinutes: 60 },
  structuring: { enabled: true, kinds: [...OPERATION_KINDS], thresholdAudCents: 1_000_000n, marginAudCents: 100_000n, count: 3, windowHours: 72 },
  spike: { enabled: true, kinds: [...OPERATION_KINDS], baselineDays: 90, multipleBps: 50_000, minHistoryDays: 14, minAmountAudCents: 100_000n },
  screenedDestination: { enabled: true },
  newDestination: { enabled: true, minAmountAudCents: 0n },
};

const bad = (message: string, field: string): Error => amlError(AmlReason.INVALID_MONITORING_CONFIG, message, { field });

function intIn(v: number, min: number, max: number, field: string): void {
  if (!Number.isInteger(v) || v < min || v > max) throw bad(`${field} must be a whole number from ${min} to ${max}`, field);
}
function cents(v: bigint, field: string, min = 0n): void {
  if (typeof v !== 'bigint' || v < min) throw bad(`${field} must be a whole number of cents ≥ ${min}`, field);
}
function kinds(v: OperationKind[], field: string, allowed: readonly OperationKind[] = OPERATION_KINDS): void {
  if (!Array.isArray(v) || v.length === 0 || v.some((k) => !allowed.includes(k))) throw bad(`${field} must list operation kinds from ${allowed.join(', ')}`, field);
}

/** Defaults merged with the operator's settings, validated; bad settings are refused whole. */
export function monitoringConfig(patch: MonitoringConfigPatch = {}): MonitoringConfig {
  const d = DEFAULT_MONITORING_CONFIG;
  const c: MonitoringConfig = {
    timeZone: patch.timeZone ?? d.timeZone,
    threshold: { ...d.threshold, ...patch.threshold },
    velocity: { ...d.velocity, ...patch.velocity },
    structuring: { ...d.structuring, ...patch.structuring },
    spike: { ...d.spike, ...patch.spike },
    screenedDestination: { ...d.screenedDestination, ...patch.screenedDestination },
    newDestination: { ...d.newDestination, ...patch.newDestination },
  };
  if (!isTimeZone(c.timeZone)) throw bad('timeZone must be an IANA time zone', 'timeZone');
  kinds(c.threshold.kinds, 'threshold.kinds');
  cents(c.threshold.amountAudCents, 'threshold.amountAudCents', 1n);
  kinds(c.velocity.kinds, 'velocity.kinds');
  intIn(c.velocity.count, 2, 100_000, 'velocity.count');
  intIn(c.velocity.windowMinutes, 1, 60 * 24 * 31, 'velocity.windowMinutes');
  kinds(c.structuring.kinds, 'structuring.kinds');
  cents(c.structuring.thresholdAudCents, 'structuring.thresholdAudCents', 1n);
  cents(c.structuring.marginAudCents, 'structuring.marginAudCents', 1n);
  if (c.structuring.marginAudCents >= c.structuring.thresholdAudCents) throw bad('structuring.marginAudCents must be below the threshold', 'structuring.marginAudCents');
  intIn(c.structuring.count, 2, 1_000, 'structuring.count');
  intIn(c.structuring.windowHours, 1, 24 * 31, 'structuring.windowHours');
  kinds(c.spike.kinds, 'spike.kinds');
  intIn(c.spike.baselineDays, 7, 366, 'spike.baselineDays');
  intIn(c.spike.multipleBps, 10_001, 10_000_000, 'spike.multipleBps');
  intIn(c.spike.minHistoryDays, 1, c.spike.baselineDays, 'spike.minHistoryDays');
  cents(c.spike.minAmountAudCents, 'spike.minAmountAudCents');
  cents(c.newDestination.minAmountAudCents, 'newDestination.minAmountAudCents');
  for (const k of ['threshold', 'velocity', 'structuring', 'spike', 'screenedDestination', 'newDestination'] as const) {
    if (typeof c[k].enabled !== 'boolean') throw bad(`${k}.enabled must be true or false`, `${k}.enabled`);
  }
  return c;
}

export type Severity = 'LOW' | 'MEDIUM' | 'HIGH' | 'CRITICAL';
type Base<R extends RuleCode, F> = { rule: R; severity: Severity; action: 'ALERT' | 'HOLD'; tenantId: string; operationId: string; at: Date; summary: string; facts: F };
type OpRef = { id: string; kind: OperationKind; amountAudCents: bigint; at: Date };

export type ThresholdHit = Base<'THRESHOLD', { kind: OperationKind; amountAudCents: bigint; thresholdAudCents: bigint }>;
export type VelocityHit = Base<'VELOCITY', { count: number; limit: number; windowMinutes: number; operations: OpRef[] }>;
export type StructuringHit = Base<'STRUCTURING', { bandFromAudCents: bigint; thresholdAudCents: bigint; windowHours: number; count: number; totalAudCents: bigint; operations: OpRef[] }>;
export type SpikeHit = Base<
  'SPIKE',
  { kind: OperationKind; day: string; dayTotalAudCents: bigint; baselineDays: number; baselineTotalAudCents: bigint; baselineDailyMeanAudCents: bigint; multipleBps: number }
>;
export type ScreenedDestinationHit = Base<'SCREENED_DESTINATION', { address: string; network: Network; listSource: string; listReason: string; listedOn: string; listLine: number }>;
export type NewDestinationHit = Base<'NEW_DESTINATION', { address: string; network: Network; amountAudCents: bigint; knownDestinations: number }>;
export type RuleHit = ThresholdHit | VelocityHit | StructuringHit | SpikeHit | ScreenedDestinationHit | NewDestinationHit;

export type MonitoringContext = {
  config?: MonitoringConfig;
  screeningList?: ScreeningList;
  /**
   * Every destination ("network:canonical address") the tenant withdrew to before, from a
   * distinct query over all time; without it NEW_DESTINATION only knows `history`.
   */
  knownDestinations?: Iterable<string>;
};

const ref = (o: MonitoredOperation): OpRef => ({ id: o.id, kind: o.kind, amountAudCents: o.amountAudCents, at: o.at });
const aud = (c: bigint): string => `A$${centsToAud(c)}`;
export const destinationKey = (d: Destination): string => `${d.network}:${canonicalAddress(d.address, d.network) ?? d.address}`;

function validate(op: MonitoredOperation, field = 'operation'): void {
  if (!op || typeof op.id !== 'string' || op.id === '' || typeof op.tenantId !== 'string' || op.tenantId === '') {
    throw amlError(AmlReason.INVALID_OPERATION, 'an operation needs an id and a tenant', { field });
  }
  if (!OPERATION_KINDS.includes(op.kind)) throw amlError(AmlReason.INVALID_OPERATION, `unknown operation kind ${String(op.kind)}`, { field: `${field}.kind` });
  if (typeof op.amountAudCents !== 'bigint' || op.amountAudCents < 0n) throw amlError(AmlReason.INVALID_OPERATION, 'amount must be whole AUD cents ≥ 0', { field: `${field}.amountAudCents` });
  if (!(op.at instanceof Date) || Number.isNaN(op.at.getTime())) throw amlError(AmlReason.INVALID_OPERATION, 'operation time is not a date', { field: `${field}.at` });
  if (op.kind === 'WITHDRAWAL' && (!op.destination || canonicalAddress(op.destination.address, op.destination.network) === null)) {
    throw amlError(AmlReason.INVALID_OPERATION, 'a withdrawal needs a valid destination address', { field: `${field}.destination` });
  }
}

/** Evaluates every enabled rule for `op`; `history` is the tenant's earlier operations (any order). */
export function evaluateOperation(op: MonitoredOperation, history: readonly MonitoredOperation[], ctx: MonitoringContext = {}): RuleHit[] {
  validate(op);
  const cfg = ctx.config ?? DEFAULT_MONITORING_CONFIG;
  // Only this tenant's earlier operations count; the current one is never its own history.
  const past = history.filter((h) => h.tenantId === op.tenantId && h.id !== op.id && h.at.getTime() <= op.at.getTime());
  const base = { tenantId: op.tenantId, operationId: op.id, at: op.at };
  const hits: RuleHit[] = [];
  const within = (ms: number, ks: OperationKind[]): MonitoredOperation[] =>
    [...past, op].filter((o) => ks.includes(o.kind) && o.at.getTime() > op.at.getTime() - ms).sort((a, b) => a.at.getTime() - b.at.getTime());

  const t = cfg.threshold;
  if (t.enabled && t.kinds.includes(op.kind) && op.amountAudCents >= t.amountAudCents) {
    hits.push({
      ...base,
      rule: 'THRESHOLD',
      severity: 'MEDIUM',
      action: 'ALERT',
      summary: `${op.kind.toLowerCase()} of ${aud(op.amountAudCents)} is at or above ${aud(t.amountAudCents)}`,
      facts: { kind: op.kind, amountAudCents: op.amountAudCents, thresholdAudCents: t.amountAudCents },
    });
  }

  const v = cfg.velocity;
  if (v.enabled && v.kinds.includes(op.kind)) {
    const inWindow = within(v.windowMinutes * 60_000, v.kinds);
    if (inWindow.length >= v.count) {
      hits.push({
        ...base,
        rule: 'VELOCITY',
        severity: 'MEDIUM',
        action: 'ALERT',
        summary: `${inWindow.length} operations within ${v.windowMinutes} minutes (limit ${v.count})`,
        facts: { count: inWindow.length, limit: v.count, windowMinutes: v.windowMinutes, operations: inWindow.map(ref) },
      });
    }
  }

  const s = cfg.structuring;
  const from = s.thresholdAudCents - s.marginAudCents;
  const inBand = (o: MonitoredOperation): boolean => o.amountAudCents >= from && o.amountAudCents < s.thresholdAudCents;
  if (s.enabled && s.kinds.includes(op.kind) && inBand(op)) {
    const band = within(s.windowHours * 3_600_000, s.kinds).filter(inBand);
    if (band.length >= s.count) {
      const total = band.reduce((sum, o) => sum + o.amountAudCents, 0n);
      hits.push({
        ...base,
        rule: 'STRUCTURING',
        severity: 'HIGH',
        action: 'ALERT',
        summary: `${band.length} amounts between ${aud(from)} and ${aud(s.thresholdAudCents)} within ${s.windowHours} hours, ${aud(total)} in all`,
        facts: { bandFromAudCents: from, thresholdAudCents: s.thresholdAudCents, windowHours: s.windowHours, count: band.length, totalAudCents: total, operations: band.map(ref) },
      });
    }
  }

  const k = cfg.spike;
  if (k.enabled && k.kinds.includes(op.kind)) {
    const hit = spike(op, past, cfg);
    if (hit) hits.push({ ...base, ...hit });
  }

  if (op.kind === 'WITHDRAWAL' && op.destination) {
    const dest = op.destination;
    const address = canonicalAddress(dest.address, dest.network) as string;
    const listed: ScreeningEntry | null = cfg.screenedDestination.enabled && ctx.screeningList ? ctx.screeningList.match(address, dest.network) : null;
    if (listed) {
      hits.push({
        ...base,
        rule: 'SCREENED_DESTINATION',
        severity: 'CRITICAL',
        action: 'HOLD',
        summary: `withdrawal to ${address}, listed by ${listed.source}: ${listed.reason}`,
        facts: { address, network: dest.network, listSource: listed.source, listReason: listed.reason, listedOn: listed.added, listLine: listed.line },
      });
    }
    const n = cfg.newDestination;
    if (n.enabled && op.amountAudCents >= n.minAmountAudCents) {
      const known = new Set(ctx.knownDestinations ?? []);
      for (const h of past) if (h.kind === 'WITHDRAWAL' && h.destination) known.add(destinationKey(h.destination));
      if (!known.has(`${dest.network}:${address}`)) {
        hits.push({
          ...base,
          rule: 'NEW_DESTINATION',
          severity: 'LOW',
          action: 'ALERT',
          summary: `first withdrawal to ${address}`,
          facts: { address, network: dest.network, amountAudCents: op.amountAudCents, knownDestinations: known.size },
        });
      }
    }
  }
  return hits;
}

function spike(op: MonitoredOperation, past: MonitoredOperation[], cfg: MonitoringConfig): Omit<SpikeHit, 'tenantId' | 'operationId' | 'at'> | null {
  const k = cfg.spike;
  const sameKind = past.filter((o) => o.kind === op.kind);
  if (sameKind.length === 0) return null;
  const today = localDate(op.at, cfg.timeZone);
  const todayN = dayNumber(today);
  const dayOf = (o: MonitoredOperation): number => dayNumber(localDate(o.at, cfg.timeZone));
  const firstDay = Math.min(...sameKind.map(dayOf));
  // A tenant younger than the baseline is compared with the days it has actually existed.
  const days = Math.min(k.baselineDays, todayN - firstDay);
  if (days < k.minHistoryDays) return null;
  let dayTotal = op.amountAudCents;
  let baseline = 0n;
  for (const o of sameKind) {
    const d = dayOf(o);
    if (d === todayN) dayTotal += o.amountAudCents;
    else if (d >= todayN - days && d < todayN) baseline += o.amountAudCents;
  }
  if (dayTotal < k.minAmountAudCents) return null;
  if (dayTotal * BigInt(days) * 10_000n <= BigInt(k.multipleBps) * baseline) return null;
  const mean = baseline / BigInt(days);
  return {
    rule: 'SPIKE',
    severity: 'MEDIUM',
    action: 'ALERT',
    summary: `${op.kind.toLowerCase()} total of ${aud(dayTotal)} on ${today} is over ${k.multipleBps / 10_000}× the ${days}-day daily mean of ${aud(mean)}`,
    facts: { kind: op.kind, day: today, dayTotalAudCents: dayTotal, baselineDays: days, baselineTotalAudCents: baseline, baselineDailyMeanAudCents: mean, multipleBps: k.multipleBps },
  };
}
