import fc from 'fast-check';
import { at } from '../../../test/helpers/present';
import { booksReasonOf } from './errors';
import {
  assertBalanced,
  centsFromWireNumber,
  centsToWireNumber,
  journalForFill,
  journalForSale,
  journalNumberFor,
  journalTotals,
  type AccountMapping,
  type Journal,
} from './journal';

const mapping: AccountMapping = {
  digitalAsset: '1450',
  exchangeClearing: '1460',
  feesExpense: '6100',
  realisedGain: '4800',
  realisedLoss: '6900',
  gstOnFees: '820',
};

const reasonOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    return booksReasonOf(err);
  }
  return undefined;
};

const simple = (j: Journal): Array<[string, string, string]> => j.lines.map((l) => [l.role, l.side, l.amountAudCents.toString()]);

describe('journalForFill', () => {
  const fill = { purchaseId: 'p_123', at: new Date('2025-06-30T14:30:00Z'), satoshis: 12_345_678n, spentAudCents: 1_234_567n, feeAudCents: 1_235n, exchange: 'kraken' };

  it('capitalises the fee into the cost base by default: Dr asset spent+fee, Cr clearing', () => {
    const j = journalForFill(fill, mapping);
    expect(simple(j)).toEqual([
      ['digitalAsset', 'DEBIT', '1235802'],
      ['exchangeClearing', 'CREDIT', '1235802'],
    ]);
    expect(j.idempotencyKey).toBe('abt-fill-p_123');
    // 14:30 UTC on 30 June is 00:30 on 1 July in Sydney: the new financial year.
    expect(j.date).toBe('2025-07-01');
    expect(j.narration).toBe('Liquid ABT: 0.12345678 BTC bought on kraken for $12345.67 + fee $12.35 [abt-fill-p_123]');
  });

  it('takes a claimed GST credit on the fee out of the cost base onto the GST account', () => {
    const j = journalForFill({ ...fill, feeGst: { itcAudCents: 112n } }, mapping);
    expect(simple(j)).toEqual([
      ['digitalAsset', 'DEBIT', '1235690'],
      ['gstOnFees', 'DEBIT', '112'],
      ['exchangeClearing', 'CREDIT', '1235802'],
    ]);
  });

  it('expenses the fee when the tenant chose EXPENSE', () => {
    const j = journalForFill(fill, { ...mapping, feeTreatment: 'EXPENSE' });
    expect(simple(j)).toEqual([
      ['digitalAsset', 'DEBIT', '1234567'],
      ['feesExpense', 'DEBIT', '1235'],
      ['exchangeClearing', 'CREDIT', '1235802'],
    ]);
  });

  it('carries the mapped tax types per line', () => {
    const j = journalForFill(fill, { ...mapping, taxTypes: { digitalAsset: 'BASEXCLUDED', exchangeClearing: 'BASEXCLUDED' } });
    expect(j.lines.map((l) => l.taxType)).toEqual(['BASEXCLUDED', 'BASEXCLUDED']);
  });

  it('refuses bad input with a stable reason', () => {
    expect(reasonOf(() => journalForFill({ ...fill, spentAudCents: 0n }, mapping))).toBe('INVALID_AMOUNT');
    expect(reasonOf(() => journalForFill({ ...fill, feeAudCents: -1n }, mapping))).toBe('INVALID_AMOUNT');
    expect(reasonOf(() => journalForFill({ ...fill, spentAudCents: 12.5 as unknown as bigint }, mapping))).toBe('INVALID_AMOUNT');
    expect(reasonOf(() => journalForFill({ ...fill, satoshis: 0n }, mapping))).toBe('INVALID_AMOUNT');
    expect(reasonOf(() => journalForFill({ ...fill, purchaseId: 'has space' }, mapping))).toBe('INVALID_SOURCE_ID');
    expect(reasonOf(() => journalForFill({ ...fill, feeGst: { itcAudCents: 2_000n } }, mapping))).toBe('GST_EXCEEDS_FEE');
    expect(reasonOf(() => journalForFill({ ...fill, feeGst: { itcAudCents: 1n } }, { ...mapping, gstOnFees: undefined }))).toBe('GST_ACCOUNT_REQUIRED');
    expect(reasonOf(() => journalForFill(fill, { ...mapping, realisedGain: ' ' }))).toBe('INVALID_MAPPING');
    expect(reasonOf(() => journalForFill(fill, { ...mapping, exchangeClearing: '1450' }))).toBe('INVALID_MAPPING');
  });
});

