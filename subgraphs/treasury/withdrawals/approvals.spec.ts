import fc from 'fast-check';
import {
  DEFAULT_APPROVAL_POLICY,
  PRE_SUBMISSION,
  TERMINAL_WITHDRAWAL_STATUSES,
  WITHDRAWAL_TRANSITIONS,
  WithdrawalStatus,
  approveWithdrawal,
  assertTransition,
  autoApproveIfNoneRequired,
  canBeSatisfied,
  cancelWithdrawal,
  forwardPath,
  parsePrice,
  parseWithdrawalAmount,
  rejectWithdrawal,
  requiredApprovals,
  satsToAudCentsCeil,
  type ApprovalPolicy,
  type ApprovalState,
} from './approvals';
import type { Member } from './member';
import { withdrawalReasonOf } from './withdrawal-errors';

const reason = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    return withdrawalReasonOf(e) ?? `untyped: ${String(e)}`;
  }
  return undefined;
};

const now = new Date('2026-03-02T09:00:00Z');
const m = (userId: string, role: Member['role'], mfa = true): Member => ({ userId, role, amr: mfa ? ['pwd', 'otp'] : ['pwd'] });
const alice = m('alice', 'OWNER');
const bob = m('bob', 'OWNER');
const carol = m('carol', 'ADMIN');
const dave = m('dave', 'USER');

const policy: ApprovalPolicy = {
  tiers: [
    { aboveAudCents: 1_000_000n, approvals: 1, roles: ['OWNER', 'ADMIN'] },
    { aboveAudCents: 10_000_000n, approvals: 2, roles: ['OWNER'] },
  ],
};
const PRICE = '100000.00'; // AUD 100,000 per BTC: 1 BTC = 10,000,000 cents

const stateFor = (sats: bigint, requestedBy = 'alice', price: string | null = PRICE): ApprovalState => ({
  status: WithdrawalStatus.REQUESTED,
  requestedBy,
  requirement: requiredApprovals(policy, sats, price),
  approvals: [],
});

describe('the state machine as data', () => {
  it('matches the issue: REQUESTED → APPROVED → SUBMITTED → BROADCAST → CONFIRMED | FAILED, CANCELLED/REJECTED only before SUBMITTED', () => {
    expect(WITHDRAWAL_TRANSITIONS).toEqual({
      REQUESTED: ['APPROVED', 'REJECTED', 'CANCELLED'],
      APPROVED: ['SUBMITTED', 'CANCELLED', 'FAILED'],
      SUBMITTED: ['BROADCAST', 'FAILED'],
      BROADCAST: ['CONFIRMED', 'FAILED'],
      CONFIRMED: [],
      FAILED: [],
      CANCELLED: [],
      REJECTED: [],
    });
    expect([...TERMINAL_WITHDRAWAL_STATUSES].sort()).toEqual(['CANCELLED', 'CONFIRMED', 'FAILED', 'REJECTED']);
    for (const [from, tos] of Object.entries(WITHDRAWAL_TRANSITIONS)) {
      if (tos.includes(WithdrawalStatus.CANCELLED) || tos.includes(WithdrawalStatus.REJECTED)) expect(PRE_SUBMISSION.has(from as WithdrawalStatus)).toBe(true);
    }
  });

  it('refuses any move not in the table', () => {
    expect(reason(() => assertTransition(WithdrawalStatus.SUBMITTED, WithdrawalStatus.CANCELLED))).toBe('INVALID_TRANSITION');
    expect(reason(() => assertTransition(WithdrawalStatus.CONFIRMED, WithdrawalStatus.FAILED))).toBe('INVALID_TRANSITION');
    expect(reason(() => assertTransition(WithdrawalStatus.REQUESTED, WithdrawalStatus.SUBMITTED))).toBe('INVALID_TRANSITION');
  });

  it('forwardPath gives the stored steps a reconciliation needs, never through CANCELLED/REJECTED', () => {
    expect(forwardPath(WithdrawalStatus.SUBMITTED, WithdrawalStatus.CONFIRMED)).toEqual(['BROADCAST', 'CONFIRMED']);
    expect(forwardPath(WithdrawalStatus.SUBMITTED, WithdrawalStatus.FAILED)).toEqual(['FAILED']);
    expect(forwardPath(WithdrawalStatus.BROADCAST, WithdrawalStatus.SUBMITTED)).toBeNull();
    expect(forwardPath(WithdrawalStatus.REQUESTED, WithdrawalStatus.CANCELLED)).toBeNull();
    expect(forwardPath(WithdrawalStatus.CONFIRMED, WithdrawalStatus.CONFIRMED)).toEqual([]);
  });
});

