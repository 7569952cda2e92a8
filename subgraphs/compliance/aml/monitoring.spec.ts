import { amlReasonOf } from './errors';
import { at } from '../../../test/helpers/present';
import { evaluateOperation, monitoringConfig, type MonitoredOperation, type OperationKind, type RuleCode } from './monitoring';
import { parseScreeningList } from './screening-list';

const TENANT = 't1';
let n = 0;
const op = (kind: OperationKind, amountAudCents: bigint, at: string, extra: Partial<MonitoredOperation> = {}): MonitoredOperation => ({
  id: `op${++n}`,
  tenantId: TENANT,
  kind,
  amountAudCents,
  at: new Date(at),
  ...extra,
});
const rules = (hits: { rule: RuleCode }[]): RuleCode[] => hits.map((h) => h.rule).sort();
/** Only the rule under test, so each case shows that rule alone firing or staying quiet. */
const only = (rule: 'threshold' | 'velocity' | 'structuring' | 'spike' | 'screenedDestination' | 'newDestination', patch: object = {}) =>
  monitoringConfig({
    threshold: { enabled: rule === 'threshold' },
    velocity: { enabled: rule === 'velocity' },
    structuring: { enabled: rule === 'structuring' },
    spike: { enabled: rule === 'spike' },
    screenedDestination: { enabled: rule === 'screenedDestination' },
    newDestination: { enabled: rule === 'newDestination' },
    [rule]: { enabled: true, ...patch },
  });

const ADDR = 'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4';
const OTHER = '3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy';
const to = (address: string) => ({ destination: { address, network: 'bitcoin' as const } });

describe('THRESHOLD', () => {
  const config = only('threshold');
  it('fires at exactly A$10,000 with the amount and threshold as facts', () => {
    const [hit] = evaluateOperation(op('PURCHASE', 1_000_000n, '2026-04-01T01:00:00Z'), [], { config });
    expect(hit).toMatchObject({ rule: 'THRESHOLD', facts: { kind: 'PURCHASE', amountAudCents: 1_000_000n, thresholdAudCents: 1_000_000n } });
  });
  it('does not fire one cent below, nor for a kind the operator excluded', () => {
    expect(evaluateOperation(op('PURCHASE', 999_999n, '2026-04-01T01:00:00Z'), [], { config })).toEqual([]);
    const noRevenue = only('threshold', { kinds: ['PURCHASE', 'SALE', 'WITHDRAWAL'] });
    expect(evaluateOperation(op('REVENUE', 5_000_000n, '2026-04-01T01:00:00Z'), [], { config: noRevenue })).toEqual([]);
  });
  it('the threshold is configurable', () => {
    const lower = only('threshold', { amountAudCents: 500_000n });
    expect(rules(evaluateOperation(op('SALE', 500_000n, '2026-04-01T01:00:00Z'), [], { config: lower }))).toEqual(['THRESHOLD']);
  });
});

describe('VELOCITY', () => {
  const config = only('velocity', { count: 4, windowMinutes: 10 });
  it('fires on the 4th operation within 10 minutes, listing them', () => {
    const history = [op('PURCHASE', 100n, '2026-04-01T01:00:00Z'), op('PURCHASE', 100n, '2026-04-01T01:03:00Z'), op('SALE', 100n, '2026-04-01T01:06:00Z')];
    const hit = at(evaluateOperation(op('WITHDRAWAL', 100n, '2026-04-01T01:09:59Z', to(ADDR)), history, { config }), 0, 'hits');
    expect(hit).toMatchObject({ rule: 'VELOCITY', facts: { count: 4, limit: 4, windowMinutes: 10 } });
    expect(hit.rule === 'VELOCITY' && hit.facts.operations.map((o) => o.at.toISOString())).toEqual([
      '2026-04-01T01:00:00.000Z',
      '2026-04-01T01:03:00.000Z',
      '2026-04-01T01:06:00.000Z',
      '2026-04-01T01:09:59.000Z',
    ]);
  });
  it('does not fire when the 4th comes 10 minutes after the first (the window is (at − 10 min, at])', () => {
    const history = [op('PURCHASE', 100n, '2026-04-01T01:00:00Z'), op('PURCHASE', 100n, '2026-04-01T01:03:00Z'), op('SALE', 100n, '2026-04-01T01:06:00Z')];
    expect(evaluateOperation(op('PURCHASE', 100n, '2026-04-01T01:10:00Z'), history, { config })).toEqual([]);
  });
  it('another tenant’s operations never count', () => {
    const history = [1, 2, 3].map((i) => op('PURCHASE', 100n, `2026-04-01T01:0${i}:00Z`, { tenantId: 'someone-else' }));
    expect(evaluateOperation(op('PURCHASE', 100n, '2026-04-01T01:05:00Z'), history, { config })).toEqual([]);
  });
});

