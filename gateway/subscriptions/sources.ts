import type { Action } from '../../lib/access';
import { badInput } from '../../lib/errors';
import { COMPLIANCE_ALERT_CHANNEL, priceChannel, tenantChannel, tenantOfChannel, type BusEvent } from '../../lib/events';

/** What an event becomes: the value of the subscription's root field, before selection. */
export type EventValue = Record<string, unknown>;

/**
 * A field the event does not carry, resolved per event through the gateway's own query
 * execution: `query { <rootField>(<args>) { …the subscriber's selection… } }`.
 */
export type FollowUp = {
  rootField: string;
  /** Arguments for rootField taken from the event value; null answers null without asking. */
  args: (value: EventValue) => Record<string, unknown> | null;
};

/** How one Subscription root field is fed from the event bus. */
export type SubscriptionSource = {
  /** The permission (lib/access PERMISSIONS) a subscriber needs. */
  action: Action;
  /**
   * `public`: anyone, signed in or not. `tenant`: a signed-in user, events of their own tenant only.
   * `officer`: the platform's compliance officer only, events of every tenant (the probe decides).
   */
  audience: 'public' | 'tenant' | 'officer';
  /** The bus channel; `tenantId` is the verified token's, never an argument. */
  channel: (args: Record<string, unknown>, tenantId: string | undefined) => string;
  /** The tenant a channel belongs to; every event's channel is checked against the subscriber's tenant. */
  tenantOfChannel?: (channel: string) => string | undefined;
  /** Throws a BAD_USER_INPUT AppError for arguments the field refuses. */
  checkArgs?: (args: Record<string, unknown>) => void;
  /**
   * The event as the root field's value; null drops an event that is not this field's. Events
   * arrive decoded and validated by the catalog (lib/events `decode`, run once per message by the
   * bus), so this only picks fields from the typed event.
   */
  toValue: (event: BusEvent) => EventValue | null;
  /** Per-subscriber thinning: skip an event younger than this many ms than the last one sent. */
  minIntervalMs?: (args: Record<string, unknown>) => number | undefined;
  /** The time of an event value (for thinning); defaults to when the gateway received it. */
  timeOf?: (value: EventValue) => number;
  /** Per-subscription filter on the event value (e.g. one purchase of the tenant's). */
  accepts?: (args: Record<string, unknown>, value: EventValue) => boolean;
  /**
   * Asked once when subscribing, with the subscriber's credential: a query whose null answer means
   * the subscription names something the caller may not see (another tenant's purchase) → NOT_FOUND.
   */
  mustSee?: (args: Record<string, unknown>) => { query: string; variables: Record<string, unknown>; what: string } | null;
  /**
   * For API-key subscribers (whose scopes live with the subgraphs): a query needing the same
   * permission, asked once at subscribe time with the key; a refusal refuses the subscription.
   * For `officer` fields: the operation that checks the officer (and audits the start), asked for every subscriber.
   */
  probe?: string;
  /** For `officer` fields: a read-only query (true while still the officer) asked at every re-verification. */
  recheck?: string;
  /** Type name → field name → how to resolve a field the event lacks. */
  followUps?: Record<string, Record<string, FollowUp>>;
};

const MAX_INTERVAL_MS = 3_600_000;