describe('amounts and prices are exact', () => {
  it('parses ALL and whole sats; refuses floats, zero, negatives, exponents', () => {
    expect(parseWithdrawalAmount('ALL')).toEqual({ kind: 'ALL' });
    expect(parseWithdrawalAmount('150000')).toEqual({ kind: 'SATS', sats: 150000n });
    expect(parseWithdrawalAmount(5n)).toEqual({ kind: 'SATS', sats: 5n });
    for (const bad of ['0', '-1', '1.5', '1e5', ' 1', 1500, 'all', '', null, '2100000000000000001']) expect(reason(() => parseWithdrawalAmount(bad))).toBe('INVALID_AMOUNT');
  });

  it('converts sats to AUD cents rounding up', () => {
    const p = parsePrice('98765.43');
    expect(satsToAudCentsCeil(100_000_000n, p)).toBe(9_876_543n);
    expect(satsToAudCentsCeil(1n, p)).toBe(1n); // 0.0987… cents rounds up to 1
    expect(satsToAudCentsCeil(0n, p)).toBe(0n);
    for (const bad of ['0', '-1', '1e5', 'abc', '', 98765.43]) expect(reason(() => parsePrice(bad))).toBe('INVALID_PRICE');
  });
});

describe('tiers', () => {
  it('picks the tier whose threshold the AUD value exceeds (strictly above)', () => {
    expect(requiredApprovals(policy, 10_000_000n, PRICE)).toMatchObject({ approvals: 0, valueAudCents: 1_000_000n }); // exactly AUD 10,000
    expect(requiredApprovals(policy, 10_000_001n, PRICE)).toMatchObject({ approvals: 1, roles: ['OWNER', 'ADMIN'], tierAboveAudCents: 1_000_000n });
    expect(requiredApprovals(policy, 100_000_001n, PRICE)).toMatchObject({ approvals: 2, roles: ['OWNER'], price: PRICE });
  });

  it('without a price the strictest tier applies', () => {
    expect(requiredApprovals(policy, 1n, null)).toMatchObject({ approvals: 2, roles: ['OWNER'], valueAudCents: null, price: null });
  });

  it('refuses malformed policies', () => {
    const bad: unknown[] = [
      null,
      { tiers: [{ aboveAudCents: 100, approvals: 1, roles: ['OWNER'] }] },
      { tiers: [{ aboveAudCents: 100n, approvals: 0, roles: ['OWNER'] }] },
      { tiers: [{ aboveAudCents: 100n, approvals: 1, roles: ['VIEWER'] }] },
      { tiers: [{ aboveAudCents: 100n, approvals: 1, roles: [] }] },
      { tiers: [{ aboveAudCents: 100n, approvals: 2, roles: ['OWNER'] }, { aboveAudCents: 50n, approvals: 3, roles: ['OWNER'] }] },
      { tiers: [{ aboveAudCents: 100n, approvals: 2, roles: ['OWNER'] }, { aboveAudCents: 500n, approvals: 1, roles: ['OWNER'] }] },
    ];
    for (const p of bad) expect(reason(() => requiredApprovals(p as ApprovalPolicy, 1n, PRICE))).toBe('INVALID_POLICY');
    expect(reason(() => requiredApprovals(DEFAULT_APPROVAL_POLICY, 1n, PRICE))).toBeUndefined();
  });

  it('tells whether a tenant can ever satisfy a requirement', () => {
    const req = requiredApprovals(policy, 200_000_000n, PRICE); // 2 OWNERs
    expect(canBeSatisfied(req, [alice, bob, carol], 'alice')).toBe(false);
    expect(canBeSatisfied(req, [alice, bob, carol, m('erin', 'OWNER')], 'alice')).toBe(true);
  });

  it('more value never needs fewer approvals (property)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 10n ** 12n }), fc.bigInt({ min: 1n, max: 10n ** 12n }), (a, b) => {
        const [lo, hi] = a < b ? [a, b] : [b, a];
        expect(requiredApprovals(policy, hi, PRICE).approvals).toBeGreaterThanOrEqual(requiredApprovals(policy, lo, PRICE).approvals);
      }),
    );
  });
});

