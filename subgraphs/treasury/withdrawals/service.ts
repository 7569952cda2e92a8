import { createHash, randomUUID } from 'node:crypto';
import { assertExchangeAllowed, kybStatus } from '../kyb/kyb-gate';
import type { Scope } from '../../../lib/access';
import { isUuid } from '../../../lib/db/tenant-context';
import type { TenantTx } from '../../../lib/db/tenant-tx';
import { AppError, ErrorCode, badInput, notFound } from '../../../lib/errors';
import { amlOperationMessage } from '../../../lib/events/aml-facts';
import { log } from '../../../lib/logger';
import { ROLES, type Role } from '../../../lib/auth/tokens';
import { isBitcoinNetwork, type BitcoinNetwork } from './address';
import {
  DEFAULT_APPROVAL_POLICY,
  WithdrawalStatus,
  approveWithdrawal,
  assertApprovalPolicy,
  autoApproveIfNoneRequired,
  cancelWithdrawal,
  rejectWithdrawal,
  parsePrice,
  parseWithdrawalAmount,
  requiredApprovals,
  satsToAudCentsCeil,
  type ApprovalPolicy,
  type ApprovalState,
} from './approvals';
import { assertAutoWithdrawRule, decideAutoWithdraw, type AutoWithdrawDecision, type AutoWithdrawRule } from './auto-withdraw';
import {
  DEFAULT_DESTINATION_POLICY,
  changeDestination,
  disableDestination,
  reenableDestination,
  confirmDestination,
  coolingOffEndsAt,
  createDestination,
  reserveWithdrawalAddress,
  usability,
  type Destination,
  type DestinationChange,
  type DestinationPolicy,
} from './destinations';
import type { Member } from './member';
import {
  auditDestinationEvent,
  insertDestination,
  loadApprovals,
  loadDestinations,
  loadPolicy,
  loadTransitions,
  loadWithdrawals,
  recordCreated,
  savePolicy,
  transitionWithdrawal,
  updateDestination,
  type ApprovalRow,
  type TransitionRow,
  type WithdrawalRow,
} from './store';
import { readTreasurySettings } from '../settings/treasury-settings';
import { travelRuleFor } from './travel-record';
import { exchangeWithdrawalRef } from './withdrawal-id';
import { XPUB_SCRIPT_TYPES, type XpubScriptType } from './xpub';

export type WithdrawalServiceOptions = {
  /** The clock of cooling-offs and approvals (tests move it). */
  now?: () => Date;
  destinationPolicy?: DestinationPolicy;
  /** The network destinations are on unless the caller names one (mainnet in production). */
  defaultNetwork?: BitcoinNetwork;
  /** The rail withdrawals are sent on; default: the tenant's primary exchange, as purchases are routed. */
  rail?: string;
  /** The latest BTC/AUD price (market-price's port) for the AUD value of the AML fact; absent: the value is 0. */
  latestPrice?: () => Promise<string | null>;
};

export type DestinationInput = { address?: string | null; xpub?: string | null; label: string; network?: string | null; scriptType?: string | null };

export type DestinationView = Destination & { coolingOffEndsAt: Date; usable: boolean };

export type WithdrawalView = {
  row: WithdrawalRow;
  approvals: ApprovalRow[];
  transitions: TransitionRow[];
};

const MAX_PAGE = 200;

/** The job that runs one approved withdrawal on the `purchases` queue (job id = the withdrawal id, via the outbox). */
export const WITHDRAWAL_JOB = 'withdrawal';

/** Address book, approval policy, requests and approvals of withdrawals (issue #13), on the withdrawals kernel. */
export class WithdrawalService {
  private readonly now: () => Date;
  private readonly policy: DestinationPolicy;
  private readonly network: BitcoinNetwork;
  private readonly rail: string | null;
  private readonly latestPrice: (() => Promise<string | null>) | null;

  constructor(opts: WithdrawalServiceOptions = {}) {
    this.latestPrice = opts.latestPrice ?? null;
    this.now = opts.now ?? (() => new Date());
    this.policy = opts.destinationPolicy ?? DEFAULT_DESTINATION_POLICY;
    this.network = opts.defaultNetwork ?? 'mainnet';
    this.rail = opts.rail ?? null;
  }

