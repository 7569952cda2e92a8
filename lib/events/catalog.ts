import { z } from 'zod';
import { log } from '../logger';
import { SCHEMA_NAME } from '../db/roles';
import { isPlainNonNegativeDecimal } from '../money';
import { isoTime, uuid } from './fields';

/**
 * The catalog of live events: every event the platform publishes on the bus, by channel, with
 * its version. Publishers are checked against it at compile time (EventBus.publish), subscribers
 * receive only events that `decode` accepted. Live events are best effort (a lost one only
 * delays a screen); anything durable travels through the outbox as a job instead.
 *
 * Versioning: an event's `version` is part of its contract. A change a v1 reader cannot handle is
 * a new version with its own schema, published next to (then instead of) the old one; readers
 * accept every version the catalog lists. Unknown fields are ignored (stripped), so adding an
 * optional field is not a new version.
 */

const price = z.string().refine(isPlainNonNegativeDecimal, 'not a plain decimal price');

export const PURCHASE_STATUSES = ['PENDING', 'SUBMITTED', 'FILLED', 'PARTIALLY_FILLED', 'FAILED', 'CANCELLED'] as const;
export const RULE_CHANGES = ['CREATED', 'UPDATED', 'ENABLED', 'DISABLED', 'DELETED', 'FIRED', 'LIMIT_REACHED'] as const;

/** `price.btc.<ccy>`: one aggregated tick (market-price). */
export const BtcPriceV1 = z.object({
  __typename: z.literal('BtcPrice'),
  version: z.literal(1),
  currency: z.enum(['AUD', 'USD']),
  price,
  /** The contributing sources joined by '+', e.g. "KRAKEN+BTC_MARKETS". */
  source: z.string().min(1),
  /** The contributing sources; absent on ticks published before it existed (derive from `source`). */
  sources: z.array(z.string()).optional(),
  at: isoTime,
});

/** `tenant.<tid>.purchase`: a purchase changed state (treasury). */
export const PurchaseUpdatedV1 = z.object({
  __typename: z.literal('PurchaseUpdated'),
  version: z.literal(1),
  /** Set by TenantTx.publish from the transaction's tenant; must match the channel's. */
  tenantId: uuid.optional(),
  purchaseId: uuid,
  status: z.enum(PURCHASE_STATUSES),
  previousStatus: z.enum(PURCHASE_STATUSES).nullable().optional(),
  at: isoTime,
});

/** `tenant.<tid>.rule`: a treasury rule changed, fired or reached a limit (treasury). */
export const TreasuryRuleChangedV1 = z.object({
  __typename: z.literal('TreasuryRuleChanged'),
  version: z.literal(1),
  tenantId: uuid.optional(),
  /** The rule's id. */
  id: uuid,
  change: z.enum(RULE_CHANGES),
  ruleVersion: z.number().int().nonnegative(),
});

/** Sales run the purchases' order state machine (subgraphs/treasury/purchases/purchase-state.ts): the same states. */
export const SALE_STATUSES = PURCHASE_STATUSES;
export const REPORT_STATUSES = ['QUEUED', 'RUNNING', 'READY', 'FAILED'] as const;

/** `tenant.<tid>.sale`: a sale of bitcoin changed state (treasury). */
export const SaleUpdatedV1 = z.object({
  __typename: z.literal('SaleUpdated'),
  version: z.literal(1),
  tenantId: uuid.optional(),
  saleId: uuid,
  status: z.enum(SALE_STATUSES),
  previousStatus: z.enum(SALE_STATUSES).nullable().optional(),
  at: isoTime,
});

/** `tenant.<tid>.report`: a report file's generation progressed (compliance `reports` queue). */
export const TaxReportUpdatedV1 = z.object({
  __typename: z.literal('TaxReportUpdated'),
  version: z.literal(1),
  tenantId: uuid.optional(),
  reportId: uuid,
  status: z.enum(REPORT_STATUSES),
  /** 0–100. */
  progress: z.number().int().min(0).max(100),
  at: isoTime,
});

export const WITHDRAWAL_STATUSES = ['REQUESTED', 'APPROVED', 'SUBMITTED', 'BROADCAST', 'CONFIRMED', 'FAILED', 'REJECTED', 'CANCELLED'] as const;

/** `tenant.<tid>.withdrawal`: a withdrawal to the tenant's own wallet changed state (treasury). */
export const WithdrawalUpdatedV1 = z.object({
  __typename: z.literal('WithdrawalUpdated'),
  version: z.literal(1),
  tenantId: uuid.optional(),
  withdrawalId: uuid,
  status: z.enum(WITHDRAWAL_STATUSES),
  previousStatus: z.enum(WITHDRAWAL_STATUSES).nullable().optional(),
  at: isoTime,
});

