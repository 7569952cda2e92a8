import { averagePriceAudPerBtc } from '../../../lib/money';
import { apportionWholeCents, e4ToCentsDecimal } from '../ledger/cents';
import { clientOrderIdFor } from '../purchases/purchase-requests';
import { isDropAtLeast, nextRun } from './schedule';

describe('treasury engine helpers', () => {
  it('compares price drops exactly, at the boundary', () => {
    // 5% below 100,000.00 is 95,000.00: a drop of exactly 5% qualifies, a cent less does not.
    expect(isDropAtLeast('95000.00', '100000.00', 500)).toBe(true);
    expect(isDropAtLeast('95000.01', '100000.00', 500)).toBe(false);
    expect(isDropAtLeast('94999.999', '100000', 500)).toBe(true);
    expect(isDropAtLeast('100000', '100000.00', 1)).toBe(false);
    // Values a float would get wrong.
    expect(isDropAtLeast('0.3', '0.30000000000000004', 0)).toBe(true);
  });

  it('schedules DAILY/WEEKLY/MONTHLY at 09:00 tenant time and honours cron expressions', () => {
    const after = new Date('2026-07-15T00:00:00Z'); // 10:00 Wednesday in Sydney (UTC+10)
    expect(nextRun('DAILY', after, 'Australia/Sydney').toISOString()).toBe('2026-07-15T23:00:00.000Z');
    expect(nextRun('WEEKLY', after, 'Australia/Sydney').toISOString()).toBe('2026-07-19T23:00:00.000Z');
    expect(nextRun('MONTHLY', after, 'Australia/Sydney').toISOString()).toBe('2026-07-31T23:00:00.000Z');
    expect(nextRun('30 16 * * 1-5', after, 'Australia/Perth').toISOString()).toBe('2026-07-15T08:30:00.000Z');
  });

  it('derives the exchange order id from the purchase id', () => {
    expect(clientOrderIdFor('0b9d1c3e-7f43-4f5a-9b5e-2f1f8d7c6a5b')).toBe('0b9d1c3e-7f43-4f5a-9b5e-2f1f8d7c6a5b');
  });
});

describe('funding shares', () => {
  it('prints cents x 10,000 as exact decimal cents', () => {
    expect(e4ToCentsDecimal(12_345_000n)).toBe('1234.5');
    expect(e4ToCentsDecimal(5_000n)).toBe('0.5');
    expect(e4ToCentsDecimal(1n)).toBe('0.0001');
    expect(e4ToCentsDecimal(10_000n)).toBe('1');
    expect(e4ToCentsDecimal(0n)).toBe('0');
    expect(e4ToCentsDecimal(-2_500n)).toBe('-0.25');
  });

  it('apportions whole cents that sum to the total: largest remainders first, ties to the earlier share', () => {
    // 0.5 + 250 + 499.5 = 750: floors give 749, the spare cent goes to the first of the two halves.
    expect(apportionWholeCents([5_000n, 2_500_000n, 4_995_000n])).toEqual([1n, 250n, 499n]);
    expect(apportionWholeCents([3_333n, 3_333n, 3_334n])).toEqual([0n, 0n, 1n]);
    expect(apportionWholeCents([12_340_000n])).toEqual([1234n]);
    // A total with a fraction (only from rows written before payments were tracked) rounds down.
    expect(apportionWholeCents([2_500n, 2_500n])).toEqual([0n, 0n]);
    expect(apportionWholeCents([])).toEqual([]);
  });
});

describe('holding average price', () => {
  it('is cost per BTC to the cent, half up, and null with nothing held', () => {
    expect(averagePriceAudPerBtc(1235n, 1_234_000n)).toBe('1000.81');
    expect(averagePriceAudPerBtc(100_000_00n, 100_000_000n)).toBe('100000.00');
    expect(averagePriceAudPerBtc(1n, 3n)).toBe('333333.33');
    expect(averagePriceAudPerBtc(0n, 0n)).toBeNull();
  });
});