/** The contract between the event catalog's channels (lib/events) and the supergraph's Subscription fields. */
export const SUBSCRIPTION_SOURCES: Readonly<Record<string, SubscriptionSource>> = {
  btcPrice: {
    action: 'price:read',
    audience: 'public',
    channel: (args) => priceChannel(String(args.currency)),
    checkArgs: (args) => {
      const ms = args.minIntervalMs;
      if (ms !== undefined && ms !== null && (typeof ms !== 'number' || ms < 0 || ms > MAX_INTERVAL_MS)) {
        throw badInput(`minIntervalMs must be between 0 and ${MAX_INTERVAL_MS}`, 'minIntervalMs');
      }
    },
    toValue: (e) =>
      e.__typename === 'BtcPrice'
        ? {
            currency: e.currency,
            price: e.price,
            source: e.source,
            // Ticks published before `sources` existed name their source(s) in `source` alone.
            sources: e.sources ?? e.source.split('+'),
            at: e.at,
          }
        : null,
    minIntervalMs: (args) => (typeof args.minIntervalMs === 'number' ? args.minIntervalMs : undefined),
    timeOf: (v) => (typeof v.at === 'string' ? Date.parse(v.at) : Date.now()),
  },
  treasuryEvents: {
    action: 'rule:read',
    audience: 'tenant',
    channel: (_args, tenantId) => tenantChannel(String(tenantId), 'rule'),
    probe: '{ treasuryRules { id } }',
    tenantOfChannel,
    toValue: (e) => (e.__typename === 'TreasuryRuleChanged' ? { ruleId: e.id, change: e.change, ruleVersion: e.ruleVersion } : null),
    followUps: {
      TreasuryEvent: {
        rule: { rootField: 'treasuryRule', args: (v) => (v.change === 'DELETED' ? null : { id: v.ruleId }) },
      },
    },
  },
  purchaseUpdated: {
    action: 'purchase:read',
    audience: 'tenant',
    channel: (_args, tenantId) => tenantChannel(String(tenantId), 'purchase'),
    probe: '{ purchases(limit: 1) { id } }',
    tenantOfChannel,
    toValue: (e) =>
      e.__typename === 'PurchaseUpdated' ? { purchaseId: e.purchaseId, status: e.status, previousStatus: e.previousStatus ?? null, at: e.at } : null,
    accepts: (args, v) => args.purchaseId === undefined || args.purchaseId === null || args.purchaseId === v.purchaseId,
    mustSee: (args) =>
      typeof args.purchaseId === 'string'
        ? { query: 'query ($id: ID!) { purchase(id: $id) { id } }', variables: { id: args.purchaseId }, what: 'purchase' }
        : null,
    followUps: {
      PurchaseEvent: {
        purchase: { rootField: 'purchase', args: (v) => ({ id: v.purchaseId }) },
      },
    },
  },
  saleUpdated: {
    action: 'purchase:read',
    audience: 'tenant',
    channel: (_args, tenantId) => tenantChannel(String(tenantId), 'sale'),
    probe: '{ sales(limit: 1) { id } }',
    tenantOfChannel,
    toValue: (e) => (e.__typename === 'SaleUpdated' ? { saleId: e.saleId, status: e.status, previousStatus: e.previousStatus ?? null, at: e.at } : null),
    accepts: (args, v) => args.saleId === undefined || args.saleId === null || args.saleId === v.saleId,
    mustSee: (args) =>
      typeof args.saleId === 'string' ? { query: 'query ($id: ID!) { sale(id: $id) { id } }', variables: { id: args.saleId }, what: 'sale' } : null,
    followUps: {
      SaleEvent: {
        sale: { rootField: 'sale', args: (v) => ({ id: v.saleId }) },
      },
    },
  },
  withdrawalUpdated: {
    action: 'withdrawal:read',
    audience: 'tenant',
    channel: (_args, tenantId) => tenantChannel(String(tenantId), 'withdrawal'),
    probe: '{ withdrawals(limit: 1) { id } }',
    tenantOfChannel,
    toValue: (e) =>
      e.__typename === 'WithdrawalUpdated' ? { withdrawalId: e.withdrawalId, status: e.status, previousStatus: e.previousStatus ?? null, at: e.at } : null,
    accepts: (args, v) => args.withdrawalId === undefined || args.withdrawalId === null || args.withdrawalId === v.withdrawalId,
    mustSee: (args) =>
      typeof args.withdrawalId === 'string'
        ? { query: 'query ($id: ID!) { withdrawal(id: $id) { id } }', variables: { id: args.withdrawalId }, what: 'withdrawal' }
        : null,
    followUps: {
      WithdrawalEvent: {
        withdrawal: { rootField: 'withdrawal', args: (v) => ({ id: v.withdrawalId }) },
      },
    },
  },
  taxReportUpdated: {
    action: 'tax:read',
    audience: 'tenant',
    channel: (_args, tenantId) => tenantChannel(String(tenantId), 'report'),
    probe: '{ taxReports { id } }',
    tenantOfChannel,
    toValue: (e) => (e.__typename === 'TaxReportUpdated' ? { reportId: e.reportId, status: e.status, progress: e.progress, at: e.at } : null),
    accepts: (args, v) => args.reportId === undefined || args.reportId === null || args.reportId === v.reportId,
    mustSee: (args) =>
      typeof args.reportId === 'string'
        ? { query: 'query ($id: ID!) { taxReport(id: $id) { id } }', variables: { id: args.reportId }, what: 'tax report' }
        : null,
    followUps: {
      TaxReportEvent: {
        report: { rootField: 'taxReport', args: (v) => ({ id: v.reportId }) },
      },
    },
  },
  complianceAlerts: {
    action: 'compliance:alerts',
    audience: 'officer',
    channel: () => COMPLIANCE_ALERT_CHANNEL,
    // The compliance subgraph checks the platform role and records the start in the platform's chain.
    probe: 'mutation { startComplianceAlertFeed }',
    // Read-only (not audited again): asked at every re-verification; a revoked role ends the feed.
    recheck: '{ complianceOfficerActive }',
    toValue: (e) =>
      e.__typename === 'ComplianceAlertRaised'
        ? { id: e.id, tenantId: e.tenantId, kind: e.kind, severity: e.severity, summary: e.summary, caseId: e.caseId, raisedAt: e.raisedAt, dueAt: e.dueAt ?? null }
        : null,
  },
};