/** `outbox.kick`: a transaction wrote outbox rows; the relay should look now rather than at its next poll. */
export const OutboxKickV1 = z.object({
  __typename: z.literal('OutboxKick'),
  version: z.literal(1),
});

/** `platform.tenant-schema`: a tenant moved schema; every process drops its cached schema for it. */
export const TenantSchemaChangedV1 = z.object({
  __typename: z.literal('TenantSchemaChanged'),
  version: z.literal(1),
  tenantId: uuid,
  schema: z.string().regex(SCHEMA_NAME, 'not a tenant schema name'),
});

export const COMPLIANCE_ALERT_KINDS = ['THRESHOLD', 'VELOCITY', 'STRUCTURING', 'SPIKE', 'SCREENED_DESTINATION', 'NEW_DESTINATION', 'SMR_NEAR_DUE', 'SMR_OVERDUE'] as const;

/**
 * `platform.compliance.alert`: a monitoring hit raised an alert, or the SMR clock marked a case
 * near due / overdue (#11). A platform channel, never a tenant's: only the compliance officer's
 * subscription hears it (tipping off, AML/CTF Act s123). Published by the `aml` queue from an
 * outbox job written in the transaction that raised it, so a crash loses none.
 */
export const ComplianceAlertRaisedV1 = z.object({
  __typename: z.literal('ComplianceAlertRaised'),
  version: z.literal(1),
  /** The alert's id (a monitoring alert's id, or `<caseId>:<level>` for a clock alert). */
  id: z.string().min(1).max(200),
  tenantId: uuid,
  kind: z.enum(COMPLIANCE_ALERT_KINDS),
  severity: z.enum(['LOW', 'MEDIUM', 'HIGH', 'CRITICAL']),
  summary: z.string().max(2000),
  caseId: uuid,
  raisedAt: isoTime,
  /** The SMR deadline, for clock alerts. */
  dueAt: isoTime.nullable().optional(),
});

export type BtcPriceEvent = z.infer<typeof BtcPriceV1>;
export type ComplianceAlertRaisedEvent = z.infer<typeof ComplianceAlertRaisedV1>;
export type PurchaseUpdatedEvent = z.infer<typeof PurchaseUpdatedV1>;
export type TreasuryRuleChangedEvent = z.infer<typeof TreasuryRuleChangedV1>;
export type SaleUpdatedEvent = z.infer<typeof SaleUpdatedV1>;
export type TaxReportUpdatedEvent = z.infer<typeof TaxReportUpdatedV1>;
export type WithdrawalUpdatedEvent = z.infer<typeof WithdrawalUpdatedV1>;
export type OutboxKickEvent = z.infer<typeof OutboxKickV1>;
export type TenantSchemaChangedEvent = z.infer<typeof TenantSchemaChangedV1>;

/** Every live event, discriminated by `__typename` (and `version`). */
export type BusEvent =
  | BtcPriceEvent
  | PurchaseUpdatedEvent
  | TreasuryRuleChangedEvent
  | SaleUpdatedEvent
  | TaxReportUpdatedEvent
  | WithdrawalUpdatedEvent
  | OutboxKickEvent
  | TenantSchemaChangedEvent
  | ComplianceAlertRaisedEvent;
export type BusEventType = BusEvent['__typename'];
/** The event of one type, e.g. `EventOfType<'BtcPrice'>`. */
export type EventOfType<T extends BusEventType> = Extract<BusEvent, { __typename: T }>;

export const OUTBOX_KICK_CHANNEL = 'outbox.kick';
export const TENANT_SCHEMA_CHANNEL = 'platform.tenant-schema';
export const COMPLIANCE_ALERT_CHANNEL = 'platform.compliance.alert';
/** The topics of a tenant's own channels, `tenant.<tid>.<topic>`. */
export type TenantTopic = 'purchase' | 'rule' | 'sale' | 'report' | 'withdrawal';

export const priceChannel = (currency: string): `price.btc.${string}` => `price.btc.${currency.toLowerCase()}`;
export const tenantChannel = <T extends TenantTopic>(tenantId: string, topic: T): `tenant.${string}.${T}` => `tenant.${tenantId}.${topic}`;

/**
 * The event a channel carries, at the type level: `publish('price.btc.aud', e)` needs a BtcPrice.
 * A channel only known as `string` takes any catalog event (decode still checks it on receipt);
 * a literal channel the catalog does not know takes nothing.
 */