  private view(d: Destination, now: Date): DestinationView {
    return { ...d, coolingOffEndsAt: coolingOffEndsAt(d, this.policy), usable: usability(d, now, this.policy).usable };
  }

  async addDestination(scope: Scope, input: DestinationInput): Promise<DestinationView> {
    const hasAddress = typeof input.address === 'string';
    const hasXpub = typeof input.xpub === 'string';
    if (hasAddress === hasXpub) throw badInput('give exactly one of address or xpub', hasAddress ? 'xpub' : 'address');
    const network = input.network ?? this.network;
    if (!isBitcoinNetwork(network)) throw badInput('network must be mainnet, testnet or regtest', 'network');
    const scriptType = input.scriptType ?? undefined;
    if (scriptType !== undefined && !(XPUB_SCRIPT_TYPES as readonly string[]).includes(scriptType)) {
      throw badInput(`scriptType must be one of ${XPUB_SCRIPT_TYPES.join(', ')}`, 'scriptType');
    }
    const now = this.now();
    // The kernel validates everything (checksums, network, private keys refused) before anything is written.
    const { destination, event } = createDestination(
      {
        id: randomUUID(),
        label: input.label,
        kind: hasXpub ? 'XPUB' : 'ADDRESS',
        value: (hasXpub ? input.xpub : input.address) ?? '',
        network,
        ...(scriptType ? { scriptType: scriptType as XpubScriptType } : {}),
      },
      memberOf(scope),
      now,
      this.policy,
    );
    await scope.tx(async (tx) => {
      await insertDestination(tx.em, destination, coolingOffEndsAt(destination, this.policy));
      await auditDestinationEvent(tx, event);
    });
    return this.view(destination, now);
  }

  /** A second member (not the creator or last changer, a confirming role, MFA) confirms a destination. */
  async confirmDestination(scope: Scope, id: string): Promise<DestinationView> {
    const now = this.now();
    return scope.tx(async (tx) => {
      const d = await this.lockDestination(tx, id);
      const { destination, event } = confirmDestination(d, memberOf(scope), now, this.policy);
      if (!(await updateDestination(tx.em, d.version, destination, coolingOffEndsAt(destination, this.policy)))) throw changedMeanwhile();
      await auditDestinationEvent(tx, event);
      return this.view(destination, now);
    });
  }

  async destinations(scope: Scope): Promise<DestinationView[]> {
    const now = this.now();
    const all = await scope.tx(({ em }) => loadDestinations(em, null));
    return all.map((d) => this.view(d, now));
  }

  async destinationsById(scope: Scope, ids: readonly string[]): Promise<Map<string, DestinationView>> {
    const now = this.now();
    const valid = ids.filter(isUuid);
    const found = valid.length === 0 ? [] : await scope.tx(({ em }) => loadDestinations(em, valid));
    return new Map(found.map((d) => [d.id, this.view(d, now)]));
  }

  async approvalPolicy(scope: Scope): Promise<ApprovalPolicy> {
    return scope.tx(({ em }) => loadPolicy(em, DEFAULT_APPROVAL_POLICY));
  }

  /** One tier: withdrawals worth more than `thresholdAudCents` need `approvalsRequired` approvals by members with `roles`. */
  async setPolicy(scope: Scope, thresholdAudCents: bigint, approvalsRequired: number, roles: readonly string[]): Promise<ApprovalPolicy> {
    if (!roles.every((r): r is Role => (ROLES as readonly string[]).includes(r))) throw badInput('roles must be OWNER, ADMIN or USER', 'roles');
    const policy: ApprovalPolicy = { tiers: [{ aboveAudCents: thresholdAudCents, approvals: approvalsRequired, roles: roles }] };
    assertApprovalPolicy(policy);
    const now = this.now();
    await scope.tx(async (tx) => {
      await savePolicy(tx.em, policy, scope.userId, now);
      await tx.audit({
        eventType: 'withdrawal_policy.updated',
        actorId: scope.userId,
        subjectType: 'WithdrawalPolicy',
        subjectId: scope.tenantId,
        data: { thresholdAudCents: thresholdAudCents.toString(), approvalsRequired, roles: [...roles] },
      });
    });
    return policy;
  }

