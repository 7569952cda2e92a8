import { assertMember, assertNow, requireSecondFactor, type Member, type Role } from './member';
import { WithdrawalReason, withdrawalError } from './withdrawal-errors';

/**
 * Withdrawal states and approvals. Thresholds are in AUD cents (how a business, its policy and
 * AUSTRAC think), applied to the sats amount at the price recorded when the withdrawal is requested;
 * the requirement is a snapshot, so a later price move never changes who must approve.
 */

export enum WithdrawalStatus {
  REQUESTED = 'REQUESTED',
  APPROVED = 'APPROVED',
  SUBMITTED = 'SUBMITTED',
  BROADCAST = 'BROADCAST',
  CONFIRMED = 'CONFIRMED',
  FAILED = 'FAILED',
  CANCELLED = 'CANCELLED',
  REJECTED = 'REJECTED',
}

/** The only moves a withdrawal may make; anything else is a bug and is refused. */
export const WITHDRAWAL_TRANSITIONS: Readonly<Record<WithdrawalStatus, readonly WithdrawalStatus[]>> = {
  REQUESTED: [WithdrawalStatus.APPROVED, WithdrawalStatus.REJECTED, WithdrawalStatus.CANCELLED],
  // FAILED from APPROVED: refused before anything reached an exchange (destination disabled, gap limit, screening).
  APPROVED: [WithdrawalStatus.SUBMITTED, WithdrawalStatus.CANCELLED, WithdrawalStatus.FAILED],
  SUBMITTED: [WithdrawalStatus.BROADCAST, WithdrawalStatus.FAILED],
  // FAILED from BROADCAST: the exchange reports the transaction returned or dropped.
  BROADCAST: [WithdrawalStatus.CONFIRMED, WithdrawalStatus.FAILED],
  CONFIRMED: [],
  FAILED: [],
  CANCELLED: [],
  REJECTED: [],
};

export const TERMINAL_WITHDRAWAL_STATUSES: ReadonlySet<WithdrawalStatus> = new Set(
  (Object.keys(WITHDRAWAL_TRANSITIONS) as WithdrawalStatus[]).filter((s) => WITHDRAWAL_TRANSITIONS[s].length === 0),
);

/** Before SUBMITTED nothing has gone to an exchange: cancelling or rejecting cannot lose bitcoin. */
export const PRE_SUBMISSION: ReadonlySet<WithdrawalStatus> = new Set([WithdrawalStatus.REQUESTED, WithdrawalStatus.APPROVED]);

export const canTransition = (from: WithdrawalStatus, to: WithdrawalStatus): boolean => WITHDRAWAL_TRANSITIONS[from]?.includes(to) ?? false;

export function assertTransition(from: WithdrawalStatus, to: WithdrawalStatus): void {
  if (!canTransition(from, to)) throw withdrawalError(WithdrawalReason.INVALID_TRANSITION, `a withdrawal cannot go from ${from} to ${to}`, { from, to });
}

/**
 * The statuses to store, in order, to move `from` → `to` through forward moves only (e.g. a
 * reconciliation that finds SUBMITTED already confirmed stores BROADCAST then CONFIRMED), or null.
 */
export function forwardPath(from: WithdrawalStatus, to: WithdrawalStatus): WithdrawalStatus[] | null {
  if (from === to) return [];
  const seen = new Set<WithdrawalStatus>([from]);
  const queue: [WithdrawalStatus, WithdrawalStatus[]][] = [[from, []]];
  while (queue.length > 0) {
    const [s, path] = queue.shift() as [WithdrawalStatus, WithdrawalStatus[]];
    for (const n of WITHDRAWAL_TRANSITIONS[s]) {
      if (n === WithdrawalStatus.CANCELLED || n === WithdrawalStatus.REJECTED) continue; // never implied by an exchange
      if (n === to) return [...path, n];
      if (!seen.has(n)) {
        seen.add(n);
        queue.push([n, [...path, n]]);
      }
    }
  }
  return null;
}

// ---- amounts -------------------------------------------------------------------------------

export const MAX_SATS = 2_100_000_000_000_000n; // 21 million BTC

export type WithdrawalAmount = { kind: 'SATS'; sats: bigint } | { kind: 'ALL' };

