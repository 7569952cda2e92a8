import { parcelsAsOf, replayHistory } from './parcel-ledger';
import { at } from '../../../test/helpers/present';
import { buy, company, individual, move, sell, t, typedError } from './tax.fixtures';
import type { Disposal, TaxHistory } from './tax.types';

const history = (h: Partial<TaxHistory>): TaxHistory => ({ acquisitions: [], disposals: [], ...h });

describe('parcel ledger: matching disposals to parcels', () => {
  it('FIFO splits one sale across two parcels', () => {
    // P1: 100,000 sats for $60.00 + $0.60 brokerage → cost base 6060c.
    // P2: 200,000 sats for $130.00 + $1.30 → cost base 13130c.
    // Sale (AEDT, +11): 150,000 sats for $100.00 less $1.00 brokerage → proceeds 9900c.
    const ledger = replayHistory(
      history({
        acquisitions: [buy('P1', '2024-08-01T10:00:00+10:00', 100_000n, 6000n, 60n), buy('P2', '2024-09-01T10:00:00+10:00', 200_000n, 13000n, 130n)],
        disposals: [sell('S1', '2024-10-15T10:00:00+11:00', 150_000n, 10000n, 100n)],
      }),
      individual,
    );
    const s1 = at(ledger.disposals, 0, 'disposals');
    // FIFO: all of P1 (6060c), then 50,000 of P2's 200,000: 13130 × 1/4 = 3282.5 → the tie goes to the part taken: 3283c.
    // Proceeds 9900 by sats 100,000 : 50,000 → 6600 and 3300 exactly.
    // Gains: 6600 − 6060 = 540 and 3300 − 3283 = 17; total 557 = 9900 − (6060 + 3283).
    expect(s1.matches.map((m) => [m.parcelId, m.sats, m.costBaseAudCents, m.proceedsAudCents, m.gainAudCents])).toEqual([
      ['P1', 100_000n, 6060n, 6600n, 540n],
      ['P2', 50_000n, 3283n, 3300n, 17n],
    ]);
    expect(s1).toMatchObject({ proceedsAudCents: 9900n, costBaseAudCents: 9343n, gainAudCents: 557n, capitalGainAudCents: 557n, capitalLossAudCents: 0n });
    // Held: 1 Aug → 15 Oct is 75 days apart, 74 whole days between; 1 Sep → 15 Oct: 44 apart, 43 between.
    expect(s1.matches.map((m) => [m.heldDays, m.heldAtLeast12Months, m.discountEligible])).toEqual([
      [74, false, false],
      [43, false, false],
    ]);
    expect(s1).toMatchObject({ disposedOn: '2024-10-15', financialYear: 2025, identification: { method: 'FIFO' } });
    // P2 keeps 150,000 sats and 13130 − 3283 = 9847c.
    expect(ledger.parcels.map((p) => [p.id, p.sats, p.costBaseAudCents])).toEqual([['P2', 150_000n, 9847n]]);
  });

  it('two sales from one parcel: the parts always add up to the parcel', () => {
    // P: 300,000 sats, cost base 30001c (an odd cent to split).
    // S1 100,000 sats: 30001/3 = 10000.33 taken, 20000.67 kept → the cent goes to the larger remainder (kept): 10000 | 20001.
    // S2 the other 200,000 sats: everything left, 20001c.
    const ledger = replayHistory(
      history({
        acquisitions: [buy('P', '2023-03-10T12:00:00+11:00', 300_000n, 30001n)],
        disposals: [sell('S1', '2023-05-01T12:00:00+10:00', 100_000n, 12000n), sell('S2', '2023-06-01T12:00:00+10:00', 200_000n, 25000n)],
      }),
      individual,
    );
    expect(ledger.disposals.map((d) => [d.disposalId, d.costBaseAudCents, d.gainAudCents])).toEqual([
      ['S1', 10000n, 2000n], // 12000 − 10000
      ['S2', 20001n, 4999n], // 25000 − 20001
    ]);
    expect(10000n + 20001n).toBe(30001n);
    expect(ledger.parcels).toEqual([]);
  });

  it('a sale of more than is held is refused with INSUFFICIENT_HOLDINGS', () => {
    const err = typedError(() =>
      replayHistory(
        history({
          acquisitions: [buy('P', '2023-03-10T12:00:00+11:00', 300_000n, 30001n)],
          disposals: [sell('S1', '2023-05-01T12:00:00+10:00', 300_001n, 12000n)],
        }),
        individual,
      ),
    );
    expect(err).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INSUFFICIENT_HOLDINGS' });
    expect(err.extensions).toMatchObject({ requestedSats: '300001', availableSats: '300000', eventId: 'S1' });
  });

  it('a sale before the bitcoin was bought is refused too (time order, not input order)', () => {
    const err = typedError(() =>
      replayHistory(
        history({ disposals: [sell('S1', '2023-05-01T12:00:00+10:00', 1n, 1n)], acquisitions: [buy('P', '2023-05-02T12:00:00+10:00', 10n, 10n)] }),
        individual,
      ),
    );
    expect(err.reason).toBe('INSUFFICIENT_HOLDINGS');
  });

  describe('specific identification', () => {
    const base = {
      acquisitions: [
        buy('CHEAP', '2023-01-10T12:00:00+11:00', 100_000n, 2_000_000n), // $20,000.00: 20c a sat
        buy('DEAR', '2023-02-10T12:00:00+11:00', 100_000n, 4_000_000n), // $40,000.00: 40c a sat
      ],
    };

    it('the user picks the parcels and sats', () => {
      // 60,000 sats for $30,000.00: 50,000 from DEAR (2,000,000c) and 10,000 from CHEAP (200,000c).
      // Proceeds 3,000,000 by 50,000 : 10,000 → 2,500,000 and 500,000.
      // Gains: 2,500,000 − 2,000,000 = 500,000 and 500,000 − 200,000 = 300,000.
      const s = sell('S', '2023-06-01T12:00:00+10:00', 60_000n, 3_000_000n, 0n, {
        identification: {
          method: 'SPECIFIC',
          parcels: [
            { parcelId: 'DEAR', sats: 50_000n },
            { parcelId: 'CHEAP', sats: 10_000n },
          ],
        },
      });
      const ledger = replayHistory(history({ ...base, disposals: [s] }), individual);
      expect(at(ledger.disposals, 0).matches.map((m) => [m.parcelId, m.costBaseAudCents, m.gainAudCents])).toEqual([
        ['DEAR', 2_000_000n, 500_000n],
        ['CHEAP', 200_000n, 300_000n],
      ]);
      expect(at(ledger.disposals, 0).identification.method).toBe('SPECIFIC');
      // FIFO would have taken 60,000 of CHEAP: cost 1,200,000, gain 1,800,000 instead of 800,000.
      const fifo = replayHistory(history({ ...base, disposals: [{ ...s, identification: undefined }] }), individual);
      expect(at(fifo.disposals, 0).gainAudCents).toBe(1_800_000n);
    });

    it('an unknown parcel is NOT_FOUND, a short one INSUFFICIENT_HOLDINGS, a wrong total SPECIFIC_SATS_MISMATCH', () => {
      const attempt = (identification: Disposal['identification'], sats = 10_000n) =>
        typedError(() => replayHistory(history({ ...base, disposals: [sell('S', '2023-06-01T12:00:00+10:00', sats, 1n, 0n, { identification })] }), individual));
      expect(attempt({ method: 'SPECIFIC', parcels: [{ parcelId: 'NOPE', sats: 10_000n }] })).toMatchObject({ code: 'NOT_FOUND', reason: 'UNKNOWN_PARCEL' });
      expect(attempt({ method: 'SPECIFIC', parcels: [{ parcelId: 'DEAR', sats: 100_001n }] }, 100_001n)).toMatchObject({
        code: 'BAD_USER_INPUT',
        reason: 'INSUFFICIENT_HOLDINGS',
      });
      expect(attempt({ method: 'SPECIFIC', parcels: [{ parcelId: 'DEAR', sats: 9_999n }] })).toMatchObject({ reason: 'SPECIFIC_SATS_MISMATCH' });
      expect(
        attempt({
          method: 'SPECIFIC',
          parcels: [
            { parcelId: 'DEAR', sats: 5_000n },
            { parcelId: 'DEAR', sats: 5_000n },
          ],
        }),
      ).toMatchObject({ reason: 'DUPLICATE_PARCEL_IN_CHOICE' });
    });
  });

  describe('named strategies chosen before the sale', () => {
    const acquisitions = [
      buy('A', '2023-01-10T12:00:00+11:00', 100_000n, 3_000_000n), // 30c/sat
      buy('B', '2023-02-10T12:00:00+11:00', 100_000n, 5_000_000n), // 50c/sat
      buy('C', '2023-03-10T12:00:00+11:00', 100_000n, 1_000_000n), // 10c/sat
    ];
    const chosenAt = t('2023-01-01T00:00:00+11:00');
    const run = (method: 'HIGHEST_COST_FIRST' | 'LOWEST_COST_FIRST' | 'LIFO') =>
      at(replayHistory(history({ acquisitions, disposals: [sell('S', '2023-06-01T12:00:00+10:00', 150_000n, 1n, 0n, { identification: { method, chosenAt } })] }), individual).disposals, 0)
        .matches.map((m) => [m.parcelId, m.sats]);

    it('HIGHEST_COST_FIRST takes B then A; LOWEST_COST_FIRST C then A; LIFO C then B', () => {
      expect(run('HIGHEST_COST_FIRST')).toEqual([
        ['B', 100_000n],
        ['A', 50_000n],
      ]);
      expect(run('LOWEST_COST_FIRST')).toEqual([
        ['C', 100_000n],
        ['A', 50_000n],
      ]);
      expect(run('LIFO')).toEqual([
        ['C', 100_000n],
        ['B', 50_000n],
      ]);
    });

    it('equal unit costs fall back to FIFO order', () => {
      const same = [buy('X2', '2023-02-01T12:00:00+11:00', 10n, 100n), buy('X1', '2023-01-01T12:00:00+11:00', 20n, 200n)];
      const { matches: m } = at(
        replayHistory(
          history({ acquisitions: same, disposals: [sell('S', '2023-03-01T12:00:00+11:00', 25n, 1n, 0n, { identification: { method: 'HIGHEST_COST_FIRST', chosenAt } })] }),
          individual,
        ).disposals,
        0,
      );
      expect(m.map((x) => x.parcelId)).toEqual(['X1', 'X2']);
    });

    it('a strategy chosen after the sale is refused', () => {
      const err = typedError(() =>
        replayHistory(
          history({
            acquisitions,
            disposals: [sell('S', '2023-06-01T12:00:00+10:00', 1n, 1n, 0n, { identification: { method: 'LIFO', chosenAt: t('2023-06-01T12:00:01+10:00') } })],
          }),
          individual,
        ),
      );
      expect(err).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'STRATEGY_CHOSEN_AFTER_SALE' });
    });
  });

  describe('average cost, only for parcels acquired the same day (TD 33)', () => {
    // Two fills on 5 March 2024: F1 100,000 sats 6000c, F2 100,000 sats 7001c; pool 200,000 sats, 13001c.
    const acquisitions = [buy('F1', '2024-03-05T09:00:00+11:00', 100_000n, 6000n), buy('F2', '2024-03-05T15:00:00+11:00', 100_000n, 7001n), buy('G', '2024-03-06T09:00:00+11:00', 5n, 5n)];

    it('a sale takes the pool average and the rest of the pool is averaged too', () => {
      // Taken: 13001 × 50,000/200,000 = 3250.25 → 3250 (kept 9750.75 has the larger remainder: 9751).
      // The remaining 9751c is spread by sats 50,000 : 100,000 = 3250.33 | 6500.67 → 3250 | 6501.
      const ledger = replayHistory(
        history({ acquisitions, disposals: [sell('S', '2024-04-01T12:00:00+11:00', 50_000n, 4000n, 0n, { identification: { method: 'SAME_DAY_AVERAGE', acquiredOn: '2024-03-05' } })] }),
        individual,
      );
      expect(at(ledger.disposals, 0).matches.map((m) => [m.parcelId, m.sats, m.costBaseAudCents])).toEqual([['F1', 50_000n, 3250n]]);
      expect(ledger.parcels.map((p) => [p.id, p.sats, p.costBaseAudCents])).toEqual([
        ['F1', 50_000n, 3250n],
        ['F2', 100_000n, 6501n],
        ['G', 5n, 5n],
      ]);
      // Conservation: 3250 + 3250 + 6501 = 13001.
    });

    it('without a date it averages the earliest day held; it never reaches into another day', () => {
      const over = typedError(() =>
        replayHistory(history({ acquisitions, disposals: [sell('S', '2024-04-01T12:00:00+11:00', 200_001n, 1n, 0n, { identification: { method: 'SAME_DAY_AVERAGE' } })] }), individual),
      );
      expect(over).toMatchObject({ reason: 'INSUFFICIENT_HOLDINGS' });
      expect(over.extensions).toMatchObject({ availableSats: '200000', acquiredOn: '2024-03-05' });
      const none = typedError(() =>
        replayHistory(
          history({ acquisitions, disposals: [sell('S', '2024-04-01T12:00:00+11:00', 1n, 1n, 0n, { identification: { method: 'SAME_DAY_AVERAGE', acquiredOn: '2024-03-07' } })] }),
          individual,
        ),
      );
      expect(none).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'NO_SAME_DAY_PARCELS' });
    });
  });

  describe('transfers between own wallets', () => {
    // P: 500,000 sats, cost base 50,000c, at kraken. Transfer 300,000 sats to cold storage, network fee 1,000 sats worth 50c.
    const acquisitions = [buy('P', '2024-01-10T12:00:00+11:00', 500_000n, 50_000n)];
    const transfers = [move('T1', '2024-02-01T12:00:00+11:00', 'kraken', 'cold', 300_000n, 1_000n, 50n)];

    it('moves parcels without a disposal; the fee is a FEE disposal at market value', () => {
      const ledger = replayHistory(history({ acquisitions, transfers }), individual);
      // Fee: 1,000 of 500,000 sats → 50,000 × 1/500 = 100c cost; proceeds 50c → a 50c capital loss.
      expect(ledger.disposals).toHaveLength(1);
      expect(ledger.disposals[0]).toMatchObject({
        disposalId: 'T1:fee',
        type: 'FEE',
        transferId: 'T1',
        sats: 1_000n,
        costBaseAudCents: 100n,
        proceedsAudCents: 50n,
        gainAudCents: -50n,
        capitalLossAudCents: 50n,
      });
      // Moved: 300,000 of the remaining 499,000 sats: 49,900 × 300/499 = 30,000 exactly. P keeps 199,000 sats, 19,900c.
      expect(ledger.parcels.map((p) => [p.id, p.wallet, p.sats, p.costBaseAudCents, p.acquiredOn])).toEqual([
        ['P', 'kraken', 199_000n, 19_900n, '2024-01-10'],
        ['P>T1', 'cold', 300_000n, 30_000n, '2024-01-10'],
      ]);
      // 100 + 19,900 + 30,000 = 50,000: nothing created or lost.
    });

    it('a sale restricted to a wallet matches only the parcels held there', () => {
      const ledger = replayHistory(history({ acquisitions, transfers, disposals: [sell('S', '2024-03-01T12:00:00+11:00', 300_000n, 40_000n, 0n, { wallet: 'cold' })] }), individual);
      expect(at(ledger.disposals, 1).matches.map((m) => [m.parcelId, m.acquiredOn, m.costBaseAudCents])).toEqual([['P>T1', '2024-01-10', 30_000n]]);
      const err = typedError(() =>
        replayHistory(history({ acquisitions, transfers, disposals: [sell('S', '2024-03-01T12:00:00+11:00', 200_000n, 1n, 0n, { wallet: 'kraken' })] }), individual),
      );
      expect(err.extensions).toMatchObject({ reason: 'INSUFFICIENT_HOLDINGS', availableSats: '199000', wallet: 'kraken' });
    });

    it('a parcel that moves whole keeps its id; more than the wallet holds is refused', () => {
      const whole = replayHistory(history({ acquisitions, transfers: [move('T2', '2024-02-01T12:00:00+11:00', 'kraken', 'cold', 500_000n)] }), individual);
      expect(whole.parcels.map((p) => [p.id, p.wallet, p.sats, p.costBaseAudCents])).toEqual([['P', 'cold', 500_000n, 50_000n]]);
      expect(whole.disposals).toEqual([]);
      const err = typedError(() => replayHistory(history({ acquisitions, transfers: [move('T3', '2024-02-01T12:00:00+11:00', 'kraken', 'cold', 500_000n, 1n, 1n)] }), individual));
      expect(err.reason).toBe('INSUFFICIENT_HOLDINGS');
      expect(typedError(() => replayHistory(history({ acquisitions, transfers: [move('T4', '2024-02-01T12:00:00+11:00', 'kraken', 'kraken', 1n)] }), individual)).reason).toBe(
        'SAME_WALLET_TRANSFER',
      );
    });
  });

  describe('history imported from elsewhere', () => {
    it('a disposal with no acquisition history is never silently zero-cost: the unknown part is flagged', () => {
      // Holds 100,000 sats (cost 5,000c); the imported sale is 150,000 sats for 9,000c.
      // Proceeds by sats 100,000 : 50,000 → 6,000 | 3,000. Known part gains 1,000; the unknown part has no cost base (0) and is flagged.
      const ledger = replayHistory(
        history({
          acquisitions: [buy('P', '2024-01-10T12:00:00+11:00', 100_000n, 5_000n)],
          disposals: [sell('X', '2024-02-10T12:00:00+11:00', 150_000n, 9_000n, 0n, { source: 'IMPORT' })],
        }),
        individual,
      );
      const x = at(ledger.disposals, 0, 'disposals');
      expect(x.flags).toEqual(['UNKNOWN_ACQUISITION_HISTORY']);
      expect(x.matches.map((m) => [m.parcelId, m.sats, m.costBaseAudCents, m.proceedsAudCents, m.unknownHistory, m.discountEligible])).toEqual([
        ['P', 100_000n, 5_000n, 6_000n, false, false],
        [null, 50_000n, 0n, 3_000n, true, false],
      ]);
    });

    it('a platform sale with the same shortfall is refused instead', () => {
      const err = typedError(() =>
        replayHistory(
          history({ acquisitions: [buy('P', '2024-01-10T12:00:00+11:00', 100_000n, 5_000n)], disposals: [sell('X', '2024-02-10T12:00:00+11:00', 150_000n, 9_000n)] }),
          individual,
        ),
      );
      expect(err.reason).toBe('INSUFFICIENT_HOLDINGS');
    });
  });

  describe('cost base edits (audited, with a reason)', () => {
    const acquisitions = [buy('P', '2024-01-10T12:00:00+11:00', 100_000n, 5_000n)];
    const adj = { id: 'ADJ1', parcelId: 'P', effectiveAt: t('2024-01-10T12:00:00+11:00'), recordedAt: t('2024-03-01T09:00:00+11:00'), costBaseAudCents: 5_500n, reason: 'exchange fee missing from the fill', actorId: 'u1' };

    it('from its effective time the parcel has the new cost base', () => {
      const ledger = replayHistory(history({ acquisitions, adjustments: [adj], disposals: [sell('S', '2024-02-10T12:00:00+11:00', 50_000n, 4_000n)] }), individual);
      // 5,500 × 1/2 = 2,750 to the sale; 2,750 stays.
      expect(at(ledger.disposals, 0).costBaseAudCents).toBe(2_750n);
      expect(ledger.parcels[0]).toMatchObject({ costBaseAudCents: 2_750n, costBaseAdjusted: true });
      expect(ledger.adjustments).toEqual([{ ...adj, sats: 100_000n, previousCostBaseAudCents: 5_000n }]);
    });

    it('needs a reason and an existing parcel', () => {
      expect(typedError(() => replayHistory(history({ acquisitions, adjustments: [{ ...adj, reason: '  ' }] }), individual))).toMatchObject({
        code: 'BAD_USER_INPUT',
        reason: 'REASON_REQUIRED',
      });
      expect(typedError(() => replayHistory(history({ acquisitions, adjustments: [{ ...adj, parcelId: 'Q' }] }), individual))).toMatchObject({
        code: 'NOT_FOUND',
        reason: 'UNKNOWN_PARCEL',
      });
    });
  });

  describe('GST on fees', () => {
    it('a GST-registered tenant claims the fee GST as an input tax credit, so it leaves the cost base (s 103-30)', () => {
      // Fee $1.10 GST-inclusive → GST 110/11 = 10c; cost base 10,000 + 110 − 10 = 10,100c.
      const acq = buy('P', '2024-01-10T12:00:00+11:00', 1_000n, 10_000n, 110n, { feeGstInclusive: true });
      expect(replayHistory(history({ acquisitions: [acq] }), company).parcels[0]?.costBaseAudCents).toBe(10_100n);
      // Not registered: no credit, the GST stays in the cost base: 10,110c.
      expect(replayHistory(history({ acquisitions: [acq] }), individual).parcels[0]?.costBaseAudCents).toBe(10_110n);
      // A recorded component the tenant does not claim (e.g. over the financial acquisitions threshold) stays in.
      const unclaimed = { ...acq, feeGstInclusive: undefined, feeGstAudCents: 10n, feeItcClaimed: false };
      expect(replayHistory(history({ acquisitions: [unclaimed] }), company).parcels[0]?.costBaseAudCents).toBe(10_110n);
    });

    it('refuses a GST component above the fee, both forms at once, or a credit without registration', () => {
      const acq = buy('P', '2024-01-10T12:00:00+11:00', 1_000n, 10_000n, 110n);
      expect(typedError(() => replayHistory(history({ acquisitions: [{ ...acq, feeGstAudCents: 111n }] }), company)).reason).toBe('GST_EXCEEDS_FEE');
      expect(typedError(() => replayHistory(history({ acquisitions: [{ ...acq, feeGstAudCents: 10n, feeGstInclusive: true }] }), company)).reason).toBe('GST_AMBIGUOUS');
      expect(typedError(() => replayHistory(history({ acquisitions: [{ ...acq, feeGstAudCents: 10n, feeItcClaimed: true }] }), individual)).reason).toBe('ITC_NOT_REGISTERED');
    });
  });

  describe('bad input', () => {
    const ok = buy('P', '2024-01-10T12:00:00+11:00', 100n, 100n);
    it.each([
      ['negative sats', { ...ok, sats: -1n }, 'NEGATIVE_SATS'],
      ['zero sats', { ...ok, sats: 0n }, 'ZERO_SATS'],
      ['fractional sats', { ...ok, sats: 1.5 as unknown as bigint }, 'FRACTIONAL_SATS'],
      ['a float for cents', { ...ok, costAudCents: 12.34 as unknown as bigint }, 'FRACTIONAL_CENTS'],
      ['negative cents', { ...ok, feeAudCents: -1n }, 'NEGATIVE_AMOUNT'],
      ['an invalid time', { ...ok, at: new Date('nope') }, 'INVALID_TIME'],
      ['an id with ">"', { ...ok, id: 'a>b' }, 'INVALID_ID'],
      ['an unknown source', { ...ok, source: 'GIFT' as never }, 'INVALID_EVENT'],
    ])('%s is BAD_USER_INPUT', (_name, acquisition, reason) => {
      expect(typedError(() => replayHistory(history({ acquisitions: [acquisition] }), individual))).toMatchObject({ code: 'BAD_USER_INPUT', reason });
    });

    it('duplicate ids are a CONFLICT; a fee above the proceeds and an unknown zone are BAD_USER_INPUT', () => {
      expect(typedError(() => replayHistory(history({ acquisitions: [ok, ok] }), individual))).toMatchObject({ code: 'CONFLICT', reason: 'DUPLICATE_ID' });
      expect(
        typedError(() => replayHistory(history({ acquisitions: [ok], transfers: [move('P', '2024-02-01T00:00:00+11:00', 'kraken', 'cold', 1n)] }), individual)),
      ).toMatchObject({ code: 'CONFLICT', reason: 'DUPLICATE_ID' });
      expect(typedError(() => replayHistory(history({ acquisitions: [ok], disposals: [sell('S', '2024-02-01T00:00:00+11:00', 1n, 10n, 11n)] }), individual)).reason).toBe(
        'FEE_EXCEEDS_PROCEEDS',
      );
      expect(typedError(() => replayHistory(history({ acquisitions: [ok] }), { ...individual, timeZone: 'Nowhere/Land' })).reason).toBe('INVALID_TIME_ZONE');
      expect(
        typedError(() =>
          replayHistory(
            history({ acquisitions: [ok], transfers: [move('T', '2024-02-01T00:00:00+11:00', 'kraken', 'cold', 1n, 0n, 0n, { identification: { method: 'SAME_DAY_AVERAGE' } })] }),
            individual,
          ),
        ).reason,
      ).toBe('INVALID_IDENTIFICATION');
    });
  });

  it('parcels(asOf) is the inventory at that instant, inclusive', () => {
    const h = history({
      acquisitions: [buy('P1', '2024-01-10T12:00:00+11:00', 100n, 100n), buy('P2', '2024-01-11T12:00:00+11:00', 100n, 300n)],
      disposals: [sell('S', '2024-01-12T12:00:00+11:00', 150n, 1000n)],
    });
    expect(parcelsAsOf(h, individual, t('2024-01-10T11:59:59+11:00'))).toEqual([]);
    expect(parcelsAsOf(h, individual, t('2024-01-11T12:00:00+11:00')).map((p) => [p.id, p.sats])).toEqual([
      ['P1', 100n],
      ['P2', 100n],
    ]);
    // After S: P1 gone, 50 of P2 left with 300 × 1/2 = 150c.
    expect(parcelsAsOf(h, individual, t('2024-01-12T12:00:00+11:00')).map((p) => [p.id, p.sats, p.costBaseAudCents])).toEqual([['P2', 50n, 150n]]);
  });
});