  /**
   * Requests a withdrawal of `satoshis` ("ALL": the whole available balance) to a usable destination,
   * idempotent per tenant like requestPurchase. The destination's next derived address is reserved now.
   */
  async request(scope: Scope, satoshis: string, destinationId: string, idempotencyKey: string): Promise<WithdrawalView> {
    const key = idempotencyKey.trim();
    if (key.length < 8 || key.length > 255 || !/^[\x21-\x7e]+$/.test(key)) throw badInput('idempotencyKey must be 8 to 255 printable characters', 'idempotencyKey');
    const amount = parseWithdrawalAmount(satoshis);
    if (!isUuid(destinationId)) throw notFound('withdrawal destination');
    const requestHash = createHash('sha256').update(JSON.stringify({ satoshis, destinationId: destinationId.toLowerCase() })).digest('hex');
    const now = this.now();
    // Read before the transaction: a slow price source never holds the tenant's locks.
    const price = await this.price();
    const id = await scope.tx(async (tx) => {
      const { em } = tx;
      const [prior] = await em.execute<{ id: string; request_hash: string }[]>(`select id, request_hash from withdrawal where idempotency_key = ?`, [key]);
      if (prior) {
        if (prior.request_hash !== requestHash) {
          throw new AppError(ErrorCode.CONFLICT, 'this idempotencyKey was used with different parameters', { reason: 'IDEMPOTENCY_KEY_REUSED' });
        }
        return prior.id;
      }
      const d = await this.lockDestination(tx, destinationId);
      const rail = this.rail ?? (await readTreasurySettings(em)).primaryExchange;
      if (!(WITHDRAWAL_RAILS as readonly string[]).includes(rail)) {
        throw new AppError(ErrorCode.CONFLICT, `withdrawals are not available on ${rail}; choose paper, kraken or swyftx as the primary exchange`, { reason: 'NO_WITHDRAWAL_RAIL', exchange: rail });
      }
      // AML/CTF (#11): a withdrawal from a real exchange waits for the tenant's KYB verification (paper stays open).
      await assertExchangeAllowed(em, rail, 'WITHDRAWAL');
      const available = await availableSats(tx, rail);
      const sats = amount.kind === 'ALL' ? available : amount.sats;
      if (sats <= 0n || sats > available) {
        throw new AppError(ErrorCode.CONFLICT, `the available balance is ${available} sats`, { reason: 'INSUFFICIENT_BALANCE', availableSats: available.toString() });
      }
      // Refuses a destination still cooling off, unconfirmed or disabled; consumes the next derived index.
      const reserved = reserveWithdrawalAddress(d, now, this.policy);
      if (reserved.event) {
        if (!(await updateDestination(em, d.version, reserved.destination, coolingOffEndsAt(reserved.destination, this.policy)))) throw changedMeanwhile();
        await auditDestinationEvent(tx, reserved.event);
      }
      const policy = await loadPolicy(em, DEFAULT_APPROVAL_POLICY);
      // No price feed here: the kernel applies the strictest tier (a missing price never lowers the bar).
      const requirement = requiredApprovals(policy, sats, null);
      const wid = randomUUID();
      await insertWithdrawal(tx, {
        id: wid,
        destination: d,
        sats,
        requestedAll: amount.kind === 'ALL',
        address: reserved.reservation.address,
        derivationIndex: reserved.reservation.index,
        idempotencyKey: key,
        requestHash,
        requestedBy: scope.userId,
        approvals: requirement.approvals,
        roles: requirement.roles,
        rail,
        autoPeriod: null,
        now,
        tenantId: scope.tenantId,
        price,
      });
      const auto = autoApproveIfNoneRequired(stateOf({ status: WithdrawalStatus.REQUESTED, requested_by: scope.userId, approvals_required: requirement.approvals, approver_roles: [...requirement.roles] }, []), now);
      if (auto.transition) await this.approved(tx, wid, auto.transition.reason, null, now);
      return wid;
    });
    return this.requireOne(scope, id);
  }

