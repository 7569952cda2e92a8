import fc from 'fast-check';
import { decideAutoWithdraw, estimatedVbytes, feeSatsFor, parseFeeRate, type AutoWithdrawInput, type AutoWithdrawRule } from './auto-withdraw';
import { withdrawalReasonOf } from './withdrawal-errors';

const reason = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    return withdrawalReasonOf(e) ?? `untyped: ${String(e)}`;
  }
  return undefined;
};

const rule: AutoWithdrawRule = {
  enabled: true,
  thresholdSats: 10_000_000n, // 0.1 BTC
  amount: { kind: 'ALL_ABOVE_KEEP', keepSats: 1_000_000n },
  maxFeeShareBps: 50, // 0.5%
  minWithdrawalSats: 100_000n,
};
const base: AutoWithdrawInput = {
  rule,
  balanceSats: 12_000_000n,
  fee: { kind: 'RATE', satPerKvB: 10_000n }, // 10 sat/vB
  feeCharging: 'FROM_AMOUNT',
  destinationType: 'P2WPKH',
  inFlight: false,
};

describe('transaction size and fee arithmetic', () => {
  it('a 1-in 2-out P2WPKH withdrawal is 141 vB; output type changes it', () => {
    expect(estimatedVbytes('P2WPKH')).toBe(141);
    expect(estimatedVbytes('P2TR')).toBe(153);
    expect(estimatedVbytes('P2WSH')).toBe(153);
    expect(estimatedVbytes('P2PKH')).toBe(144);
    expect(estimatedVbytes('P2SH')).toBe(142);
  });
  it('fee = ceil(rate × vbytes), exact for fractional rates', () => {
    expect(feeSatsFor({ kind: 'RATE', satPerKvB: 10_000n }, 'P2WPKH')).toBe(1410n);
    expect(feeSatsFor({ kind: 'RATE', satPerKvB: parseFeeRate('1.001') }, 'P2WPKH')).toBe(142n); // 141.141 → 142
    expect(feeSatsFor({ kind: 'FIXED', sats: 20_000n }, 'P2TR')).toBe(20_000n);
  });
  it('parses sat/vB text exactly and refuses floats and junk', () => {
    expect(parseFeeRate('12.5')).toBe(12_500n);
    expect(parseFeeRate('0')).toBe(0n);
    for (const bad of ['1.0001', '-1', '1e3', 12.5, '', 'x']) expect(reason(() => parseFeeRate(bad))).toBe('INVALID_FEE');
  });
});

