import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { IsolationLevel } from '@mikro-orm/core';
import { recordAudit, type AuditRecord } from '../audit';
import type { BusEvent, EventBus } from '../bus';
import type { PurchaseUpdatedEvent, SaleUpdatedEvent, TaxReportUpdatedEvent, TenantTopic, TreasuryRuleChangedEvent, WithdrawalUpdatedEvent } from '../events';
import { notFound } from '../errors';
import { log } from '../logger';
import { addToOutbox, kickOutbox, type OutboxMessage } from '../outbox';
import { TenantDirectory, enterTenant, isUuid } from './tenant-context';

export { IsolationLevel };

/**
 * The one way into a tenant. Everything a unit of tenant work needs travels together, so the
 * tenant id can never come apart from the transaction it writes in:
 * - `em`: the transaction, with search_path = the tenant's schema and app.tenant_id set locally
 *   (row-level security holds even if a query forgets its filter);
 * - `now`: the database's clock for this transaction (`transaction_timestamp()`), never the worker's;
 * - `outbox` / `audit`: jobs and audit facts that exist if and only if the transaction commits;
 * - `publish`: a live event on this tenant's channel (`tenant.<tid>.<topic>`), sent after commit only.
 */
export type TenantTx = {
  readonly em: EntityManager;
  readonly tenantId: string;
  /** `pool` or the tenant's dedicated schema. */
  readonly schema: string;
  /** The database's time at the start of this transaction. */
  readonly now: Date;
  /** A job written to the tenant's outbox in this transaction; the relay enqueues it after commit. */
  outbox(msg: OutboxMessage): Promise<string>;
  /** A fact for the tenant's audit chain, in this transaction (via the outbox). Returns its event id. */
  audit(rec: AuditRecord): Promise<string>;
  /**
   * A live event for this tenant's subscribers: published on `tenant.<tenantId>.<topic>` after the
   * commit, with `tenantId` set from this transaction (whatever the event said). Dropped on rollback.
   */
  publish(topic: 'purchase', event: PurchaseUpdatedEvent): void;
  publish(topic: 'rule', event: TreasuryRuleChangedEvent): void;
  publish(topic: 'sale', event: SaleUpdatedEvent): void;
  publish(topic: 'report', event: TaxReportUpdatedEvent): void;
  publish(topic: 'withdrawal', event: WithdrawalUpdatedEvent): void;
};

/**
 * A transaction that starts in the platform's tables and continues in one tenant: sign-up creates
 * the tenant, accepting an invitation creates the membership, a second factor updates the user,
 * then each records its audit fact in the tenant. `enter` scopes this same transaction to the tenant
 * (once; entering another tenant is refused) and gives its `TenantTx`; after the commit the relay is
 * kicked and live events published, as with `run`.
 */
export type PlatformTx = {
  readonly em: EntityManager;
  readonly enter: (tenantId: string) => Promise<TenantTx>;
};

export type TenantTxOptions = {
  /** Default READ COMMITTED; REPEATABLE READ for a consistent snapshot (audit verification). */
  isolation?: IsolationLevel;
};

/** The channel a tenant's live events travel on. */
export const tenantChannel = (tenantId: string, topic: string): string => `tenant.${tenantId}.${topic}`;

type Pending = { channel: string; event: BusEvent };
type AfterCommit = { pending: Pending[]; wroteJobs: boolean };

/**
 * Runs tenant transactions. After a commit it wakes the outbox relay when the transaction wrote
 * jobs, then publishes the live events (best effort: jobs are safe in the outbox; a lost live event
 * only delays a screen).
 */
export class TenantTransactions {
  constructor(
    private readonly orm: MikroORM,
    readonly directory: TenantDirectory,
    private readonly bus?: EventBus,
  ) {}

  async run<T>(tenantId: string, fn: (tx: TenantTx) => Promise<T>, opts: TenantTxOptions = {}): Promise<T> {
    if (!isUuid(tenantId)) throw notFound('tenant');
    const id = tenantId.toLowerCase();
    const schema = await this.directory.schemaOf(id);
    const state: AfterCommit = { pending: [], wroteJobs: false };
    const result = await this.orm.em.fork({ clear: true }).transactional(
      async (em) => fn(await this.enter(em, schema, id, state)),
      opts.isolation ? { isolationLevel: opts.isolation } : undefined,
    );
    await this.afterCommit(state);
    return result;
  }

  /** A platform transaction that may enter one tenant (see `PlatformTx`). */
  async platform<T>(fn: (p: PlatformTx) => Promise<T>): Promise<T> {
    const state: AfterCommit = { pending: [], wroteJobs: false };
    const result = await this.orm.em.fork({ clear: true }).transactional(async (em) => {
      let entered: TenantTx | null = null;
      return fn({
        em,
        enter: async (tenantId) => {
          if (!isUuid(tenantId)) throw notFound('tenant');
          const id = tenantId.toLowerCase();
          if (entered) {
            if (entered.tenantId === id) return entered;
            throw new Error('a platform transaction enters one tenant only');
          }
          entered = await this.enter(em, null, id, state);
          return entered;
        },
      });
    });
    await this.afterCommit(state);
    return result;
  }

  private async enter(em: EntityManager, schema: string | null, id: string, state: AfterCommit): Promise<TenantTx> {
    const entered = await enterTenant(em, schema, id);
    return {
      em,
      tenantId: id,
      schema: entered.schema,
      now: entered.now,
      outbox: async (msg) => {
        state.wroteJobs = true;
        return addToOutbox(em, msg);
      },
      audit: async (rec) => {
        state.wroteJobs = true;
        return recordAudit(em, rec);
      },
      publish: (topic: TenantTopic, event: PurchaseUpdatedEvent | TreasuryRuleChangedEvent | SaleUpdatedEvent | TaxReportUpdatedEvent | WithdrawalUpdatedEvent) =>
        void state.pending.push({ channel: tenantChannel(id, topic), event: { ...event, tenantId: id } }),
    };
  }

  private async afterCommit(state: AfterCommit): Promise<void> {
    if (!this.bus || (!state.wroteJobs && state.pending.length === 0)) return;
    const bus = this.bus;
    await kickOutbox(bus);
    for (const p of state.pending) {
      await bus.publish(p.channel, p.event).catch((err: Error) => log().debug({ channel: p.channel, err: err.message }, 'live event not published'));
    }
  }
}