describe('STRUCTURING', () => {
  // Band [A$9,000, A$10,000), 3 within 24 hours.
  const config = only('structuring', { count: 3, windowHours: 24 });

  it('fires on three amounts just under A$10,000 straddling midnight (a sliding window, not days)', () => {
    const history = [op('REVENUE', 950_000n, '2026-04-01T12:30:00Z'), op('PURCHASE', 990_000n, '2026-04-01T13:45:00Z')]; // 23:30 and 00:45 Sydney
    const [hit] = evaluateOperation(op('WITHDRAWAL', 999_999n, '2026-04-02T11:00:00Z', to(ADDR)), history, { config });
    expect(hit).toMatchObject({ rule: 'STRUCTURING', facts: { count: 3, totalAudCents: 2_939_999n, bandFromAudCents: 900_000n, thresholdAudCents: 1_000_000n } });
  });

  it('the window boundary: 24 h minus 1 ms still counts; exactly 24 h does not', () => {
    const first = op('PURCHASE', 950_000n, '2026-04-01T12:00:00.000Z');
    const second = op('PURCHASE', 950_000n, '2026-04-01T20:00:00.000Z');
    expect(rules(evaluateOperation(op('PURCHASE', 950_000n, '2026-04-02T11:59:59.999Z'), [first, second], { config }))).toEqual(['STRUCTURING']);
    expect(evaluateOperation(op('PURCHASE', 950_000n, '2026-04-02T12:00:00.000Z'), [first, second], { config })).toEqual([]);
  });

  it('does not fire for amounts outside the band (A$10,000 itself, A$8,999.99) or when the current one is outside it', () => {
    const history = [op('PURCHASE', 1_000_000n, '2026-04-01T01:00:00Z'), op('PURCHASE', 899_999n, '2026-04-01T02:00:00Z'), op('PURCHASE', 950_000n, '2026-04-01T03:00:00Z')];
    expect(evaluateOperation(op('PURCHASE', 960_000n, '2026-04-01T04:00:00Z'), history, { config })).toEqual([]);
    const inBand = [op('PURCHASE', 950_000n, '2026-04-01T01:00:00Z'), op('PURCHASE', 950_000n, '2026-04-01T02:00:00Z'), op('PURCHASE', 950_000n, '2026-04-01T03:00:00Z')];
    expect(evaluateOperation(op('PURCHASE', 10_000n, '2026-04-01T04:00:00Z'), inBand, { config })).toEqual([]);
  });
});

describe('SPIKE', () => {
  const config = only('spike', { multipleBps: 50_000, minHistoryDays: 14, minAmountAudCents: 10_000n });
  // 30 days of one A$100 purchase at noon Sydney (02:00 UTC), 2026-03-01 … 2026-03-30.
  const history = Array.from({ length: 30 }, (_, i) => op('PURCHASE', 10_000n, `2026-03-${String(i + 1).padStart(2, '0')}T02:00:00Z`));

  it('fires when today’s total is over 5× the daily mean, with the baseline as facts', () => {
    const [hit] = evaluateOperation(op('PURCHASE', 50_001n, '2026-03-31T02:00:00Z'), history, { config });
    expect(hit).toMatchObject({
      rule: 'SPIKE',
      facts: { kind: 'PURCHASE', day: '2026-03-31', dayTotalAudCents: 50_001n, baselineDays: 30, baselineTotalAudCents: 300_000n, baselineDailyMeanAudCents: 10_000n },
    });
  });

  it('does not fire at exactly 5× (the comparison is exact integers), nor for another kind', () => {
    expect(evaluateOperation(op('PURCHASE', 50_000n, '2026-03-31T02:00:00Z'), history, { config })).toEqual([]);
    expect(evaluateOperation(op('SALE', 5_000_000n, '2026-03-31T02:00:00Z'), history, { config })).toEqual([]);
  });

  it('today’s earlier operations add up: a second A$300 the same local day tips it over', () => {
    const today = [...history, op('PURCHASE', 30_000n, '2026-03-30T22:00:00Z')]; // 09:00 on the 31st in Sydney
    expect(rules(evaluateOperation(op('PURCHASE', 30_000n, '2026-03-31T03:00:00Z'), today, { config }))).toEqual(['SPIKE']);
  });

  it('does not fire for a tenant with less than 14 days of history', () => {
    expect(evaluateOperation(op('PURCHASE', 1_000_000n, '2026-03-06T02:00:00Z'), history.slice(0, 5), { config })).toEqual([]);
  });
});

