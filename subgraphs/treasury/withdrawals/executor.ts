import type { TenantTransactions, TenantTx } from '../../../lib/db/tenant-tx';
import { log } from '../../../lib/logger';
import type { JobInfo } from '../../../lib/queue';
import { jobString } from '../../../workers/job-data';
import { WithdrawalStatus, forwardPath } from './approvals';
import { RailRefusedError, type RailFind, type RailLookup, type RailWithdrawal, type WithdrawalRail } from './rail';
import { DEFAULT_RETRY_OPTIONS, decideRetry } from './reconcile';
import { loadWithdrawals, transitionWithdrawal, type WithdrawalRow } from './store';
import { exchangeDestinationRef } from './withdrawal-id';

/** Runs in the CONFIRMED transaction (the tax fact to the outbox): what a confirmed withdrawal means downstream. */
export type OnConfirmed = (tx: TenantTx, row: WithdrawalRow, seen: RailWithdrawal, at: Date) => Promise<void>;

export type WithdrawalExecutorOptions = {
  tenants: TenantTransactions;
  rails: Readonly<Record<string, WithdrawalRail>>;
  now?: () => Date;
  /** How many looks at the rail one job makes while waiting for broadcast and confirmation. */
  maxPolls?: number;
  pollMs?: number;
  /** How long one worker owns a withdrawal while it talks to the rail (database clock); a crashed worker's lease lapses. */
  leaseMs?: number;
  /** How long a stored exchange reference may be missing from the listing before a person looks. */
  missingRefEscalateMs?: number;
  onConfirmed?: OnConfirmed;
};

export type ExecuteHooks = {
  /** Test hook: runs right after the rail accepted the withdrawal, before anything is stored (a crash there). */
  afterSubmit?: () => Promise<void>;
  /** Looks at the rail this many more times in this run (the sweeper: 0, one look). */
  polls?: number;
};

/** Thrown to have the job retried later (the withdrawal is not finished; nothing is lost or sent twice). */
export class WithdrawalRetryLater extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WithdrawalRetryLater';
  }
}

/** The exchange address-book entry a withdrawal goes to: one per derived address, one per static destination. */
export const exchangeKeyOf = (row: Pick<WithdrawalRow, 'derivation_index' | 'client_id' | 'destination_id'>): string =>
  row.derivation_index !== null ? row.client_id : exchangeDestinationRef(row.destination_id);

/**
 * Runs one approved withdrawal to CONFIRMED or FAILED, exactly once on its rail:
 *   APPROVED → SUBMITTED committed BEFORE the rail is called; on every run the rail is first asked
 *   for it (by the stored exchange reference, else key/address/amount/attempt time); a send happens
 *   only when the rail has nothing of ours and `decideRetry` says the listing has settled, and the
 *   attempt time is committed before the send. What the rail reports is stored along the forward
 *   path (SUBMITTED → BROADCAST → CONFIRMED), each step stored, audited and published. Two
 *   candidates, or a stored reference gone for good, escalate to a person: never a resend.
 */
export class WithdrawalExecutor {
  private readonly now: () => Date;
  private readonly maxPolls: number;
  private readonly pollMs: number;
  private readonly leaseMs: number;
  private readonly missingRefEscalateMs: number;

  constructor(private readonly opts: WithdrawalExecutorOptions) {
    this.now = opts.now ?? (() => new Date());
    this.maxPolls = opts.maxPolls ?? 20;
    this.pollMs = opts.pollMs ?? 50;
    this.leaseMs = opts.leaseMs ?? 60_000;
    this.missingRefEscalateMs = opts.missingRefEscalateMs ?? DEFAULT_RETRY_OPTIONS.missingRefEscalateMs;
  }

  private tx<T>(tenantId: string, fn: (tx: TenantTx) => Promise<T>): Promise<T> {
    return this.opts.tenants.run(tenantId, fn);
  }