  /** One approval by a distinct member with an allowed role and a second factor; the last one needed approves it. */
  async approve(scope: Scope, id: string): Promise<WithdrawalView> {
    if (!isUuid(id)) throw notFound('withdrawal');
    const now = this.now();
    await scope.tx(async (tx) => {
      const [row] = await loadWithdrawals(tx.em, [id], { forUpdate: true });
      if (!row) throw notFound('withdrawal');
      const approvals = await loadApprovals(tx.em, [id]);
      const outcome = approveWithdrawal(stateOf(row, approvals), memberOf(scope), now);
      const approval = outcome.approval;
      if (!approval) return;
      await tx.em.execute(`insert into withdrawal_approval (withdrawal_id, user_id, role, at) values (?, ?, ?, ?)`, [id, approval.userId, approval.role, approval.at]);
      await tx.audit({
        eventType: 'withdrawal.approval',
        actorId: scope.userId,
        subjectType: 'Withdrawal',
        subjectId: id,
        data: { role: approval.role, approvals: outcome.state.approvals.length, required: row.approvals_required },
      });
      if (outcome.transition) await this.approved(tx, id, outcome.transition.reason, scope.userId, now);
    });
    return this.requireOne(scope, id);
  }

  /** REQUESTED → APPROVED, and the execution job through the outbox (job id = withdrawal id: enqueued once). */
  private async approved(tx: TenantTx, id: string, reason: string | null, actorId: string | null, at: Date): Promise<void> {
    if (!(await transitionWithdrawal(tx, id, WithdrawalStatus.REQUESTED, WithdrawalStatus.APPROVED, { reason, actorId, at }))) throw changedMeanwhile();
    await tx.outbox({ queue: 'purchases', jobName: WITHDRAWAL_JOB, payload: { withdrawalId: id }, id });
  }

  /** A member allowed to approve (not the requester, MFA) turns the request down with a reason: REQUESTED → REJECTED. */
  async reject(scope: Scope, id: string, reason: string): Promise<WithdrawalView> {
    if (!isUuid(id)) throw notFound('withdrawal');
    const now = this.now();
    await scope.tx(async (tx) => {
      const [row] = await loadWithdrawals(tx.em, [id], { forUpdate: true });
      if (!row) throw notFound('withdrawal');
      const outcome = rejectWithdrawal(stateOf(row, await loadApprovals(tx.em, [id])), memberOf(scope), now, reason);
      const t = outcome.transition;
      if (!t || !(await transitionWithdrawal(tx, id, t.from, t.to, { reason: t.reason, actorId: scope.userId, at: now, set: { failure_reason: t.reason } }))) throw changedMeanwhile();
    });
    return this.requireOne(scope, id);
  }

  /** The requester, an OWNER or an ADMIN stops a withdrawal before it reached an exchange: REQUESTED | APPROVED → CANCELLED. */
  async cancel(scope: Scope, id: string): Promise<WithdrawalView> {
    if (!isUuid(id)) throw notFound('withdrawal');
    const now = this.now();
    await scope.tx(async (tx) => {
      // The executor takes the same row lock to move APPROVED → SUBMITTED: one of the two wins, never both.
      const [row] = await loadWithdrawals(tx.em, [id], { forUpdate: true });
      if (!row) throw notFound('withdrawal');
      const t = cancelWithdrawal(stateOf(row, []), memberOf(scope), now).transition;
      if (!t || !(await transitionWithdrawal(tx, id, t.from, t.to, { reason: t.reason, actorId: scope.userId, at: now }))) throw changedMeanwhile();
    });
    return this.requireOne(scope, id);
  }

  /** Disables a destination (no further withdrawals go there; those already approved fail before sending). */
  disableDestination(scope: Scope, id: string): Promise<DestinationView> {
    return this.changeDestinationWith(scope, id, (d, m, now) => disableDestination(d, m, now, this.policy));
  }

  /** Re-enables a disabled destination: a fresh cooling-off and a second member's confirmation again. */
  reenableDestination(scope: Scope, id: string): Promise<DestinationView> {
    return this.changeDestinationWith(scope, id, (d, m, now) => reenableDestination(d, m, now, this.policy));
  }