describe('approvals by the wrong people are refused, and change nothing', () => {
  const big = () => stateFor(200_000_000n); // 2 BTC = AUD 200,000 → 2 OWNER approvals

  it('the requester cannot approve their own withdrawal', () => {
    expect(reason(() => approveWithdrawal(big(), alice, now))).toBe('SELF_APPROVAL');
  });
  it('the same member cannot approve twice', () => {
    const s = approveWithdrawal(big(), bob, now).state;
    expect(s.status).toBe('REQUESTED');
    expect(reason(() => approveWithdrawal(s, bob, now))).toBe('DUPLICATE_APPROVAL');
  });
  it('a role outside the tier is refused', () => {
    expect(reason(() => approveWithdrawal(big(), carol, now))).toBe('ROLE_NOT_ALLOWED'); // ADMIN, tier needs OWNER
    expect(reason(() => approveWithdrawal(stateFor(20_000_000n), dave, now))).toBe('ROLE_NOT_ALLOWED'); // USER
  });
  it('an approval without MFA is refused with MFA_REQUIRED', () => {
    let err: unknown;
    try {
      approveWithdrawal(big(), m('bob', 'OWNER', false), now);
    } catch (e) {
      err = e;
    }
    expect(withdrawalReasonOf(err)).toBe('MFA_REQUIRED');
    expect((err as { extensions: { code: string } }).extensions.code).toBe('MFA_REQUIRED');
  });
  it('approving something no longer awaiting approval is an INVALID_TRANSITION', () => {
    expect(reason(() => approveWithdrawal({ ...big(), status: WithdrawalStatus.SUBMITTED }, bob, now))).toBe('INVALID_TRANSITION');
  });
  it('a refused approval leaves the state untouched', () => {
    const s = big();
    const snapshot = (): string => JSON.stringify(s, (_k: string, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    const before = snapshot();
    for (const who of [alice, carol, m('bob', 'OWNER', false)]) reason(() => approveWithdrawal(s, who, now));
    expect(snapshot()).toBe(before);
  });
});

describe('approvals by the right people', () => {
  it('N distinct eligible members move it to APPROVED, with one stored transition', () => {
    const s1 = approveWithdrawal(stateFor(200_000_000n), bob, now);
    expect(s1).toMatchObject({ transition: null, approval: { userId: 'bob', role: 'OWNER' } });
    const erin = m('erin', 'OWNER');
    const s2 = approveWithdrawal(s1.state, erin, now);
    expect(s2.state.status).toBe('APPROVED');
    expect(s2.transition).toEqual({ from: 'REQUESTED', to: 'APPROVED', at: now, actorId: 'erin', reason: '2 of 2 approvals' });
    expect(s2.state.approvals.map((a) => a.userId)).toEqual(['bob', 'erin']);
  });

  it('a small withdrawal needs none and is auto-approved', () => {
    const s = stateFor(1_000n);
    expect(s.requirement.approvals).toBe(0);
    const out = autoApproveIfNoneRequired(s, now);
    expect(out.state.status).toBe('APPROVED');
    expect(out.transition).toMatchObject({ from: 'REQUESTED', to: 'APPROVED', actorId: null });
    expect(autoApproveIfNoneRequired(stateFor(200_000_000n), now).transition).toBeNull();
  });
});

describe('reject and cancel', () => {
  it('an eligible approver rejects with a reason; the requester cannot', () => {
    const s = stateFor(200_000_000n);
    expect(reason(() => rejectWithdrawal(s, alice, now, 'no'))).toBe('SELF_APPROVAL');
    expect(reason(() => rejectWithdrawal(s, bob, now, '  '))).toBe('REASON_REQUIRED');
    expect(reason(() => rejectWithdrawal(s, m('bob', 'OWNER', false), now, 'no'))).toBe('MFA_REQUIRED');
    expect(rejectWithdrawal(s, bob, now, 'unknown wallet').state.status).toBe('REJECTED');
  });
  it('cancel: the requester or a manager, only before SUBMITTED', () => {
    const s = stateFor(200_000_000n, 'dave');
    expect(cancelWithdrawal(s, dave, now).state.status).toBe('CANCELLED');
    expect(cancelWithdrawal(s, carol, now).state.status).toBe('CANCELLED');
    expect(reason(() => cancelWithdrawal(s, m('frank', 'USER'), now))).toBe('ROLE_NOT_ALLOWED');
    expect(reason(() => cancelWithdrawal({ ...s, status: WithdrawalStatus.SUBMITTED }, dave, now))).toBe('INVALID_TRANSITION');
  });
});
