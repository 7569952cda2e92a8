import { ADDRESS_TYPES, type AddressType } from './address';
import { MAX_SATS } from './approvals';
import { WithdrawalReason, withdrawalError } from './withdrawal-errors';

/**
 * Auto-withdraw: when the exchange balance reaches a threshold, sweep to the next derived address,
 * but only when the network fee is at most a set share of what leaves the exchange. Integer
 * arithmetic throughout: fee rates in sat per 1000 vbytes, shares in basis points, sizes in weight.
 */

export type AutoWithdrawAmount =
  /** Everything above `keepSats` (the exchange keeps a float for the next purchases). */
  | { kind: 'ALL_ABOVE_KEEP'; keepSats: bigint }
  | { kind: 'FIXED'; sats: bigint };

export type AutoWithdrawRule = {
  enabled: boolean;
  /** Trigger when the available balance is at least this. */
  thresholdSats: bigint;
  amount: AutoWithdrawAmount;
  /** Largest fee acceptable, as a share of the sats leaving the exchange, in basis points (100 = 1%). */
  maxFeeShareBps: number;
  /** The exchange's minimum withdrawal (e.g. from Kraken WithdrawInfo / WithdrawMethods); 0 when none. */
  minWithdrawalSats: bigint;
};

/** A network fee estimate (sat/vB × the transaction's size) or the fee the exchange quotes outright. */
export type FeeQuote = { kind: 'RATE'; satPerKvB: bigint } | { kind: 'FIXED'; sats: bigint };

/** FROM_AMOUNT: the exchange sends amount − fee (Kraken's `amount` includes the fee). ON_TOP: it debits amount + fee. */
export type FeeCharging = 'FROM_AMOUNT' | 'ON_TOP';

export type AutoWithdrawInput = {
  rule: AutoWithdrawRule;
  /** Available (not held) balance at the exchange. */
  balanceSats: bigint;
  fee: FeeQuote;
  feeCharging: FeeCharging;
  /** The type of the address the withdrawal would pay (its output size changes the fee). */
  destinationType: AddressType;
  /** A withdrawal for this tenant and exchange is already under way: never two at once. */
  inFlight: boolean;
};

export type AutoWithdrawSkipReason =
  | 'DISABLED'
  | 'IN_FLIGHT'
  | 'BELOW_THRESHOLD'
  | 'NOTHING_ABOVE_KEEP'
  | 'INSUFFICIENT_BALANCE'
  | 'BELOW_MINIMUM'
  | 'FEE_TOO_HIGH';

export type AutoWithdrawDecision =
  | {
      withdraw: true;
      /** What to ask the exchange for (its `amount`). */
      amountSats: bigint;
      feeSats: bigint;
      /** What leaves the exchange balance. */
      debitSats: bigint;
      /** What arrives at the address. */
      receivedSats: bigint;
      /** fee / debit in basis points, rounded up (the figure compared with the maximum). */
      feeShareBps: bigint;
      vbytes: number;
    }
  | { withdraw: false; reason: AutoWithdrawSkipReason; message: string; feeSats: bigint | null; amountSats: bigint | null };

// ---- transaction size ---------------------------------------------------------------------

/** Output sizes in bytes: 8 (value) + 1 (script length) + script. */
export const OUTPUT_BYTES: Readonly<Record<AddressType, number>> = { P2PKH: 34, P2SH: 32, P2WPKH: 31, P2WSH: 43, P2TR: 43 };

/**
 * Weight of the withdrawal an exchange typically builds for us: one P2WPKH input, our output and a
 * P2WPKH change output. version+locktime+counts 40 WU + segwit marker/flag 2 WU; P2WPKH input
 * 41 bytes × 4 + 108 WU witness = 272 WU; outputs × 4. (Batched exchange withdrawals cost less.)
 */