  /** A new label; like any change it restarts the cooling-off and needs a new confirmation. */
  renameDestination(scope: Scope, id: string, label: string): Promise<DestinationView> {
    return this.changeDestinationWith(scope, id, (d, m, now) => changeDestination(d, { label }, m, now, this.policy));
  }

  private async changeDestinationWith(scope: Scope, id: string, change: (d: Destination, m: Member, now: Date) => DestinationChange): Promise<DestinationView> {
    const now = this.now();
    return scope.tx(async (tx) => {
      const d = await this.lockDestination(tx, id);
      const { destination, event } = change(d, memberOf(scope), now);
      if (!(await updateDestination(tx.em, d.version, destination, coolingOffEndsAt(destination, this.policy)))) throw changedMeanwhile();
      await auditDestinationEvent(tx, event);
      return this.view(destination, now);
    });
  }

  async autoWithdrawPolicy(scope: Scope): Promise<AutoWithdrawPolicy | null> {
    return scope.tx(({ em }) => loadAutoPolicy(em));
  }

  /**
   * The auto-withdraw policy: when the available balance on the tenant's exchange is at least
   * `thresholdSats`, everything above `keepSats` goes to the next derived address of an XPUB
   * destination, only when the fee (`feeSatPerKvB` × the withdrawal's size) is at most
   * `maxFeeShareBps` of it. Setting it is the approval of the withdrawals it makes (MFA, audited).
   */
  async setAutoWithdrawPolicy(scope: Scope, input: Omit<AutoWithdrawPolicy, 'updatedBy' | 'updatedAt'>): Promise<AutoWithdrawPolicy> {
    if (!isUuid(input.destinationId)) throw notFound('withdrawal destination');
    assertAutoWithdrawRule(ruleOf(input));
    if (input.feeSatPerKvB < 0n) throw badInput('feeSatPerKvB must not be negative', 'feeSatPerKvB');
    const now = this.now();
    return scope.tx(async (tx) => {
      const d = await this.lockDestination(tx, input.destinationId);
      if (d.kind !== 'XPUB') throw badInput('auto-withdraw pays the next derived address: choose an XPUB destination', 'destinationId');
      const policy: AutoWithdrawPolicy = { ...input, updatedBy: scope.userId, updatedAt: now };
      await saveAutoPolicy(tx.em, policy);
      await tx.audit({
        eventType: 'withdrawal_auto_policy.updated',
        actorId: scope.userId,
        subjectType: 'WithdrawalAutoPolicy',
        subjectId: scope.tenantId,
        data: {
          enabled: input.enabled,
          destinationId: input.destinationId,
          thresholdSats: input.thresholdSats.toString(),
          keepSats: input.keepSats.toString(),
          maxFeeShareBps: input.maxFeeShareBps,
          feeSatPerKvB: input.feeSatPerKvB.toString(),
        },
      });
      return policy;
    });
  }

