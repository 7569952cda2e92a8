import { emptyForm, previewRule, validateRuleForm, type RuleForm } from './rules';

const form = (patch: Partial<RuleForm>): RuleForm => ({ ...emptyForm(), name: 'r', ...patch });

describe('rule form validation (mirrors the API)', () => {
  it('accepts a share-of-revenue rule and sends basis points and cents', () => {
    const r = validateRuleForm(form({ percent: '2.5', minOrder: '5', dailyCap: '100', monthlyCap: '1000.50' }));
    expect(r.errors).toEqual({});
    expect(r.values).toMatchObject({ percentageBps: 250, minOrderAudCents: '500', dailyCapAudCents: '10000', monthlyCapAudCents: '100050', amountAudCents: null, schedule: null });
  });

  it('names the field for each rule the API enforces', () => {
    expect(validateRuleForm(form({ name: ' ' })).errors.name).toBeDefined();
    expect(validateRuleForm(form({ percent: '' })).errors.percent).toMatch(/Required/);
    expect(validateRuleForm(form({ percent: '101' })).errors.percent).toMatch(/between/);
    expect(validateRuleForm(form({ type: 'FIXED_DCA', amount: '' })).errors.amount).toMatch(/Required/);
    expect(validateRuleForm(form({ type: 'FIXED_DCA', amount: '10', schedule: 'CRON', cron: '0 9 * *' })).errors.cron).toMatch(/5 cron fields/);
    expect(validateRuleForm(form({ percent: '1', minOrder: '50', maxPerPurchase: '20' })).errors.maxPerPurchase).toMatch(/at least the minimum/);
    expect(validateRuleForm(form({ percent: '1', dailyCap: '200', monthlyCap: '100' })).errors.dailyCap).toMatch(/cannot exceed/);
    expect(validateRuleForm(form({ type: 'PRICE_DROP', amount: '10', percent: '5', lookbackDays: '400' })).errors.lookbackDays).toMatch(/1 to 365/);
    expect(validateRuleForm(form({ percent: '1', maxPerPurchase: '0' })).errors.maxPerPurchase).toMatch(/greater than zero/);
  });

  it('previews a daily DCA on daily closes with its caps, in exact cents and sats', () => {
    const v = validateRuleForm(form({ type: 'FIXED_DCA', amount: '100', schedule: 'DAILY', monthlyCap: '250' })).values!;
    const closes = [
      ['2026-11-01', '100000.00'],
      ['2026-11-02', '50000.00'],
      ['2026-11-03', '100000.00'],
      ['2026-11-04', '100000.00'],
    ] as const;
    const candles = closes.map(([d, close]) => ({ bucketStart: `${d}T00:00:00.000Z`, close }));
    const p = previewRule(v, 'FIXED_DCA', candles, 'UTC');
    // $100, $100, then $50 left of the $250 monthly cap, then nothing.
    expect(p.buys.map((b) => b.cents)).toEqual([10000n, 10000n, 5000n]);
    expect(p.sats).toBe(100_000n + 200_000n + 50_000n);
    expect(p.spentCents).toBe(25000n);
    expect(p.valueCents).toBe(35000n);
  });

  it('previews a price-drop rule: buys only under the look-back average, once per cooldown', () => {
    const v = validateRuleForm(form({ type: 'PRICE_DROP', amount: '10', percent: '10', lookbackDays: '2', cooldownMinutes: '1440' })).values!;
    const closes = ['100', '100', '85', '80', '100'];
    const candles = closes.map((c, i) => ({ bucketStart: new Date(Date.UTC(2026, 10, 1 + i)).toISOString(), close: c }));
    const p = previewRule(v, 'PRICE_DROP', candles, 'UTC');
    expect(p.buys.map((b) => b.at.slice(0, 10))).toEqual(['2026-11-03', '2026-11-04']);
  });
});