describe('journalForSale', () => {
  const sale = { saleId: 's_9', at: new Date('2025-03-01T00:00:00Z'), satoshis: 5_000_000n, proceedsAudCents: 500_000n, feeAudCents: 500n, costBaseAudCents: 400_000n, exchange: 'swyftx' };

  it('COST_BASE: the realised gain is net of the fee and equals the tax kernel gain', () => {
    const j = journalForSale({ ...sale, gainAudCents: 99_500n }, mapping);
    expect(simple(j)).toEqual([
      ['exchangeClearing', 'DEBIT', '499500'],
      ['digitalAsset', 'CREDIT', '400000'],
      ['realisedGain', 'CREDIT', '99500'],
    ]);
    expect(j.idempotencyKey).toBe('abt-sale-s_9');
  });

  it('EXPENSE: Dr fees and the gain before fees', () => {
    const j = journalForSale({ ...sale, gainAudCents: 99_500n }, { ...mapping, feeTreatment: 'EXPENSE' });
    expect(simple(j)).toEqual([
      ['exchangeClearing', 'DEBIT', '499500'],
      ['feesExpense', 'DEBIT', '500'],
      ['digitalAsset', 'CREDIT', '400000'],
      ['realisedGain', 'CREDIT', '100000'],
    ]);
  });

  it('a loss is a debit to realised losses; a nil result has no gain line', () => {
    const loss = journalForSale({ ...sale, costBaseAudCents: 600_000n }, mapping);
    expect(simple(loss)).toEqual([
      ['exchangeClearing', 'DEBIT', '499500'],
      ['digitalAsset', 'CREDIT', '600000'],
      ['realisedLoss', 'DEBIT', '100500'],
    ]);
    const nil = journalForSale({ ...sale, costBaseAudCents: 499_500n }, mapping);
    expect(nil.lines.map((l) => l.role)).toEqual(['exchangeClearing', 'digitalAsset']);
  });

  it('a GST credit on the selling fee goes to GST and raises the gain (selling costs exclude it)', () => {
    const j = journalForSale({ ...sale, feeGst: { itcAudCents: 45n }, gainAudCents: 99_545n }, mapping);
    expect(simple(j)).toEqual([
      ['exchangeClearing', 'DEBIT', '499500'],
      ['gstOnFees', 'DEBIT', '45'],
      ['digitalAsset', 'CREDIT', '400000'],
      ['realisedGain', 'CREDIT', '99545'],
    ]);
  });

  it('refuses a gain that does not agree with its own inputs, and a fee above the proceeds', () => {
    expect(reasonOf(() => journalForSale({ ...sale, gainAudCents: 100_000n }, mapping))).toBe('GAIN_MISMATCH');
    expect(reasonOf(() => journalForSale({ ...sale, feeAudCents: 500_001n }, mapping))).toBe('FEE_EXCEEDS_PROCEEDS');
    expect(reasonOf(() => journalForSale({ ...sale, costBaseAudCents: -1n }, mapping))).toBe('INVALID_AMOUNT');
  });
});

describe('assertBalanced', () => {
  it('refuses a journal whose debits and credits differ by a cent, and one with a zero line', () => {
    const j = journalForFill({ purchaseId: 'p', at: new Date(), satoshis: 1n, spentAudCents: 100n, feeAudCents: 0n, exchange: 'paper' }, mapping);
    expect(reasonOf(() => assertBalanced({ ...j, lines: [at(j.lines, 0), { ...at(j.lines, 1), amountAudCents: 99n }] }))).toBe('UNBALANCED_JOURNAL');
    expect(reasonOf(() => assertBalanced({ ...j, lines: [...j.lines, { ...at(j.lines, 0), amountAudCents: 0n }] }))).toBe('UNBALANCED_JOURNAL');
    expect(reasonOf(() => assertBalanced({ ...j, lines: [at(j.lines, 0)] }))).toBe('UNBALANCED_JOURNAL');
  });
});