export function estimatedWeight(destinationType: AddressType): number {
  if (!ADDRESS_TYPES.includes(destinationType)) throw withdrawalError(WithdrawalReason.UNSUPPORTED_TYPE, 'unknown destination type', { field: 'destinationType' });
  return 42 + 272 + 4 * OUTPUT_BYTES.P2WPKH + 4 * OUTPUT_BYTES[destinationType];
}

/** Virtual size, rounded up as BIP 141 does. P2WPKH → 141 vB. */
export const estimatedVbytes = (destinationType: AddressType): number => Math.ceil(estimatedWeight(destinationType) / 4);

/** "12.5" sat/vB → 12500n sat/kvB; at most three decimals (a milli-sat per vbyte), never a float. */
export function parseFeeRate(text: unknown): bigint {
  if (typeof text !== 'string' || !/^(0|[1-9]\d{0,6})(\.\d{1,3})?$/.test(text)) {
    throw withdrawalError(WithdrawalReason.INVALID_FEE, 'fee rate must be a decimal number of sat/vB with at most 3 decimals, like "12.5"', { field: 'feeRate' });
  }
  const dot = text.indexOf('.');
  const whole = dot < 0 ? text : text.slice(0, dot);
  const frac = dot < 0 ? '' : text.slice(dot + 1);
  return BigInt(whole) * 1000n + BigInt(frac.padEnd(3, '0'));
}

/** The fee in sats: rate × size rounded up, or the exchange's quote. */
export function feeSatsFor(fee: FeeQuote, destinationType: AddressType): bigint {
  assertFee(fee);
  if (fee.kind === 'FIXED') return fee.sats;
  const vb = BigInt(estimatedVbytes(destinationType));
  return (fee.satPerKvB * vb + 999n) / 1000n;
}

function assertFee(fee: unknown): asserts fee is FeeQuote {
  const f = fee as Partial<{ kind: string; satPerKvB: unknown; sats: unknown }> | null;
  const ok =
    f !== null &&
    typeof f === 'object' &&
    ((f.kind === 'RATE' && typeof f.satPerKvB === 'bigint' && f.satPerKvB >= 0n && f.satPerKvB <= 10_000_000_000n) ||
      (f.kind === 'FIXED' && typeof f.sats === 'bigint' && f.sats >= 0n && f.sats <= MAX_SATS));
  if (!ok) throw withdrawalError(WithdrawalReason.INVALID_FEE, 'fee must be { kind: RATE, satPerKvB } or { kind: FIXED, sats } with non-negative bigints', { field: 'fee' });
}

// ---- the rule -----------------------------------------------------------------------------

const isSats = (v: unknown, min = 0n): v is bigint => typeof v === 'bigint' && v >= min && v <= MAX_SATS;

export function assertAutoWithdrawRule(r: unknown): asserts r is AutoWithdrawRule {
  const bad = (m: string, field: string) => withdrawalError(WithdrawalReason.INVALID_AUTO_WITHDRAW_RULE, m, { field });
  const x = r as Partial<AutoWithdrawRule> | null;
  if (x === null || typeof x !== 'object') throw bad('an auto-withdraw rule is required', 'rule');
  if (typeof x.enabled !== 'boolean') throw bad('enabled must be true or false', 'enabled');
  if (!isSats(x.thresholdSats, 1n)) throw bad('thresholdSats must be a positive bigint number of satoshis', 'thresholdSats');
  if (!isSats(x.minWithdrawalSats)) throw bad('minWithdrawalSats must be a bigint number of satoshis', 'minWithdrawalSats');
  if (typeof x.maxFeeShareBps !== 'number' || !Number.isInteger(x.maxFeeShareBps) || x.maxFeeShareBps < 1 || x.maxFeeShareBps > 10_000) {
    throw bad('maxFeeShareBps must be a whole number of basis points from 1 to 10000', 'maxFeeShareBps');
  }
  const a = x.amount as Partial<{ kind: string; keepSats: unknown; sats: unknown }> | undefined;
  if (a?.kind === 'ALL_ABOVE_KEEP') {
    if (!isSats(a.keepSats)) throw bad('keepSats must be a bigint number of satoshis', 'amount.keepSats');
    if (a.keepSats >= x.thresholdSats) throw bad('keepSats must be below thresholdSats, or the rule could never withdraw', 'amount.keepSats');
  } else if (a?.kind === 'FIXED') {
    if (!isSats(a.sats, 1n)) throw bad('the fixed amount must be a positive bigint number of satoshis', 'amount.sats');
    if (a.sats > x.thresholdSats) throw bad('the fixed amount cannot exceed thresholdSats', 'amount.sats');
  } else {
    throw bad('amount must be { kind: ALL_ABOVE_KEEP, keepSats } or { kind: FIXED, sats }', 'amount');
  }
}