/** `"ALL"`, a bigint or a whole-sats string ("150000"); floats, exponents, zero and negatives are refused. */
export function parseWithdrawalAmount(input: unknown): WithdrawalAmount {
  if (input === 'ALL') return { kind: 'ALL' };
  let sats: bigint;
  if (typeof input === 'bigint') sats = input;
  else if (typeof input === 'string' && /^(0|[1-9]\d{0,18})$/.test(input)) sats = BigInt(input);
  else throw withdrawalError(WithdrawalReason.INVALID_AMOUNT, 'amount must be "ALL" or a whole number of satoshis as a string', { field: 'amount' });
  if (sats <= 0n) throw withdrawalError(WithdrawalReason.INVALID_AMOUNT, 'amount must be more than zero satoshis', { field: 'amount' });
  if (sats > MAX_SATS) throw withdrawalError(WithdrawalReason.INVALID_AMOUNT, 'amount is more than 21 million bitcoin', { field: 'amount' });
  return { kind: 'SATS', sats };
}

/** An exact decimal AUD-per-BTC price as a fraction; floats never enter. */
export type Price = { text: string; numerator: bigint; denominator: bigint };

export function parsePrice(text: unknown): Price {
  if (typeof text !== 'string' || !/^(0|[1-9]\d{0,12})(\.\d{1,12})?$/.test(text)) {
    throw withdrawalError(WithdrawalReason.INVALID_PRICE, 'price must be a positive decimal AUD per BTC, like "98765.43"', { field: 'price' });
  }
  const [whole, frac = ''] = text.split('.');
  const numerator = BigInt(whole + frac);
  if (numerator === 0n) throw withdrawalError(WithdrawalReason.INVALID_PRICE, 'price must be more than zero', { field: 'price' });
  return { text, numerator, denominator: 10n ** BigInt(frac.length) };
}

/** AUD cents worth of `sats` at `price`, rounded UP: a borderline amount needs the stricter tier. */
export function satsToAudCentsCeil(sats: bigint, price: Price): bigint {
  const num = sats * price.numerator * 100n;
  const den = 100_000_000n * price.denominator;
  return (num + den - 1n) / den;
}

// ---- policies ------------------------------------------------------------------------------

/** Withdrawals worth MORE than `aboveAudCents` need `approvals` approvals from distinct members with one of `roles`. */
export type ApprovalTier = { aboveAudCents: bigint; approvals: number; roles: readonly Role[] };
export type ApprovalPolicy = { tiers: readonly ApprovalTier[] };

/** Four eyes above AUD 10,000; two owners above AUD 100,000. */
export const DEFAULT_APPROVAL_POLICY: ApprovalPolicy = {
  tiers: [
    { aboveAudCents: 1_000_000n, approvals: 1, roles: ['OWNER', 'ADMIN'] },
    { aboveAudCents: 10_000_000n, approvals: 2, roles: ['OWNER'] },
  ],
};

const APPROVER_ROLES: readonly Role[] = ['OWNER', 'ADMIN', 'USER'];
const isApproverRole = (v: unknown): boolean => APPROVER_ROLES.some((r) => r === v);
const MAX_APPROVALS = 10;

export function assertApprovalPolicy(p: unknown): asserts p is ApprovalPolicy {
  const bad = (m: string, tier?: number) =>
    withdrawalError(WithdrawalReason.INVALID_POLICY, m, tier === undefined ? { field: 'approvalPolicy' } : { field: 'approvalPolicy', tier });
  const x = p as Partial<ApprovalPolicy> | null;
  if (x === null || typeof x !== 'object' || !Array.isArray(x.tiers)) throw bad('an approval policy needs a list of tiers');
  if (x.tiers.length > 10) throw bad('at most 10 tiers');
  let prev: ApprovalTier | null = null;
  x.tiers.forEach((t: ApprovalTier, i: number) => {
    if (typeof t?.aboveAudCents !== 'bigint' || t.aboveAudCents < 0n) throw bad('aboveAudCents must be a bigint number of cents, not negative', i);
    if (!Number.isInteger(t.approvals) || t.approvals < 1 || t.approvals > MAX_APPROVALS) throw bad(`approvals must be from 1 to ${MAX_APPROVALS}`, i);
    if (!Array.isArray(t.roles) || t.roles.length === 0 || t.roles.some((r: unknown) => !isApproverRole(r))) {
      throw bad('roles must list at least one of OWNER, ADMIN, USER (a VIEWER never approves)', i);
    }
    if (new Set(t.roles).size !== t.roles.length) throw bad('roles must not repeat', i);
    if (prev) {
      if (t.aboveAudCents <= prev.aboveAudCents) throw bad('tiers must be in increasing order of threshold', i);
      if (t.approvals < prev.approvals) throw bad('a higher tier cannot need fewer approvals than a lower one', i);
    }
    prev = t;
  });
}