describe('properties', () => {
  const amount = fc.bigInt({ min: 0n, max: 10n ** 13n });
  const treatment = fc.constantFrom<'COST_BASE' | 'EXPENSE'>('COST_BASE', 'EXPENSE');

  it('every fill balances to the cent, with positive lines and the asset at the tax cost base', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 10n ** 13n }), amount, fc.bigInt({ min: 0n, max: 1000n }), treatment, (spent, fee, gstPermille, feeTreatment) => {
        const itc = (fee * gstPermille) / 1000n;
        const j = journalForFill({ purchaseId: 'p', at: new Date(0), satoshis: 1n, spentAudCents: spent, feeAudCents: fee, exchange: 'x', feeGst: { itcAudCents: itc } }, { ...mapping, feeTreatment });
        const t = journalTotals(j.lines);
        expect(t.debitAudCents).toBe(t.creditAudCents);
        expect(t.creditAudCents).toBe(spent + fee);
        expect(j.lines.every((l) => l.amountAudCents > 0n)).toBe(true);
        const asset = j.lines.find((l) => l.role === 'digitalAsset')!.amountAudCents;
        expect(asset).toBe(feeTreatment === 'COST_BASE' ? spent + fee - itc : spent);
      }),
    );
  });

  it('every sale balances to the cent and, under COST_BASE, books exactly the tax gain', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 10n ** 13n }), fc.bigInt({ min: 0n, max: 1000n }), amount, fc.bigInt({ min: 0n, max: 1000n }), treatment, (proceeds, feePermille, costBase, gstPermille, feeTreatment) => {
        const fee = (proceeds * feePermille) / 1000n;
        const itc = (fee * gstPermille) / 1000n;
        const gain = proceeds - (fee - itc) - costBase;
        const j = journalForSale(
          { saleId: 's', at: new Date(0), proceedsAudCents: proceeds, feeAudCents: fee, costBaseAudCents: costBase, gainAudCents: gain, exchange: 'x', feeGst: { itcAudCents: itc } },
          { ...mapping, feeTreatment },
        );
        const t = journalTotals(j.lines);
        expect(t.debitAudCents).toBe(t.creditAudCents);
        expect(j.lines.every((l) => l.amountAudCents > 0n)).toBe(true);
        const booked = (j.lines.find((l) => l.role === 'realisedGain')?.amountAudCents ?? 0n) - (j.lines.find((l) => l.role === 'realisedLoss')?.amountAudCents ?? 0n);
        expect(booked).toBe(feeTreatment === 'COST_BASE' ? gain : proceeds - costBase);
      }),
    );
  });

  it('cents survive the trip to a JSON number and back exactly', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 15n), max: 10n ** 15n }), (c) => {
        const n = centsToWireNumber(c);
        expect(centsFromWireNumber(JSON.parse(JSON.stringify(n)))).toBe(c);
      }),
    );
  });
});

describe('journalNumberFor', () => {
  it('is 13 characters, deterministic and differs per key', () => {
    const a = journalNumberFor('abt-fill-p_1');
    expect(a).toMatch(/^ABT[A-Z2-9]{10}$/);
    expect(journalNumberFor('abt-fill-p_1')).toBe(a);
    expect(journalNumberFor('abt-fill-p_2')).not.toBe(a);
  });

  it('refuses wire amounts that are not whole cents', () => {
    expect(() => centsFromWireNumber(0.001)).toThrow();
    expect(() => centsFromWireNumber('abc')).toThrow();
    expect(centsFromWireNumber(12.3)).toBe(1230n);
  });
});