  /**
   * One auto-withdraw evaluation for `period` (the scheduler's job): the kernel decides on the
   * available balance and fee; a withdrawal is made at most once per tenant and period (unique
   * `auto_period`), pre-approved by the policy, and enqueued like an approved one.
   */
  async runAutoWithdraw(tx: TenantTx, period: string): Promise<AutoWithdrawDecision | { withdraw: false; reason: 'NO_POLICY' | 'ALREADY_DONE' | 'DESTINATION_NOT_USABLE' | 'NO_WITHDRAWAL_RAIL' | 'KYB_NOT_VERIFIED' }> {
    const { em } = tx;
    const policy = await loadAutoPolicy(em);
    if (!policy) return { withdraw: false, reason: 'NO_POLICY' };
    const [done] = await em.execute<{ id: string }[]>(`select id from withdrawal where auto_period = ?`, [period]);
    if (done) return { withdraw: false, reason: 'ALREADY_DONE' };
    const rail = this.rail ?? (await readTreasurySettings(em)).primaryExchange;
    if (!(WITHDRAWAL_RAILS as readonly string[]).includes(rail)) return { withdraw: false, reason: 'NO_WITHDRAWAL_RAIL' };
    if (rail !== 'paper' && (await kybStatus(em)) !== 'VERIFIED') return { withdraw: false, reason: 'KYB_NOT_VERIFIED' };
    const [d] = await loadDestinations(em, [policy.destinationId], true);
    const now = this.now();
    if (!d || d.kind !== 'XPUB' || !usability(d, now, this.policy).usable) return { withdraw: false, reason: 'DESTINATION_NOT_USABLE' };
    const [open] = await em.execute<{ n: string }[]>(`select count(*)::text as n from withdrawal where rail = ? and status in ('REQUESTED', 'APPROVED', 'SUBMITTED', 'BROADCAST')`, [rail]);
    const decision = decideAutoWithdraw({
      rule: ruleOf(policy),
      balanceSats: await availableSats(tx, rail),
      fee: { kind: 'RATE', satPerKvB: policy.feeSatPerKvB },
      // Kraken (and the paper exchange, which follows it) take the fee out of the amount; Swyftx adds it on top.
      feeCharging: rail === 'swyftx' ? 'ON_TOP' : 'FROM_AMOUNT',
      destinationType: d.scriptType === 'P2PKH' ? 'P2PKH' : d.scriptType === 'P2SH_P2WPKH' ? 'P2SH' : 'P2WPKH',
      inFlight: Number(open?.n ?? '0') > 0,
    });
    if (!decision.withdraw) return decision;
    const reserved = reserveWithdrawalAddress(d, now, this.policy);
    if (reserved.event) {
      if (!(await updateDestination(em, d.version, reserved.destination, coolingOffEndsAt(reserved.destination, this.policy)))) throw changedMeanwhile();
      await auditDestinationEvent(tx, reserved.event);
    }
    const wid = randomUUID();
    await insertWithdrawal(tx, {
      id: wid,
      destination: d,
      sats: decision.amountSats,
      requestedAll: false,
      address: reserved.reservation.address,
      derivationIndex: reserved.reservation.index,
      idempotencyKey: `auto:${period}`,
      requestHash: createHash('sha256').update(`auto:${period}`).digest('hex'),
      requestedBy: policy.updatedBy,
      approvals: 0,
      roles: [],
      rail,
      autoPeriod: period,
      now,
      tenantId: tx.tenantId,
      price: await this.price(),
    });
    await this.approved(tx, wid, `pre-approved by the auto-withdraw policy set by ${policy.updatedBy} (fee ${decision.feeSats} sats, ${decision.feeShareBps} bps)`, null, now);
    return decision;
  }

  async list(scope: Scope, limit: number): Promise<WithdrawalView[]> {
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw badInput(`limit must be between 1 and ${MAX_PAGE}`, 'limit');
    return scope.tx(async ({ em }) => withDetails(em, await loadWithdrawals(em, null, { limit })));
  }

  async get(scope: Scope, id: string): Promise<WithdrawalView | null> {
    if (!isUuid(id)) return null;
    const [one] = await scope.tx(async ({ em }) => withDetails(em, await loadWithdrawals(em, [id])));
    return one ?? null;
  }

  private async requireOne(scope: Scope, id: string): Promise<WithdrawalView> {
    const w = await this.get(scope, id);
    if (!w) throw notFound('withdrawal');
    return w;
  }

  /** The latest price if one is known and well-formed; otherwise null (the AML fact then carries A$0, see the AML README). */
  private async price(): Promise<string | null> {
    if (!this.latestPrice) return null;
    try {
      const text = await this.latestPrice();
      if (text === null) return null;
      parsePrice(text);
      return text;
    } catch (err) {
      log().warn({ err: (err as Error).message }, 'no price for the withdrawal AML value');
      return null;
    }
  }

  private async lockDestination(tx: TenantTx, id: string): Promise<Destination> {
    if (!isUuid(id)) throw notFound('withdrawal destination');
    const [d] = await loadDestinations(tx.em, [id], true);
    if (!d) throw notFound('withdrawal destination');
    return d;
  }
}

const memberOf = (scope: Scope): Member => ({ userId: scope.userId, role: scope.role, amr: scope.amr });