export type ApprovalRequirement = {
  approvals: number;
  roles: readonly Role[];
  /** The threshold of the tier that applied, or null when none did. */
  tierAboveAudCents: bigint | null;
  /** The AUD value the decision used (rounded up), or null when there was no price. */
  valueAudCents: bigint | null;
  /** The price used, as given; null when none was available and the strictest tier applied. */
  price: string | null;
};

/**
 * Who must approve a withdrawal of `sats`. Without a price the strictest tier applies (fail safe):
 * the kernel never lets a missing price feed lower the bar.
 */
export function requiredApprovals(policy: ApprovalPolicy, sats: bigint, price: string | null): ApprovalRequirement {
  assertApprovalPolicy(policy);
  if (typeof sats !== 'bigint' || sats <= 0n || sats > MAX_SATS) throw withdrawalError(WithdrawalReason.INVALID_AMOUNT, 'amount must be a positive number of satoshis', { field: 'amount' });
  const none: ApprovalRequirement = { approvals: 0, roles: [], tierAboveAudCents: null, valueAudCents: null, price };
  const top = policy.tiers.at(-1);
  if (!top) return none;
  if (price === null) {
    return { approvals: top.approvals, roles: top.roles, tierAboveAudCents: top.aboveAudCents, valueAudCents: null, price: null };
  }
  const value = satsToAudCentsCeil(sats, parsePrice(price));
  let tier: ApprovalTier | null = null;
  for (const t of policy.tiers) if (value > t.aboveAudCents) tier = t;
  if (!tier) return { ...none, valueAudCents: value };
  return { approvals: tier.approvals, roles: tier.roles, tierAboveAudCents: tier.aboveAudCents, valueAudCents: value, price };
}

/** Whether the tenant has enough eligible members besides the requester to ever satisfy `req`. */
export function canBeSatisfied(req: ApprovalRequirement, members: readonly Pick<Member, 'userId' | 'role'>[], requesterId: string): boolean {
  const eligible = new Set(members.filter((m) => m.userId !== requesterId && req.roles.includes(m.role)).map((m) => m.userId));
  return eligible.size >= req.approvals;
}

// ---- approving -----------------------------------------------------------------------------

export type Approval = { userId: string; role: Role; at: Date };

export type ApprovalState = {
  status: WithdrawalStatus;
  requestedBy: string;
  requirement: ApprovalRequirement;
  approvals: readonly Approval[];
};

export type WithdrawalTransition = { from: WithdrawalStatus; to: WithdrawalStatus; at: Date; actorId: string | null; reason: string | null };

export type ApprovalOutcome = {
  state: ApprovalState;
  /** The approval recorded (audit it), or null when none was (auto-approval). */
  approval: Approval | null;
  /** Set when this step completed the approvals: store, audit and publish it. */
  transition: WithdrawalTransition | null;
};

const approvalsMet = (s: ApprovalState): boolean => s.approvals.length >= s.requirement.approvals;

/** A withdrawal needing no approval moves to APPROVED at once (still a stored, audited transition). */
export function autoApproveIfNoneRequired(state: ApprovalState, now: Date): ApprovalOutcome {
  assertNow(now);
  if (state.status !== WithdrawalStatus.REQUESTED || !approvalsMet(state)) return { state, approval: null, transition: null };
  const transition = { from: state.status, to: WithdrawalStatus.APPROVED, at: now, actorId: null, reason: 'no approval required by the policy' };
  return { state: { ...state, status: WithdrawalStatus.APPROVED }, approval: null, transition };
}