describe('decideAutoWithdraw', () => {
  it('sweeps everything above the keep amount when the fee is small enough', () => {
    expect(decideAutoWithdraw(base)).toEqual({
      withdraw: true,
      amountSats: 11_000_000n,
      feeSats: 1_410n,
      debitSats: 11_000_000n,
      receivedSats: 10_998_590n,
      feeShareBps: 2n, // 1410 / 11,000,000 = 1.28 bps → 2 rounded up
      vbytes: 141,
    });
  });

  it('fee charged on top leaves room for the fee in the sweep', () => {
    const d = decideAutoWithdraw({ ...base, feeCharging: 'ON_TOP' });
    expect(d).toMatchObject({ withdraw: true, amountSats: 10_998_590n, debitSats: 11_000_000n, receivedSats: 10_998_590n });
  });

  it('threshold is inclusive: at the threshold it withdraws, one sat below it does not', () => {
    expect(decideAutoWithdraw({ ...base, balanceSats: 10_000_000n }).withdraw).toBe(true);
    expect(decideAutoWithdraw({ ...base, balanceSats: 9_999_999n })).toMatchObject({ withdraw: false, reason: 'BELOW_THRESHOLD' });
  });

  it('fee share exactly at the maximum is allowed; one sat more is FEE_TOO_HIGH', () => {
    // 50 bps of 11,000,000 = 55,000 sats
    expect(decideAutoWithdraw({ ...base, fee: { kind: 'FIXED', sats: 55_000n } }).withdraw).toBe(true);
    expect(decideAutoWithdraw({ ...base, fee: { kind: 'FIXED', sats: 55_001n } })).toMatchObject({ withdraw: false, reason: 'FEE_TOO_HIGH', feeSats: 55_001n });
  });

  it('a fee spike defers the sweep: 400 sat/vB on 0.11 BTC is 0.51%', () => {
    expect(decideAutoWithdraw({ ...base, fee: { kind: 'RATE', satPerKvB: 400_000n } })).toMatchObject({ withdraw: false, reason: 'FEE_TOO_HIGH', feeSats: 56_400n });
  });

  it('never two at once, nothing when disabled', () => {
    expect(decideAutoWithdraw({ ...base, inFlight: true })).toMatchObject({ withdraw: false, reason: 'IN_FLIGHT' });
    expect(decideAutoWithdraw({ ...base, rule: { ...rule, enabled: false } })).toMatchObject({ withdraw: false, reason: 'DISABLED' });
  });

  it('fixed amounts: withdraws exactly that, or says the balance is short', () => {
    const fixed: AutoWithdrawRule = { ...rule, amount: { kind: 'FIXED', sats: 10_000_000n } };
    expect(decideAutoWithdraw({ ...base, rule: fixed })).toMatchObject({ withdraw: true, amountSats: 10_000_000n });
    expect(decideAutoWithdraw({ ...base, rule: fixed, balanceSats: 10_000_000n, feeCharging: 'ON_TOP' })).toMatchObject({
      withdraw: false,
      reason: 'INSUFFICIENT_BALANCE',
    });
  });

  it('below the exchange minimum it waits', () => {
    const r: AutoWithdrawRule = { ...rule, thresholdSats: 200_000n, amount: { kind: 'ALL_ABOVE_KEEP', keepSats: 150_000n }, maxFeeShareBps: 10_000 };
    expect(decideAutoWithdraw({ ...base, rule: r, balanceSats: 200_000n })).toMatchObject({ withdraw: false, reason: 'BELOW_MINIMUM', amountSats: 50_000n });
  });

  it('a fee that eats everything above the keep amount is NOTHING_ABOVE_KEEP', () => {
    const r: AutoWithdrawRule = { ...rule, thresholdSats: 1_000_100n, maxFeeShareBps: 10_000, minWithdrawalSats: 0n };
    expect(decideAutoWithdraw({ ...base, rule: r, balanceSats: 1_000_100n, feeCharging: 'ON_TOP', fee: { kind: 'FIXED', sats: 100n } })).toMatchObject({
      withdraw: false,
      reason: 'NOTHING_ABOVE_KEEP',
    });
  });

  it('bad rules and inputs are typed errors', () => {
    const bad: unknown[] = [
      { ...rule, thresholdSats: 0n },
      { ...rule, thresholdSats: 10 },
      { ...rule, maxFeeShareBps: 0 },
      { ...rule, maxFeeShareBps: 0.5 },
      { ...rule, amount: { kind: 'ALL_ABOVE_KEEP', keepSats: 10_000_000n } },
      { ...rule, amount: { kind: 'FIXED', sats: 20_000_000n } },
      { ...rule, amount: { kind: 'PERCENT' } },
      { ...rule, enabled: 'yes' },
    ];
    for (const r of bad) expect(reason(() => decideAutoWithdraw({ ...base, rule: r as AutoWithdrawRule }))).toBe('INVALID_AUTO_WITHDRAW_RULE');
    expect(reason(() => decideAutoWithdraw({ ...base, balanceSats: -1n }))).toBe('INVALID_AMOUNT');
    expect(reason(() => decideAutoWithdraw({ ...base, fee: { kind: 'RATE', satPerKvB: -1n } }))).toBe('INVALID_FEE');
    expect(reason(() => decideAutoWithdraw({ ...base, destinationType: 'P2X' as never }))).toBe('UNSUPPORTED_TYPE');
  });

  it('whenever it withdraws: fee share within the maximum, the sums add up, the keep amount stays (property)', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 10n ** 10n }),
        fc.bigInt({ min: 0n, max: 10n ** 10n }),
        fc.bigInt({ min: 0n, max: 2_000_000n }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.constantFrom('FROM_AMOUNT' as const, 'ON_TOP' as const),
        fc.constantFrom('P2PKH' as const, 'P2SH' as const, 'P2WPKH' as const, 'P2WSH' as const, 'P2TR' as const),
        (threshold, balance, rate, bps, charging, type) => {
          const keep = threshold / 2n;
          const r: AutoWithdrawRule = { enabled: true, thresholdSats: threshold, amount: { kind: 'ALL_ABOVE_KEEP', keepSats: keep }, maxFeeShareBps: bps, minWithdrawalSats: 0n };
          const d = decideAutoWithdraw({ rule: r, balanceSats: balance, fee: { kind: 'RATE', satPerKvB: rate }, feeCharging: charging, destinationType: type, inFlight: false });
          if (!d.withdraw) return;
          expect(d.feeSats * 10_000n).toBeLessThanOrEqual(BigInt(bps) * d.debitSats);
          expect(d.receivedSats + d.feeSats).toBe(d.debitSats);
          expect(balance - d.debitSats).toBe(keep);
          expect(d.receivedSats > 0n).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });
});
