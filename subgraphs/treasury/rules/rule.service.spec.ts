import { RuleType } from './rule.entity';
import { isValidSchedule, validateRule } from './rule.service';

const base = {
  name: 'Rule',
  type: RuleType.PERCENTAGE_OF_REVENUE,
  percentageBps: 1000,
  amountAudCents: null,
  schedule: null,
  minOrderAudCents: 0n,
  maxPerPurchaseAudCents: null,
  dailyCapAudCents: null,
  monthlyCapAudCents: null,
  provider: null,
  lookbackDays: null,
  cooldownMinutes: null,
};

describe('treasury rule validation', () => {
  it('accepts each rule type with what it needs', () => {
    expect(() => validateRule(base)).not.toThrow();
    expect(() => validateRule({ ...base, type: RuleType.FIXED_DCA, percentageBps: null, amountAudCents: 5000n, schedule: '0 9 * * 1' })).not.toThrow();
    expect(() => validateRule({ ...base, type: RuleType.PRICE_DROP, amountAudCents: 5000n, percentageBps: 500 })).not.toThrow();
    expect(() => validateRule({ ...base, type: RuleType.BALANCE_THRESHOLD, percentageBps: null, amountAudCents: 1_000_000n })).not.toThrow();
  });

  it.each([
    [{ percentageBps: null }, 'percentageBps'],
    [{ percentageBps: 0 }, 'percentageBps'],
    [{ percentageBps: 10_001 }, 'percentageBps'],
    [{ name: '  ' }, 'name'],
    [{ minOrderAudCents: -1n }, 'minOrderAudCents'],
    [{ minOrderAudCents: 5000n, maxPerPurchaseAudCents: 100n }, 'maxPerPurchaseAudCents'],
    [{ dailyCapAudCents: 10n, monthlyCapAudCents: 5n }, 'dailyCapAudCents'],
    [{ dailyCapAudCents: 0n }, 'dailyCapAudCents'],
    [{ type: RuleType.FIXED_DCA, amountAudCents: 100n }, 'schedule'],
  ])('refuses %p naming %s', (patch, field) => {
    let thrown: unknown;
    try {
      validateRule({ ...base, ...patch });
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field } });
  });

  it('knows schedules', () => {
    expect(['DAILY', 'WEEKLY', 'MONTHLY', '*/15 * * * *', '0 9 1,15 * *'].every(isValidSchedule)).toBe(true);
    expect(['hourly', '* * *', '0 9 * * * *', 'DROP TABLE'].some(isValidSchedule)).toBe(false);
  });
});
