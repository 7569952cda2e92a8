import { WithdrawalStatus, forwardPath } from './approvals';
import { assertNow } from './member';
import { WithdrawalReason, withdrawalError } from './withdrawal-errors';

/**
 * Exactly-once sending, the pure half: after a crash or a lost response, find our withdrawal in the
 * exchange's status listing before ever sending again, and decide what to do. The service half
 * (README "Exactly once") reserves before sending and calls this on every retry.
 */

/** An exchange's row for one withdrawal, as the adapter normalises it (amounts in sats). */
export type ExchangeWithdrawalRecord = {
  /** Kraken `refid`, Swyftx withdrawal id, paper id. */
  exchangeRef: string;
  /** Kraken `key` / Swyftx address name, when the listing carries it. */
  key: string | null;
  /** Kraken `info` / the destination address, when the listing carries it. */
  address: string | null;
  amountSats: bigint;
  feeSats: bigint | null;
  createdAt: Date;
  state: ExchangeWithdrawalState;
  txid: string | null;
};

export type ExchangeWithdrawalState = 'PENDING' | 'BROADCAST' | 'CONFIRMED' | 'FAILED';

/**
 * Kraken WithdrawStatus `status`/`status-prop` → our view. Initial (checks) and Pending (sent to its
 * gateway) are still at Kraken; Settled is broadcast, awaiting confirmation; Success has one
 * confirmation; Failure (also status-prop canceled/return) failed. onhold/cancel-pending stay pending.
 */
export function krakenWithdrawalState(status: string, statusProp: string | null, txid: string | null): ExchangeWithdrawalState {
  if (status === 'Failure' || statusProp === 'canceled' || statusProp === 'return') return 'FAILED';
  if (status === 'Success') return 'CONFIRMED';
  if (status === 'Settled') return 'BROADCAST';
  if (status === 'Initial' || status === 'Pending') return txid !== null && /^[0-9a-f]{64}$/.test(txid) && statusProp !== 'onhold' ? 'BROADCAST' : 'PENDING';
  throw withdrawalError(WithdrawalReason.INVALID_EXCHANGE_RECORD, 'unknown Kraken withdrawal status', { status });
}

/** What we wrote (in the same transaction as SUBMITTED) before calling the exchange. */
export type WithdrawalReservation = {
  withdrawalId: string;
  exchange: string;
  /** The exchange address-book entry we send to (withdrawal-id.ts). */
  keyName: string;
  address: string;
  /** The amount we asked for. */
  amountSats: bigint;
  /** When the send was attempted (the reservation's time). */
  attemptedAt: Date;
  /** Set once the exchange answered with its reference. */
  exchangeRef: string | null;
};

export type WithdrawalMatch =
  | { kind: 'FOUND'; record: ExchangeWithdrawalRecord }
  | { kind: 'NOT_FOUND' }
  /** More than one row could be ours: never guess, never resend. */
  | { kind: 'AMBIGUOUS'; candidates: string[] };

/** Rows created at most this long before our attempt still count (exchange and our clocks differ). */
export const CLOCK_SKEW_MS = 2 * 60 * 1000;

/**
 * Finds our withdrawal in a listing. By its exchange reference when we have it; otherwise a row sent
 * to our key (or address) for our amount (gross, or net of its fee), created after our attempt, and
 * not already linked to another of our withdrawals.
 */
export function findOurWithdrawal(r: WithdrawalReservation, records: readonly ExchangeWithdrawalRecord[], linkedElsewhere: ReadonlySet<string>): WithdrawalMatch {
  if (r.exchangeRef !== null) {
    const hit = records.find((x) => x.exchangeRef === r.exchangeRef);
    return hit ? { kind: 'FOUND', record: hit } : { kind: 'NOT_FOUND' };
  }
  const since = r.attemptedAt.getTime() - CLOCK_SKEW_MS;
  const candidates = records.filter(
    (x) =>
      !linkedElsewhere.has(x.exchangeRef) &&
      x.createdAt.getTime() >= since &&
      (x.key === null || x.key === r.keyName) &&
      (x.address === null || x.address === r.address) &&
      (x.key !== null || x.address !== null) &&
      (x.amountSats === r.amountSats || (x.feeSats !== null && x.amountSats + x.feeSats === r.amountSats)),
  );
  const [only] = candidates;
  if (candidates.length === 1 && only) return { kind: 'FOUND', record: only };
  if (candidates.length === 0) return { kind: 'NOT_FOUND' };
  return { kind: 'AMBIGUOUS', candidates: candidates.map((c) => c.exchangeRef) };
}

export type RetryDecision =
  /** Link the row (store its ref) and move the withdrawal along `path`. */
  | { action: 'ADOPT'; exchangeRef: string; path: WithdrawalStatus[]; txid: string | null; feeSats: bigint | null }
  /** Too early to conclude the exchange never got it: look again later. */
  | { action: 'WAIT'; until: Date }
  /** The listing covers the window and our attempt is not there: the request never arrived; send (once). */
  | { action: 'SEND' }
  /** A person must look: an ambiguous listing, or a known reference that vanished. */
  | { action: 'ESCALATE'; why: string };

export type RetryOptions = {
  /** How long after an attempt a missing row may still appear (≥ several HTTP timeouts). */
  settleMs: number;
  /** How long a known exchange reference may be missing from listings before a person looks. */
  missingRefEscalateMs: number;
};
export const DEFAULT_RETRY_OPTIONS: RetryOptions = { settleMs: 5 * 60 * 1000, missingRefEscalateMs: 60 * 60 * 1000 };

/**
 * What a retry does for a SUBMITTED (or later) withdrawal, given a fresh listing that starts at or
 * before `attemptedAt - CLOCK_SKEW_MS`. It only ever answers SEND when nothing of ours can exist.
 */
export function decideRetry(
  current: WithdrawalStatus,
  r: WithdrawalReservation,
  match: WithdrawalMatch,
  now: Date,
  opts: RetryOptions = DEFAULT_RETRY_OPTIONS,
): RetryDecision {
  assertNow(now);
  if (match.kind === 'AMBIGUOUS') return { action: 'ESCALATE', why: `${match.candidates.length} exchange withdrawals could be this one` };
  if (match.kind === 'FOUND') {
    const target = { PENDING: WithdrawalStatus.SUBMITTED, BROADCAST: WithdrawalStatus.BROADCAST, CONFIRMED: WithdrawalStatus.CONFIRMED, FAILED: WithdrawalStatus.FAILED }[match.record.state];
    const path = forwardPath(current, target);
    if (path === null) return { action: 'ESCALATE', why: `the exchange says ${match.record.state} but the withdrawal is ${current}` };
    return { action: 'ADOPT', exchangeRef: match.record.exchangeRef, path, txid: match.record.txid, feeSats: match.record.feeSats };
  }
  if (current !== WithdrawalStatus.SUBMITTED) return { action: 'ESCALATE', why: `the withdrawal is ${current} but the exchange has no record of it` };
  const age = now.getTime() - r.attemptedAt.getTime();
  if (r.exchangeRef !== null) {
    return age < opts.missingRefEscalateMs ? { action: 'WAIT', until: new Date(r.attemptedAt.getTime() + opts.missingRefEscalateMs) } : { action: 'ESCALATE', why: 'the exchange reference is missing from its listing' };
  }
  if (age < opts.settleMs) return { action: 'WAIT', until: new Date(r.attemptedAt.getTime() + opts.settleMs) };
  return { action: 'SEND' };
}