  async execute(tenantId: string, withdrawalId: string, hooks: ExecuteHooks = {}): Promise<WithdrawalStatus> {
    const claimed = await this.tx(tenantId, async (tx) => {
      const [w] = await loadWithdrawals(tx.em, [withdrawalId], { forUpdate: true });
      if (!w) return null;
      if (w.status === WithdrawalStatus.APPROVED) {
        const key = exchangeKeyOf(w);
        const moved = await transitionWithdrawal(tx, w.id, WithdrawalStatus.APPROVED, WithdrawalStatus.SUBMITTED, {
          reason: `sent to the ${w.rail} rail`,
          actorId: null,
          at: this.now(),
          set: { exchange_key: key },
        });
        if (moved) {
          w.status = WithdrawalStatus.SUBMITTED;
          w.exchange_key = key;
        }
      }
      if (w.status !== WithdrawalStatus.SUBMITTED && w.status !== WithdrawalStatus.BROADCAST) return { w, linked: new Set<string>() };
      if (w.escalation !== null) return { w, linked: new Set<string>() };
      // One worker at a time talks to the rail about a withdrawal (a stalled job's twin waits).
      const leased = await tx.em.execute<{ id: string }[]>(
        `update withdrawal set lease_until = clock_timestamp() + make_interval(secs => ?) where id = ? and (lease_until is null or lease_until < clock_timestamp()) returning id`,
        [this.leaseMs / 1000, w.id],
      );
      if (leased.length === 0) throw new WithdrawalRetryLater(`withdrawal ${w.id} is being executed by another worker`);
      const refs = await tx.em.execute<{ rail_ref: string }[]>(`select rail_ref from withdrawal where rail = ? and rail_ref is not null and id <> ?`, [w.rail, w.id]);
      return { w, linked: new Set(refs.map((r) => r.rail_ref)) };
    });
    if (!claimed) return WithdrawalStatus.CANCELLED;
    const { w: row, linked } = claimed;
    if ((row.status !== WithdrawalStatus.SUBMITTED && row.status !== WithdrawalStatus.BROADCAST) || row.escalation !== null) return row.status;
    try {
      return await this.run(tenantId, row, linked, hooks);
    } finally {
      await this.tx(tenantId, ({ em }) => em.execute(`update withdrawal set lease_until = null where id = ?`, [row.id]));
    }
  }

  private lookup(row: WithdrawalRow, linked: ReadonlySet<string>): RailLookup {
    return {
      clientId: row.client_id,
      railRef: row.rail_ref,
      keyName: row.exchange_key ?? exchangeKeyOf(row),
      address: row.address,
      sats: BigInt(row.sats),
      attemptedAt: row.attempted_at ? new Date(row.attempted_at) : null,
      linkedElsewhere: linked,
    };
  }

  private async run(tenantId: string, row: WithdrawalRow, linked: ReadonlySet<string>, hooks: ExecuteHooks): Promise<WithdrawalStatus> {
    const rail = this.opts.rails[row.rail];
    if (!rail) throw new WithdrawalRetryLater(`no ${row.rail} rail in this worker`);

    // Exactly once: look first (by reference, else by key/address/amount since the attempt); send only what the rail has never seen.
    let found = await rail.find(this.lookup(row, linked));
    let status = row.status;
    if (found.kind !== 'FOUND') {
      const lookup = this.lookup(row, linked);
      const decision =
        lookup.attemptedAt === null && lookup.railRef === null && found.kind === 'NOT_FOUND'
          ? ({ action: 'SEND' } as const)
          : decideRetry(
              row.status,
              { withdrawalId: row.id, exchange: row.rail, keyName: lookup.keyName, address: row.address, amountSats: lookup.sats, attemptedAt: lookup.attemptedAt ?? this.now(), exchangeRef: row.rail_ref },
              found,
              this.now(),
              { settleMs: rail.settleMs, missingRefEscalateMs: this.missingRefEscalateMs },
            );
      if (decision.action === 'WAIT') throw new WithdrawalRetryLater(`withdrawal ${row.id}: the ${rail.name} listing may still show it; looking again after ${decision.until.toISOString()}`);
      if (decision.action === 'ESCALATE') return this.escalate(tenantId, row, decision.why);
      if (decision.action === 'ADOPT') throw new Error('unreachable: ADOPT needs a FOUND match');
      // The attempt time is committed before anything leaves: a crash after it makes the next run look, then wait, never resend blindly.
      const attemptedAt = this.now();
      await this.tx(tenantId, ({ em }) => em.execute(`update withdrawal set attempted_at = ? where id = ?`, [attemptedAt, row.id]));
      row.attempted_at = attemptedAt;
      let sent: RailWithdrawal;
      try {
        sent = await rail.submit({ clientId: row.client_id, keyName: lookup.keyName, sats: lookup.sats, address: row.address });
      } catch (err) {
        if (err instanceof RailRefusedError) return this.fail(tenantId, row, `the ${rail.name} exchange refused the withdrawal: ${err.message}`);
        throw err;
      }
      if (hooks.afterSubmit) await hooks.afterSubmit();
      found = { kind: 'FOUND', withdrawal: sent };
    }
    status = await this.record(tenantId, row, found.withdrawal);
    row.rail_ref = found.withdrawal.railRef;
    const polls = hooks.polls ?? this.maxPolls;
    for (let i = 0; i < polls && !isFinal(status); i += 1) {
      await new Promise((r) => setTimeout(r, this.pollMs));
      const now: RailFind = await rail.find(this.lookup(row, linked));
      if (now.kind !== 'FOUND') throw new WithdrawalRetryLater(`the ${rail.name} rail does not list withdrawal ${row.client_id} (${now.kind}) right now`);
      status = await this.record(tenantId, row, now.withdrawal);
    }
    if (!isFinal(status) && hooks.polls === undefined) throw new WithdrawalRetryLater(`withdrawal ${row.id} is ${status}; looking again later`);
    return status;
  }