describe('SCREENED_DESTINATION', () => {
  const list = parseScreeningList(`address,network,source,reason,added\n${ADDR},bitcoin,DFAT Consolidated List,test listing,2026-03-31\n`);
  const config = only('screenedDestination');
  it('a withdrawal to a listed address is held, with the listing as facts (case of bech32 does not matter)', () => {
    const [hit] = evaluateOperation(op('WITHDRAWAL', 5_000n, '2026-04-01T01:00:00Z', to(ADDR.toUpperCase())), [], { config, screeningList: list });
    expect(hit).toMatchObject({ rule: 'SCREENED_DESTINATION', severity: 'CRITICAL', action: 'HOLD', facts: { address: ADDR, listSource: 'DFAT Consolidated List', listedOn: '2026-03-31', listLine: 2 } });
  });
  it('an address not on the list, or a purchase, does not fire', () => {
    expect(evaluateOperation(op('WITHDRAWAL', 5_000n, '2026-04-01T01:00:00Z', to(OTHER)), [], { config, screeningList: list })).toEqual([]);
    expect(evaluateOperation(op('PURCHASE', 5_000n, '2026-04-01T01:00:00Z'), [], { config, screeningList: list })).toEqual([]);
  });
});

describe('NEW_DESTINATION', () => {
  const config = only('newDestination');
  it('the first withdrawal to an address fires', () => {
    const history = [op('WITHDRAWAL', 1_000n, '2026-03-01T01:00:00Z', to(OTHER))];
    const [hit] = evaluateOperation(op('WITHDRAWAL', 2_000n, '2026-04-01T01:00:00Z', to(ADDR)), history, { config });
    expect(hit).toMatchObject({ rule: 'NEW_DESTINATION', facts: { address: ADDR, network: 'bitcoin', knownDestinations: 1 } });
  });
  it('an address used before (in history or from the all-time list) does not', () => {
    const history = [op('WITHDRAWAL', 1_000n, '2026-03-01T01:00:00Z', to(ADDR.toUpperCase()))];
    expect(evaluateOperation(op('WITHDRAWAL', 2_000n, '2026-04-01T01:00:00Z', to(ADDR)), history, { config })).toEqual([]);
    expect(evaluateOperation(op('WITHDRAWAL', 2_000n, '2026-04-01T01:00:00Z', to(OTHER)), [], { config, knownDestinations: [`bitcoin:${OTHER}`] })).toEqual([]);
  });
});

describe('defaults and bad input', () => {
  it('with the default configuration a first A$12,000 withdrawal raises THRESHOLD and NEW_DESTINATION', () => {
    expect(rules(evaluateOperation(op('WITHDRAWAL', 1_200_000n, '2026-04-01T01:00:00Z', to(ADDR)), []))).toEqual(['NEW_DESTINATION', 'THRESHOLD']);
  });
  it('a disabled rule never fires', () => {
    const config = monitoringConfig({ threshold: { enabled: false }, newDestination: { enabled: false } });
    expect(evaluateOperation(op('WITHDRAWAL', 1_200_000n, '2026-04-01T01:00:00Z', to(ADDR)), [], { config })).toEqual([]);
  });
  it.each([
    [{ structuring: { marginAudCents: 1_000_000n } }, 'structuring.marginAudCents'],
    [{ velocity: { count: 1 } }, 'velocity.count'],
    [{ threshold: { amountAudCents: 0n } }, 'threshold.amountAudCents'],
    [{ spike: { multipleBps: 10_000 } }, 'spike.multipleBps'],
    [{ threshold: { kinds: [] } }, 'threshold.kinds'],
    [{ timeZone: 'Mars/Olympus' }, 'timeZone'],
  ])('bad settings %p are INVALID_MONITORING_CONFIG on %s', (patch, field) => {
    expect.assertions(2);
    try {
      monitoringConfig(patch);
    } catch (err) {
      expect(amlReasonOf(err)).toBe('INVALID_MONITORING_CONFIG');
      expect((err as { extensions: { field: string } }).extensions.field).toBe(field);
    }
  });
  it('a negative amount or a withdrawal without a valid destination is INVALID_OPERATION', () => {
    const reason = (o: MonitoredOperation): string | undefined => {
      try {
        evaluateOperation(o, []);
      } catch (err) {
        return amlReasonOf(err);
      }
    };
    expect(reason(op('PURCHASE', -1n, '2026-04-01T01:00:00Z'))).toBe('INVALID_OPERATION');
    expect(reason(op('WITHDRAWAL', 1n, '2026-04-01T01:00:00Z'))).toBe('INVALID_OPERATION');
    expect(reason(op('WITHDRAWAL', 1n, '2026-04-01T01:00:00Z', to('bc1qnotanaddress')))).toBe('INVALID_OPERATION');
  });
});
