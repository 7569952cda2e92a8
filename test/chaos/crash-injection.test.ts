import { formatReport, runCrashInjection } from './crash-injection';

/**
 * A small crash-injection run in CI (the full one is `npm run chaos`): a few purchases against the
 * Kraken fake with faults on, the workers process SIGKILLed at random moments and Redis emptied once.
 */
describe('crash injection (bounded): SIGKILLed workers, Kraken faults, Redis emptied', () => {
  it('ends with every purchase final, one order per FILLED purchase, none FAILED with an order, holdings = exchange, the audit chain whole', async () => {
    const report = await runCrashInjection({ purchases: 6, kills: 3, flushRedisAfterKill: 2, faultProbability: 0.25, settleTimeoutMs: 120_000, log: () => undefined });
    expect({ problems: report.problems, summary: formatReport(report) }).toMatchObject({ problems: [] });
    expect(report.purchases).toBe(6);
    expect(report.kills).toBe(3);
    expect(report.byStatus.PENDING ?? 0).toBe(0);
    expect(report.byStatus.SUBMITTED ?? 0).toBe(0);
    expect(report.holdingsSats).toBe(report.exchangeSats);
    expect(report.auditChainValid).toBe(true);
    expect(report.auditEvents).toBe(report.auditFacts);
  }, 300_000);
});