const changedMeanwhile = (): AppError => new AppError(ErrorCode.CONFLICT, 'it was changed meanwhile; try again', { reason: 'CONCURRENT_CHANGE' });

function stateOf(row: Pick<WithdrawalRow, 'status' | 'requested_by' | 'approvals_required' | 'approver_roles'>, approvals: readonly ApprovalRow[]): ApprovalState {
  return {
    status: row.status,
    requestedBy: row.requested_by,
    requirement: { approvals: row.approvals_required, roles: row.approver_roles, tierAboveAudCents: null, valueAudCents: null, price: null },
    approvals: approvals.map((a) => ({ userId: a.user_id, role: a.role, at: new Date(a.at) })),
  };
}

/** The exchanges a withdrawal can be sent from (each has a rail: paper, and the documented Kraken and Swyftx APIs). */
export const WITHDRAWAL_RAILS = ['paper', 'kraken', 'swyftx'] as const;

/** What may still be withdrawn from one exchange: its holdings less every withdrawal from it not failed, cancelled or rejected. */
export async function availableSats(tx: Pick<TenantTx, 'em'>, rail: string): Promise<bigint> {
  const [r] = await tx.em.execute<{ held: string; out: string }[]>(
    `select (select coalesce(sum(sats), 0) from holding where exchange = ?)::text as held,
            (select coalesce(sum(sats), 0) from withdrawal where rail = ? and status not in ('FAILED', 'CANCELLED', 'REJECTED'))::text as out`,
    [rail, rail],
  );
  return r ? BigInt(r.held) - BigInt(r.out) : 0n;
}

async function withDetails(em: TenantTx['em'], rows: WithdrawalRow[]): Promise<WithdrawalView[]> {
  const ids = rows.map((r) => r.id);
  const approvals = await loadApprovals(em, ids);
  const transitions = await loadTransitions(em, ids);
  return rows.map((row) => ({ row, approvals: approvals.filter((a) => a.withdrawal_id === row.id), transitions: transitions.filter((t) => t.withdrawal_id === row.id) }));
}

export type AutoWithdrawPolicy = {
  enabled: boolean;
  destinationId: string;
  thresholdSats: bigint;
  keepSats: bigint;
  maxFeeShareBps: number;
  feeSatPerKvB: bigint;
  updatedBy: string;
  updatedAt: Date;
};

const ruleOf = (p: Pick<AutoWithdrawPolicy, 'enabled' | 'thresholdSats' | 'keepSats' | 'maxFeeShareBps'>): AutoWithdrawRule => ({
  enabled: p.enabled,
  thresholdSats: p.thresholdSats,
  amount: { kind: 'ALL_ABOVE_KEEP', keepSats: p.keepSats },
  maxFeeShareBps: p.maxFeeShareBps,
  minWithdrawalSats: 0n,
});

type AutoPolicyRow = { enabled: boolean; destination_id: string; threshold_sats: string; keep_sats: string; max_fee_share_bps: number; fee_sat_per_kvb: string; updated_by: string; updated_at: Date };

async function loadAutoPolicy(em: TenantTx['em']): Promise<AutoWithdrawPolicy | null> {
  const [r] = await em.execute<AutoPolicyRow[]>(
    `select enabled, destination_id, threshold_sats::text as threshold_sats, keep_sats::text as keep_sats, max_fee_share_bps, fee_sat_per_kvb::text as fee_sat_per_kvb, updated_by, updated_at from withdrawal_auto_policy`,
  );
  return r
    ? {
        enabled: r.enabled,
        destinationId: r.destination_id,
        thresholdSats: BigInt(r.threshold_sats),
        keepSats: BigInt(r.keep_sats),
        maxFeeShareBps: r.max_fee_share_bps,
        feeSatPerKvB: BigInt(r.fee_sat_per_kvb),
        updatedBy: r.updated_by,
        updatedAt: new Date(r.updated_at),
      }
    : null;
}

