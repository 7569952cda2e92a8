import { serializeReport, capitalGainsReport } from './cgt-report';
import { appendToHistory, assertClosedYearsUnchanged, assertOpenAt, assertYearOpen, changeIdentification } from './closed-year';
import { buy, individual, sell, t, typedError } from './tax.fixtures';
import type { TaxHistory, TaxProfile } from './tax.types';

// FY2024 (closed): A and B bought, S1 sold. FY2025 (open): S2 sold.
const history: TaxHistory = {
  acquisitions: [buy('A', '2023-08-01T12:00:00+10:00', 100_000n, 10_000n), buy('B', '2023-09-01T12:00:00+10:00', 100_000n, 30_000n)],
  disposals: [sell('S1', '2024-03-01T12:00:00+11:00', 50_000n, 20_000n), sell('S2', '2024-08-01T12:00:00+10:00', 50_000n, 20_000n)],
};
const closed: TaxProfile = { ...individual, closedThroughYear: 2024 };
const specificB = { method: 'SPECIFIC' as const, parcels: [{ parcelId: 'B', sats: 50_000n }] };

describe('closed financial years', () => {
  it('the parcel choice of a disposal in a closed year cannot change (YEAR_CLOSED)', () => {
    expect(typedError(() => changeIdentification(history, closed, 'S1', specificB))).toMatchObject({ code: 'CONFLICT', reason: 'YEAR_CLOSED' });
  });

  it('in an open year it can, and the new choice is validated and recorded', () => {
    const next = changeIdentification(history, closed, 'S2', specificB);
    expect(next.disposals.find((d) => d.id === 'S2')?.identification).toEqual(specificB);
    // S2 takes 50,000 of B: 30,000 × 1/2 = 15,000 cost; 20,000 − 15,000 = 5,000 gain (FIFO would take A's rest: 5,000 cost, 15,000 gain).
    expect(capitalGainsReport(next, closed, 2025).summary.netCapitalGainAudCents).toBe(5_000n);
    expect(capitalGainsReport(history, closed, 2025).summary.netCapitalGainAudCents).toBe(15_000n);
    expect(typedError(() => changeIdentification(history, closed, 'S2', { method: 'SPECIFIC', parcels: [{ parcelId: 'Z', sats: 50_000n }] }))).toMatchObject({
      code: 'NOT_FOUND',
      reason: 'UNKNOWN_PARCEL',
    });
    expect(typedError(() => changeIdentification(history, closed, 'NOPE', specificB))).toMatchObject({ code: 'NOT_FOUND', reason: 'UNKNOWN_DISPOSAL' });
  });

  it('events dated in a closed year are refused; the tenant timezone decides the year', () => {
    expect(typedError(() => appendToHistory(history, closed, { acquisitions: [buy('C', '2024-06-30T23:59:00+10:00', 1n, 1n)] }))).toMatchObject({
      code: 'CONFLICT',
      reason: 'YEAR_CLOSED',
    });
    // 00:00 on 1 July in Sydney is open, though it is 30 June in UTC.
    const next = appendToHistory(history, closed, { acquisitions: [buy('C', '2024-07-01T00:00:00+10:00', 1n, 1n)] });
    expect(next.acquisitions.map((a) => a.id)).toEqual(['A', 'B', 'C']);
    expect(() => assertOpenAt(closed, t('2024-07-01T00:00:00+10:00'))).not.toThrow();
    expect(typedError(() => assertYearOpen(closed, 2024)).reason).toBe('YEAR_CLOSED');
    expect(() => assertYearOpen(closed, 2025)).not.toThrow();
  });

  it('appending validates the whole history: a sale above holdings changes nothing', () => {
    // Holdings after S2: 200,000 − 100,000 = 100,000 sats.
    const err = typedError(() => appendToHistory(history, closed, { disposals: [sell('S3', '2024-09-01T12:00:00+10:00', 100_001n, 1n)] }));
    expect(err).toMatchObject({ reason: 'INSUFFICIENT_HOLDINGS' });
    expect(history.disposals).toHaveLength(2);
  });

  it('a cost base edit must take effect in an open year, and then leaves the closed year untouched', () => {
    const adj = { id: 'ADJ', parcelId: 'A', recordedAt: t('2024-09-01T09:00:00+10:00'), costBaseAudCents: 6_000n, reason: 'fee refund from the exchange' };
    expect(typedError(() => appendToHistory(history, closed, { adjustments: [{ ...adj, effectiveAt: t('2023-08-01T12:00:00+10:00') }] })).reason).toBe('YEAR_CLOSED');
    const next = appendToHistory(history, closed, { adjustments: [{ ...adj, effectiveAt: t('2024-07-01T00:00:00+10:00') }] });
    expect(serializeReport(capitalGainsReport(next, closed, 2024))).toBe(serializeReport(capitalGainsReport(history, closed, 2024)));
    // From 1 July A's remaining 50,000 sats cost 6,000 (not 5,000): S2 gains 20,000 − 6,000 = 14,000.
    expect(capitalGainsReport(next, closed, 2025).summary.netCapitalGainAudCents).toBe(14_000n);
    expect(() => assertClosedYearsUnchanged({ history, profile: closed }, { history: next, profile: closed })).not.toThrow();
  });

  it('re-running a closed year gives byte-identical output, whatever happens later', () => {
    const before = serializeReport(capitalGainsReport(history, closed, 2024));
    const later = appendToHistory(history, closed, {
      acquisitions: [buy('L', '2025-01-01T12:00:00+11:00', 5n, 5n)],
      disposals: [sell('S9', '2025-02-01T12:00:00+11:00', 5n, 50n)],
    });
    expect(serializeReport(capitalGainsReport(later, closed, 2024))).toBe(before);
  });

  it('the catch-all guard refuses any edit that would alter a closed year, a profile change, or reopening', () => {
    const edited: TaxHistory = { ...history, disposals: history.disposals.map((d) => (d.id === 'S1' ? { ...d, proceedsAudCents: 20_001n } : d)) };
    expect(typedError(() => assertClosedYearsUnchanged({ history, profile: closed }, { history: edited, profile: closed }))).toMatchObject({
      code: 'CONFLICT',
      reason: 'YEAR_CLOSED',
    });
    expect(typedError(() => assertClosedYearsUnchanged({ history, profile: closed }, { history, profile: { ...closed, entityType: 'COMPANY' } })).reason).toBe(
      'YEAR_CLOSED',
    );
    expect(typedError(() => assertClosedYearsUnchanged({ history, profile: closed }, { history, profile: { ...closed, closedThroughYear: 2023 } })).reason).toBe(
      'YEAR_CLOSED',
    );
    // Closing one more year is fine.
    expect(() => assertClosedYearsUnchanged({ history, profile: closed }, { history, profile: { ...closed, closedThroughYear: 2025 } })).not.toThrow();
  });
});