/**
 * Records one approval. Refused: not awaiting approval (INVALID_TRANSITION), no second factor
 * (MFA_REQUIRED), the requester (SELF_APPROVAL), a second approval by the same member
 * (DUPLICATE_APPROVAL), a role the tier does not accept (ROLE_NOT_ALLOWED). Nothing changes on refusal.
 */
export function approveWithdrawal(state: ApprovalState, approver: Member, now: Date): ApprovalOutcome {
  assertMember(approver, 'approver');
  assertNow(now);
  if (state.status !== WithdrawalStatus.REQUESTED) {
    throw withdrawalError(WithdrawalReason.INVALID_TRANSITION, `this withdrawal is ${state.status}, not awaiting approval`, { status: state.status });
  }
  requireSecondFactor(approver, 'approving a withdrawal');
  if (approver.userId === state.requestedBy) throw withdrawalError(WithdrawalReason.SELF_APPROVAL, 'the member who requested a withdrawal cannot approve it');
  if (state.approvals.some((a) => a.userId === approver.userId)) {
    throw withdrawalError(WithdrawalReason.DUPLICATE_APPROVAL, 'you have already approved this withdrawal; another member must approve');
  }
  if (!state.requirement.roles.includes(approver.role)) {
    throw withdrawalError(WithdrawalReason.ROLE_NOT_ALLOWED, `this withdrawal needs approval by ${state.requirement.roles.join(' or ')}, not ${approver.role}`, {
      role: approver.role,
      roles: [...state.requirement.roles],
    });
  }
  const approval: Approval = { userId: approver.userId, role: approver.role, at: now };
  const next: ApprovalState = { ...state, approvals: [...state.approvals, approval] };
  if (!approvalsMet(next)) return { state: next, approval, transition: null };
  const transition = { from: state.status, to: WithdrawalStatus.APPROVED, at: now, actorId: approver.userId, reason: `${next.approvals.length} of ${state.requirement.approvals} approvals` };
  return { state: { ...next, status: WithdrawalStatus.APPROVED }, approval, transition };
}

/** An eligible approver (not the requester, MFA) refuses the withdrawal: REJECTED, final. */
export function rejectWithdrawal(state: ApprovalState, member: Member, now: Date, reason: string): ApprovalOutcome {
  assertMember(member, 'member');
  assertNow(now);
  assertTransition(state.status, WithdrawalStatus.REJECTED);
  requireSecondFactor(member, 'rejecting a withdrawal');
  if (member.userId === state.requestedBy) throw withdrawalError(WithdrawalReason.SELF_APPROVAL, 'the requester cancels their withdrawal instead of rejecting it');
  const roles: readonly Role[] = state.requirement.roles.length > 0 ? state.requirement.roles : ['OWNER', 'ADMIN'];
  if (!roles.includes(member.role)) throw withdrawalError(WithdrawalReason.ROLE_NOT_ALLOWED, `role ${member.role} may not reject this withdrawal`, { role: member.role });
  const why = typeof reason === 'string' ? reason.trim().slice(0, 500) : '';
  if (why.length === 0) throw withdrawalError(WithdrawalReason.REASON_REQUIRED, 'a rejection needs a reason', { field: 'reason' });
  return { state: { ...state, status: WithdrawalStatus.REJECTED }, approval: null, transition: { from: state.status, to: WithdrawalStatus.REJECTED, at: now, actorId: member.userId, reason: why } };
}

/** The requester, an OWNER or an ADMIN stops a withdrawal that has not reached an exchange. */
export function cancelWithdrawal(state: ApprovalState, member: Member, now: Date): ApprovalOutcome {
  assertMember(member, 'member');
  assertNow(now);
  assertTransition(state.status, WithdrawalStatus.CANCELLED);
  if (member.userId !== state.requestedBy && member.role !== 'OWNER' && member.role !== 'ADMIN') {
    throw withdrawalError(WithdrawalReason.ROLE_NOT_ALLOWED, `role ${member.role} may not cancel another member's withdrawal`, { role: member.role });
  }
  return { state: { ...state, status: WithdrawalStatus.CANCELLED }, approval: null, transition: { from: state.status, to: WithdrawalStatus.CANCELLED, at: now, actorId: member.userId, reason: 'cancelled' } };
}