  /** A person must look (ambiguous listing, vanished reference): stored and audited once; the sweeper leaves it alone. */
  private async escalate(tenantId: string, row: WithdrawalRow, why: string): Promise<WithdrawalStatus> {
    log().error({ tenantId, withdrawalId: row.id, rail: row.rail, why }, 'withdrawal escalated: never resent automatically');
    await this.tx(tenantId, async (tx) => {
      const done = await tx.em.execute<{ id: string }[]>(`update withdrawal set escalation = ? where id = ? and escalation is null returning id`, [why, row.id]);
      if (done.length > 0) await tx.audit({ eventType: 'withdrawal.escalated', actorId: null, subjectType: 'Withdrawal', subjectId: row.id, data: { why, rail: row.rail } });
    });
    return row.status;
  }

  private fail(tenantId: string, row: WithdrawalRow, reason: string): Promise<WithdrawalStatus> {
    return this.tx(tenantId, async (tx) => {
      const moved = await transitionWithdrawal(tx, row.id, row.status, WithdrawalStatus.FAILED, { reason, actorId: null, at: this.now(), set: { failure_reason: reason } });
      return moved ? WithdrawalStatus.FAILED : row.status;
    });
  }

  /** Stores what the rail reports, along the forward path from the stored status (one transaction). */
  private record(tenantId: string, row: WithdrawalRow, seen: RailWithdrawal): Promise<WithdrawalStatus> {
    return this.tx(tenantId, async (tx) => {
      const [w] = await loadWithdrawals(tx.em, [row.id], { forUpdate: true });
      if (!w) throw new Error(`withdrawal ${row.id} vanished`);
      if (w.rail_ref === null) await tx.em.execute(`update withdrawal set rail_ref = ? where id = ?`, [seen.railRef, w.id]);
      const target = seen.state as WithdrawalStatus;
      const path = forwardPath(w.status, target) ?? [];
      let from = w.status;
      for (const to of path) {
        const set: Record<string, string | null> = { rail_ref: seen.railRef };
        if (seen.txid) set.txid = seen.txid;
        if (seen.feeSats !== null) set.fee_sats = seen.feeSats.toString();
        if (to === WithdrawalStatus.FAILED) set.failure_reason = seen.failureReason ?? 'the rail reported the withdrawal failed';
        const at = this.now();
        const reason = to === WithdrawalStatus.BROADCAST ? `broadcast as ${seen.txid ?? '?'}` : to === WithdrawalStatus.CONFIRMED ? 'confirmed on the network' : (set.failure_reason ?? null);
        if (!(await transitionWithdrawal(tx, w.id, from, to, { reason, actorId: null, at, set }))) break;
        if (to === WithdrawalStatus.CONFIRMED && this.opts.onConfirmed) await this.opts.onConfirmed(tx, { ...w, txid: seen.txid ?? w.txid, rail_ref: seen.railRef }, seen, at);
        from = to;
      }
      return from;
    });
  }
}

const isFinal = (s: WithdrawalStatus): boolean => s === WithdrawalStatus.CONFIRMED || s === WithdrawalStatus.FAILED;

/** The `purchases` queue's handler for withdrawal jobs (job name `withdrawal`, id = the withdrawal id; `sweep` jobs look once). */
export function withdrawalsProcessor(executor: WithdrawalExecutor) {
  return async (job: JobInfo): Promise<void> => {
    const sweep = (job.data as { sweep?: unknown }).sweep === true;
    await executor.execute(jobString(job, 'tenantId'), jobString(job, 'withdrawalId'), sweep ? { polls: 0 } : {});
  };
}