async function saveAutoPolicy(em: TenantTx['em'], p: AutoWithdrawPolicy): Promise<void> {
  await em.execute(
    `insert into withdrawal_auto_policy (enabled, destination_id, threshold_sats, keep_sats, max_fee_share_bps, fee_sat_per_kvb, updated_by, updated_at) values (?, ?, ?, ?, ?, ?, ?, ?)
     on conflict (tenant_id) do update set enabled = excluded.enabled, destination_id = excluded.destination_id, threshold_sats = excluded.threshold_sats,
       keep_sats = excluded.keep_sats, max_fee_share_bps = excluded.max_fee_share_bps, fee_sat_per_kvb = excluded.fee_sat_per_kvb, updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
    [p.enabled, p.destinationId, p.thresholdSats.toString(), p.keepSats.toString(), p.maxFeeShareBps, p.feeSatPerKvB.toString(), p.updatedBy, p.updatedAt],
  );
}

type NewWithdrawal = {
  id: string;
  tenantId: string;
  destination: Destination;
  sats: bigint;
  requestedAll: boolean;
  address: string;
  derivationIndex: number | null;
  idempotencyKey: string;
  requestHash: string;
  requestedBy: string;
  approvals: number;
  roles: readonly Role[];
  rail: string;
  autoPeriod: string | null;
  now: Date;
  /** The latest BTC/AUD price when the request was made, or null. */
  price: string | null;
};

/** The monitoring rules' networks: regtest shares testnet's base58 prefixes and is a test network too. */
const amlNetworkOf = (n: BitcoinNetwork): 'bitcoin' | 'bitcoin-testnet' => (n === 'mainnet' ? 'bitcoin' : 'bitcoin-testnet');

/** The withdrawal row with its travel-rule record and first transition (audited, published), in the caller's transaction. */
async function insertWithdrawal(tx: TenantTx, w: NewWithdrawal): Promise<void> {
  const d = w.destination;
  // The tenant's registered name from the platform's tenant list (the travel rule's originator and beneficiary).
  const [t] = await tx.em.execute<{ name: string }[]>(`select name from public.tenant where id = ?`, [w.tenantId]);
  const travelRule = travelRuleFor({ id: w.id, tenantId: w.tenantId, tenantName: t?.name ?? null, address: w.address, sats: w.sats, rail: w.rail, now: w.now }, d);
  await tx.em.execute(
    `insert into withdrawal (id, destination_id, sats, requested_all, address, derivation_index, status, idempotency_key, request_hash, requested_by,
       approvals_required, approver_roles, price, rail, client_id, travel_rule, auto_period, created_at, updated_at)
     values (?, ?, ?, ?, ?, ?, 'REQUESTED', ?, ?, ?, ?, ?::text[], null, ?, ?, ?::jsonb, ?, ?, ?)`,
    [
      w.id,
      d.id,
      w.sats.toString(),
      w.requestedAll,
      w.address,
      w.derivationIndex,
      w.idempotencyKey,
      w.requestHash,
      w.requestedBy,
      w.approvals,
      `{${w.roles.join(',')}}`,
      w.rail,
      exchangeWithdrawalRef(w.id),
      JSON.stringify(travelRule),
      w.autoPeriod,
      w.now,
      w.now,
    ],
  );
  await recordCreated(tx, w.id, w.requestedBy, w.now, {
    satoshis: w.sats.toString(),
    requestedAll: w.requestedAll,
    destinationId: d.id,
    address: w.address,
    derivationIndex: w.derivationIndex,
    approvalsRequired: w.approvals,
    approverRoles: [...w.roles],
    ...(w.autoPeriod ? { autoPeriod: w.autoPeriod } : {}),
  });
  // AML monitoring (#11): every withdrawal with its destination (SCREENED_DESTINATION, NEW_DESTINATION), committed with the request;
  // its AUD value at the latest price, rounded up, or 0 when no price is known.
  const value = w.price === null ? 0n : satsToAudCentsCeil(w.sats, parsePrice(w.price));
  await tx.outbox(
    amlOperationMessage({
      version: 1,
      tenantId: w.tenantId,
      id: w.id,
      kind: 'WITHDRAWAL',
      amountAudCents: value.toString(),
      at: w.now.toISOString(),
      destination: { address: w.address, network: amlNetworkOf(d.network) },
    }),
  );
}