const skip = (reason: AutoWithdrawSkipReason, message: string, feeSats: bigint | null = null, amountSats: bigint | null = null): AutoWithdrawDecision => ({
  withdraw: false,
  reason,
  message,
  feeSats,
  amountSats,
});

/** Whether to withdraw now, how much, and why not. Pure: the same input gives the same decision. */
export function decideAutoWithdraw(input: AutoWithdrawInput): AutoWithdrawDecision {
  const { rule, balanceSats, fee, feeCharging, destinationType, inFlight } = input;
  assertAutoWithdrawRule(rule);
  if (!isSats(balanceSats)) throw withdrawalError(WithdrawalReason.INVALID_AMOUNT, 'balanceSats must be a non-negative bigint', { field: 'balanceSats' });
  if (feeCharging !== 'FROM_AMOUNT' && feeCharging !== 'ON_TOP') throw withdrawalError(WithdrawalReason.INVALID_FEE, 'feeCharging must be FROM_AMOUNT or ON_TOP', { field: 'feeCharging' });
  const feeSats = feeSatsFor(fee, destinationType);
  const vbytes = estimatedVbytes(destinationType);

  if (!rule.enabled) return skip('DISABLED', 'auto-withdraw is off');
  if (inFlight) return skip('IN_FLIGHT', 'a withdrawal is already under way');
  if (balanceSats < rule.thresholdSats) return skip('BELOW_THRESHOLD', `balance ${balanceSats} sats is below the ${rule.thresholdSats} sats threshold`);

  let amountSats: bigint;
  if (rule.amount.kind === 'ALL_ABOVE_KEEP') {
    const available = balanceSats - rule.amount.keepSats;
    amountSats = feeCharging === 'ON_TOP' ? available - feeSats : available;
    if (amountSats <= 0n) return skip('NOTHING_ABOVE_KEEP', 'nothing is left above the amount kept at the exchange once the fee is paid', feeSats);
  } else {
    amountSats = rule.amount.sats;
    if (amountSats + (feeCharging === 'ON_TOP' ? feeSats : 0n) > balanceSats) {
      return skip('INSUFFICIENT_BALANCE', 'the balance does not cover the fixed amount and its fee', feeSats, amountSats);
    }
  }
  const debitSats = feeCharging === 'ON_TOP' ? amountSats + feeSats : amountSats;
  const receivedSats = feeCharging === 'ON_TOP' ? amountSats : amountSats - feeSats;
  if (amountSats < rule.minWithdrawalSats || receivedSats <= 0n) {
    return skip('BELOW_MINIMUM', `the withdrawal would be below the exchange minimum of ${rule.minWithdrawalSats} sats`, feeSats, amountSats);
  }
  // fee / debit ≤ max bps / 10000, cross-multiplied so nothing is rounded before the comparison
  if (feeSats * 10_000n > BigInt(rule.maxFeeShareBps) * debitSats) {
    return skip('FEE_TOO_HIGH', `the fee of ${feeSats} sats is more than ${rule.maxFeeShareBps} bps of ${debitSats} sats`, feeSats, amountSats);
  }
  const feeShareBps = (feeSats * 10_000n + debitSats - 1n) / debitSats;
  return { withdraw: true, amountSats, feeSats, debitSats, receivedSats, feeShareBps, vbytes };
}
