import type { TenantTransactions, TenantTx } from '../../../lib/db/tenant-tx';
import type { JobInfo } from '../../../lib/queue';
import { jobString } from '../../../workers/job-data';
import { WithdrawalStatus, forwardPath } from './approvals';
import type { RailWithdrawal, WithdrawalRail } from './rail';
import { loadWithdrawals, transitionWithdrawal, type WithdrawalRow } from './store';

export type WithdrawalExecutorOptions = {
  tenants: TenantTransactions;
  rails: Readonly<Record<string, WithdrawalRail>>;
  now?: () => Date;
  /** How many looks at the rail one job makes while waiting for broadcast and confirmation. */
  maxPolls?: number;
  pollMs?: number;
  /** How long one worker owns a withdrawal while it talks to the rail (database clock); a crashed worker's lease lapses. */
  leaseMs?: number;
};

/** Thrown to have the job retried later (the withdrawal is not finished; nothing is lost or sent twice). */
export class WithdrawalRetryLater extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WithdrawalRetryLater';
  }
}

/**
 * Runs one approved withdrawal to CONFIRMED or FAILED, exactly once on its rail:
 *   APPROVED → SUBMITTED committed BEFORE the rail is called (so a crash after it never looks like
 *   "nothing sent"); then, on every run, the rail is first asked for our client id (derived from the
 *   withdrawal id) and only a withdrawal the rail does not know is sent; what the rail reports is
 *   stored along the state machine's forward path (SUBMITTED → BROADCAST → CONFIRMED), each step
 *   stored, audited and published.
 */
export class WithdrawalExecutor {
  private readonly now: () => Date;
  private readonly maxPolls: number;
  private readonly pollMs: number;
  private readonly leaseMs: number;

  constructor(private readonly opts: WithdrawalExecutorOptions) {
    this.now = opts.now ?? (() => new Date());
    this.maxPolls = opts.maxPolls ?? 20;
    this.pollMs = opts.pollMs ?? 50;
    this.leaseMs = opts.leaseMs ?? 60_000;
  }

  private tx<T>(tenantId: string, fn: (tx: TenantTx) => Promise<T>): Promise<T> {
    return this.opts.tenants.run(tenantId, fn);
  }

  /** `afterSubmit`: a test hook run right after the rail accepted the withdrawal, before anything is stored. */
  async execute(tenantId: string, withdrawalId: string, hooks: { afterSubmit?: () => Promise<void> } = {}): Promise<WithdrawalStatus> {
    const row = await this.tx(tenantId, async (tx) => {
      const [w] = await loadWithdrawals(tx.em, [withdrawalId], { forUpdate: true });
      if (!w) return null;
      if (w.status === WithdrawalStatus.APPROVED) {
        const moved = await transitionWithdrawal(tx, w.id, WithdrawalStatus.APPROVED, WithdrawalStatus.SUBMITTED, {
          reason: `sent to the ${w.rail} rail`,
          actorId: null,
          at: this.now(),
        });
        if (moved) w.status = WithdrawalStatus.SUBMITTED;
      }
      if (w.status !== WithdrawalStatus.SUBMITTED && w.status !== WithdrawalStatus.BROADCAST) return w;
      // One worker at a time talks to the rail about a withdrawal (a stalled job's twin waits).
      const leased = await tx.em.execute<{ id: string }[]>(
        `update withdrawal set lease_until = clock_timestamp() + make_interval(secs => ?) where id = ? and (lease_until is null or lease_until < clock_timestamp()) returning id`,
        [this.leaseMs / 1000, w.id],
      );
      if (leased.length === 0) throw new WithdrawalRetryLater(`withdrawal ${w.id} is being executed by another worker`);
      return w;
    });
    if (!row) return WithdrawalStatus.CANCELLED;
    if (row.status !== WithdrawalStatus.SUBMITTED && row.status !== WithdrawalStatus.BROADCAST) return row.status;
    try {
      return await this.run(tenantId, row, hooks);
    } finally {
      await this.tx(tenantId, ({ em }) => em.execute(`update withdrawal set lease_until = null where id = ?`, [row.id]));
    }
  }

  private async run(tenantId: string, row: WithdrawalRow, hooks: { afterSubmit?: () => Promise<void> }): Promise<WithdrawalStatus> {
    const withdrawalId = row.id;
    const rail = this.opts.rails[row.rail];
    if (!rail) throw new WithdrawalRetryLater(`no ${row.rail} rail in this worker`);

    // Exactly once: ask for our id first; send only what the rail has never seen.
    let seen = await rail.find(row.client_id);
    if (!seen) {
      seen = await rail.submit({ clientId: row.client_id, sats: BigInt(row.sats), address: row.address });
      if (hooks.afterSubmit) await hooks.afterSubmit();
    }
    let status = await this.record(tenantId, row, seen);
    for (let i = 0; i < this.maxPolls && status !== WithdrawalStatus.CONFIRMED && status !== WithdrawalStatus.FAILED; i += 1) {
      await new Promise((r) => setTimeout(r, this.pollMs));
      const now = await rail.find(row.client_id);
      if (!now) throw new WithdrawalRetryLater(`the ${rail.name} rail no longer lists withdrawal ${row.client_id}`);
      status = await this.record(tenantId, row, now);
    }
    if (status !== WithdrawalStatus.CONFIRMED && status !== WithdrawalStatus.FAILED) throw new WithdrawalRetryLater(`withdrawal ${withdrawalId} is ${status}; looking again later`);
    return status;
  }

  /** Stores what the rail reports, along the forward path from the stored status (one transaction). */
  private record(tenantId: string, row: WithdrawalRow, seen: RailWithdrawal): Promise<WithdrawalStatus> {
    return this.tx(tenantId, async (tx) => {
      const [w] = await loadWithdrawals(tx.em, [row.id], { forUpdate: true });
      if (!w) throw new Error(`withdrawal ${row.id} vanished`);
      const target = seen.state as WithdrawalStatus;
      const path = forwardPath(w.status, target) ?? [];
      let from = w.status;
      for (const to of path) {
        const set: Record<string, string | null> = { rail_ref: seen.railRef };
        if (seen.txid) set.txid = seen.txid;
        if (to === WithdrawalStatus.FAILED) set.failure_reason = seen.failureReason ?? 'the rail reported the withdrawal failed';
        const reason = to === WithdrawalStatus.BROADCAST ? `broadcast as ${seen.txid ?? '?'}` : to === WithdrawalStatus.CONFIRMED ? 'confirmed on the network' : (set.failure_reason ?? null);
        if (!(await transitionWithdrawal(tx, w.id, from, to, { reason, actorId: null, at: this.now(), set }))) break;
        from = to;
      }
      return from;
    });
  }
}

/** The `purchases` queue's handler for withdrawal jobs (job name `withdrawal`, id = the withdrawal id). */
export function withdrawalsProcessor(executor: WithdrawalExecutor) {
  return async (job: JobInfo): Promise<void> => {
    await executor.execute(jobString(job, 'tenantId'), jobString(job, 'withdrawalId'));
  };
}