export type EventOn<C extends string> = string extends C
  ? BusEvent
  : C extends `price.btc.${string}`
    ? BtcPriceEvent
    : C extends `tenant.${string}.purchase`
      ? PurchaseUpdatedEvent
      : C extends `tenant.${string}.rule`
        ? TreasuryRuleChangedEvent
        : C extends `tenant.${string}.sale`
          ? SaleUpdatedEvent
          : C extends `tenant.${string}.report`
            ? TaxReportUpdatedEvent
            : C extends `tenant.${string}.withdrawal`
              ? WithdrawalUpdatedEvent
              : C extends typeof OUTBOX_KICK_CHANNEL
          ? OutboxKickEvent
          : C extends typeof TENANT_SCHEMA_CHANNEL
            ? TenantSchemaChangedEvent
            : C extends typeof COMPLIANCE_ALERT_CHANNEL
              ? ComplianceAlertRaisedEvent
              : never;

type Entry = {
  /** The channel pattern as the bus writes it (`*` = one or more characters). */
  readonly pattern: string;
  readonly match: RegExp;
  readonly events: readonly z.ZodType<BusEvent>[];
  /** Channel/event consistency beyond the schema (the tenant in the channel is the event's). */
  readonly agrees?: (m: RegExpExecArray, event: BusEvent) => boolean;
};

const sameTenant = (m: RegExpExecArray, e: BusEvent): boolean =>
  !('tenantId' in e) || e.tenantId === undefined || e.tenantId.toLowerCase() === m[1]?.toLowerCase();

/** The catalog, channel by channel. */
export const CATALOG: readonly Entry[] = [
  {
    pattern: 'price.btc.*',
    match: /^price\.btc\.([a-z]+)$/,
    events: [BtcPriceV1],
    agrees: (m, e) => e.__typename === 'BtcPrice' && e.currency.toLowerCase() === m[1],
  },
  { pattern: 'tenant.*.purchase', match: /^tenant\.([^.]+)\.purchase$/, events: [PurchaseUpdatedV1], agrees: sameTenant },
  { pattern: 'tenant.*.rule', match: /^tenant\.([^.]+)\.rule$/, events: [TreasuryRuleChangedV1], agrees: sameTenant },
  { pattern: 'tenant.*.sale', match: /^tenant\.([^.]+)\.sale$/, events: [SaleUpdatedV1], agrees: sameTenant },
  { pattern: 'tenant.*.report', match: /^tenant\.([^.]+)\.report$/, events: [TaxReportUpdatedV1], agrees: sameTenant },
  { pattern: 'tenant.*.withdrawal', match: /^tenant\.([^.]+)\.withdrawal$/, events: [WithdrawalUpdatedV1], agrees: sameTenant },
  { pattern: OUTBOX_KICK_CHANNEL, match: /^outbox\.kick$/, events: [OutboxKickV1] },
  { pattern: TENANT_SCHEMA_CHANNEL, match: /^platform\.tenant-schema$/, events: [TenantSchemaChangedV1] },
  { pattern: COMPLIANCE_ALERT_CHANNEL, match: /^platform\.compliance\.alert$/, events: [ComplianceAlertRaisedV1] },
];

/** The tenant a `tenant.<tid>.<topic>` channel belongs to (lower case), or undefined. */
export function tenantOfChannel(channel: string): string | undefined {
  return /^tenant\.([^.]+)\.[^.]+$/.exec(channel)?.[1]?.toLowerCase();
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export type DropReason = 'unknown_channel' | 'not_an_event' | 'unknown_type' | 'malformed' | 'channel_mismatch';

/**
 * Validates what arrived on `channel` against the catalog: the typed event, or null (logged with
 * the reason and the failing paths — never the payload's values).
 */
export function decode(channel: string, value: unknown): BusEvent | null {
  const result = decodeVerbose(channel, value);
  if ('event' in result) return result.event;
  log().warn({ channel, reason: result.reason, ...(result.issues ? { issues: result.issues } : {}) }, 'dropped bus event');
  return null;
}

/** decode without logging: the event or why it was refused. */
export function decodeVerbose(channel: string, value: unknown): { event: BusEvent } | { reason: DropReason; issues?: string[] } {
  let m: RegExpExecArray | null = null;
  const entry = CATALOG.find((e) => (m = e.match.exec(channel)) !== null);
  if (!entry || !m) return { reason: 'unknown_channel' };
  if (!isRecord(value) || typeof value.__typename !== 'string') return { reason: 'not_an_event' };
  let issues: string[] | undefined;
  let knownType = false;
  for (const schema of entry.events) {
    const parsed = schema.safeParse(value);
    if (parsed.success) {
      if (entry.agrees && !entry.agrees(m, parsed.data)) return { reason: 'channel_mismatch' };
      return { event: parsed.data };
    }
    // Only report issues of the schema this event claims to be (same type name).
    const claimsType = parsed.error.issues.every((i) => i.path[0] !== '__typename');
    if (claimsType) {
      knownType = true;
      issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    }
  }
  return knownType ? { reason: 'malformed', issues } : { reason: 'unknown_type' };
}
