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
  /** The acting user, set as `app.user_id` with the tenant (row-level security of public tables keyed by user). */
  userId?: string;
  /** READ ONLY: PostgreSQL refuses every write, and the transaction is rolled back at the end. */
  readOnly?: boolean;
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
      async (em) => fn(await this.enter(em, schema, id, state, opts)),
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

  private async enter(em: EntityManager, schema: string | null, id: string, state: AfterCommit, opts: TenantTxOptions = {}): Promise<TenantTx> {
    const entered = await enterTenant(em, schema, id, { userId: opts.userId, readOnly: opts.readOnly });
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

/** Ends a shared read's transaction: thrown out of it so MikroORM rolls back (and never flushes). */
class EndOfReads extends Error {}

type ReadSession = { tx: Promise<TenantTx>; users: number; failed: boolean; end: () => void; turn: Promise<unknown> };

/**
 * The reads of one request in one tenant, in one READ ONLY transaction instead of one each: the
 * resolvers of a request (rules, purchases, holdings, their loaders) join whichever is open, under the
 * same row-level security (app.tenant_id, search_path, app.user_id set once). It ends (rolled back:
 * nothing to commit) as soon as no read is running at the end of a turn of the event loop, so it is
 * never held across the network; a later read opens another. A read whose SQL fails leaves the
 * transaction to the reads already in it; later reads get a fresh one.
 */
export class SharedReads {
  private open: ReadSession | null = null;

  constructor(
    private readonly transactions: TenantTransactions,
    private readonly tenantId: string,
    private readonly userId?: string,
  ) {}

  async read<T>(fn: (tx: TenantTx) => Promise<T>): Promise<T> {
    const session = this.open && !this.open.failed ? this.open : this.start();
    session.users++;
    // One connection: the reads take turns (node-postgres would queue them anyway, and deprecates that).
    const mine = session.turn.then(async () => fn(await session.tx));
    session.turn = mine.catch(() => undefined);
    try {
      return await mine;
    } catch (err) {
      session.failed = true;
      throw err;
    } finally {
      session.users--;
      if (session.users === 0) setImmediate(() => this.endIfIdle(session));
    }
  }

  private endIfIdle(session: ReadSession): void {
    if (session.users > 0) return;
    if (this.open === session) this.open = null;
    session.end();
  }

  private start(): ReadSession {
    let end!: () => void;
    const ended = new Promise<void>((r) => (end = r));
    let entered!: (tx: TenantTx) => void;
    let refused!: (err: unknown) => void;
    const tx = new Promise<TenantTx>((res, rej) => {
      entered = res;
      refused = rej;
    });
    const session: ReadSession = { tx, users: 0, failed: false, end, turn: Promise.resolve() };
    const refuseWrites = (): never => {
      throw new Error('a shared read does not write (outbox, audit, live events): use Scope.tx');
    };
    this.transactions
      .run(
        this.tenantId,
        async (t) => {
          entered({ ...t, outbox: refuseWrites, audit: refuseWrites, publish: refuseWrites });
          await ended;
          throw new EndOfReads('shared reads ended');
        },
        { userId: this.userId, readOnly: true },
      )
      .catch((err: unknown) => {
        if (err instanceof EndOfReads) return;
        session.failed = true;
        refused(err);
      });
    this.open = session;
    return session;
  }
}
