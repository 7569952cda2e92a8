import { capitalGainsReport } from './cgt-report';
import { importHistoryCsv, parseHistoryCsv, parseTimeWithOffset, splitCsvRecords, type CsvRowError } from './history-csv';
import { buy, individual, typedError } from './tax.fixtures';
import type { TaxHistory } from './tax.types';

const empty: TaxHistory = { acquisitions: [], disposals: [] };
const rowErrors = (fn: () => unknown): [number, string | null, string][] => {
  const err = typedError(fn);
  expect(err).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'CSV_INVALID' });
  return (err.extensions.errors as CsvRowError[]).map((e) => [e.line, e.column, e.reason]);
};

describe('history CSV import', () => {
  const good = [
    'Time,Type,BTC,AUD,Fee,Source,Parcels,Id',
    '2023-07-03T10:00:00+10:00,BUY,0.0015,100.00,0.50,"Coin, Spot ""AU""",,c1',
    '2023-08-03T10:00:00Z,buy,0.00100000,70.1,0,coinspot,,c2',
    '2023-09-01T09:00:00.5+10:00,SELL,0.002,150.00,1.00,coinspot,c2:100000;c1:100000,s1',
    '2023-10-01 09:00+10:00,SPEND,0.0005,"40.00",,coinspot,,',
    '',
  ].join('\r\n');

  it('parses RFC 4180 quoting, exact decimals and offsets into acquisitions and disposals', () => {
    const parsed = parseHistoryCsv(good, { batchId: 'b1' });
    expect(parsed.acquisitions).toEqual([
      { id: 'c1', source: 'IMPORT', at: new Date('2023-07-03T00:00:00Z'), sats: 150_000n, costAudCents: 10_000n, feeAudCents: 50n, exchange: 'Coin, Spot "AU"', wallet: 'Coin, Spot "AU"' },
      { id: 'c2', source: 'IMPORT', at: new Date('2023-08-03T10:00:00Z'), sats: 100_000n, costAudCents: 7_010n, feeAudCents: 0n, exchange: 'coinspot', wallet: 'coinspot' },
    ]);
    expect(parsed.disposals).toEqual([
      {
        id: 's1',
        type: 'SALE',
        source: 'IMPORT',
        at: new Date('2023-08-31T23:00:00.500Z'),
        sats: 200_000n,
        proceedsAudCents: 15_000n,
        feeAudCents: 100n,
        exchange: 'coinspot',
        identification: {
          method: 'SPECIFIC',
          parcels: [
            { parcelId: 'c2', sats: 100_000n },
            { parcelId: 'c1', sats: 100_000n },
          ],
        },
      },
      { id: 'b1:5', type: 'SPEND', source: 'IMPORT', at: new Date('2023-09-30T23:00:00Z'), sats: 50_000n, proceedsAudCents: 4_000n, feeAudCents: 0n, exchange: 'coinspot' },
    ]);
    expect(parsed.lineOf).toEqual({ c1: 2, c2: 3, s1: 4, 'b1:5': 5 });
  });

  it('imports into the history and reports on it', () => {
    const { history } = importHistoryCsv(empty, individual, good, { batchId: 'b1' });
    // s1: c2 whole (7,010) + 100,000 of c1's 150,000 (10,050 × 2/3 = 6,700); proceeds 14,900 split 7,450 | 7,450.
    //     Gains 7,450 − 7,010 = 440 and 7,450 − 6,700 = 750.
    // Spend: FIFO takes c1's last 50,000 sats (3,350) for 4,000 → 650. Total 1,840, all held under 12 months.
    expect(capitalGainsReport(history, individual, 2024).summary.netCapitalGainAudCents).toBe(1_840n);
  });

  it('reports every bad row with its line number and accepts nothing', () => {
    const bad = [
      'time,type,sats,aud,fee,source',
      '2023-07-03T10:00:00,BUY,1000,1.00,0,x',
      '2023-07-03T10:00:00+10:00,BUY,1000.5,1.00,0,x',
      '2023-07-03T10:00:00+10:00,BUY,-5,1.00,0,x',
      '2023-07-03T10:00:00+10:00,BUY,1000,1.001,0,x',
      '2023-07-03T10:00:00+10:00,GIFT,1000,1.00,0,x',
      '2023-07-03T10:00:00+10:00,BUY,1000,"1,000.00",0,x',
      '2023-07-03T10:00:00+10:00,BUY,1000,1.00,0',
      '2023-02-30T10:00:00+10:00,BUY,1000,1.00,0,x',
      '2023-07-03T10:00:00+10:00,BUY,1e3,1.00,0,x',
      '2023-07-03T10:00:00+10:00,SELL,1000,1.00,2.00,x',
      '2023-07-03T10:00:00+10:00,BUY,1000,1.00,0,',
      '2023-07-03T10:00:00+10:00,BUY,1000.000,1.00,0,x',
      '2023-07-03T10:00:00+10:00,BUY,0,1.00,0,x',
    ].join('\n');
    expect(rowErrors(() => parseHistoryCsv(bad, { batchId: 'b' }))).toEqual([
      [2, 'time', 'TIME_OFFSET_REQUIRED'],
      [3, 'sats', 'FRACTIONAL_SATS'],
      [4, 'sats', 'NEGATIVE_SATS'],
      [5, 'aud', 'FRACTIONAL_CENTS'],
      [6, 'type', 'UNKNOWN_TYPE'],
      [7, 'aud', 'INVALID_AMOUNT'],
      [8, null, 'FIELD_COUNT'],
      [9, 'time', 'INVALID_TIME'],
      [10, 'sats', 'INVALID_AMOUNT'],
      [11, 'fee', 'FEE_EXCEEDS_PROCEEDS'],
      [12, 'source', 'MISSING_VALUE'],
      // line 13 ("1000.000" sats is exactly 1000) is fine
      [14, 'sats', 'ZERO_SATS'],
    ]);
  });

  it('numbers lines by where a record starts, across quoted newlines', () => {
    const text = 'time,type,sats,aud,source\n2023-07-03T10:00:00+10:00,BUY,1,1.00,"cold\nstorage"\n2023-07-03T10:00:00+10:00,BUY,1.5,1.00,x\n';
    expect(splitCsvRecords(text).map((r) => r.line)).toEqual([1, 2, 4]);
    expect(rowErrors(() => parseHistoryCsv(text, { batchId: 'b' }))).toEqual([[4, 'sats', 'FRACTIONAL_SATS']]);
  });

  it('refuses a malformed file, a bad header or an empty file', () => {
    expect(rowErrors(() => parseHistoryCsv('time,type\n"2023,BUY\n', { batchId: 'b' }))).toEqual([[2, null, 'MALFORMED_CSV']]);
    expect(rowErrors(() => parseHistoryCsv('time,type\nab"c,BUY\n', { batchId: 'b' }))).toEqual([[2, null, 'MALFORMED_CSV']]);
    expect(rowErrors(() => parseHistoryCsv('time,type\n"a"b,BUY\n', { batchId: 'b' }))).toEqual([[2, null, 'MALFORMED_CSV']]);
    expect(rowErrors(() => parseHistoryCsv('time,type,sats,btc,aud,fees\n', { batchId: 'b' }))).toEqual([
      [1, 'fees', 'UNKNOWN_COLUMN'],
      [1, 'sats/btc', 'DUPLICATE_COLUMN'],
      [1, 'source', 'MISSING_COLUMN'],
    ]);
    expect(rowErrors(() => parseHistoryCsv('\uFEFF', { batchId: 'b' }))).toEqual([[1, null, 'EMPTY_FILE']]);
  });

  it('parcel choices: strategies and same-day average; none on an acquisition', () => {
    const text = [
      'time,type,sats,aud,source,parcels',
      '2023-07-03T10:00:00+10:00,SELL,1,1.00,x,lifo',
      '2023-07-03T10:00:00+10:00,SELL,1,1.00,x,SAME_DAY_AVERAGE:2023-07-01',
      '2023-07-03T10:00:00+10:00,SELL,1,1.00,x,FIFO',
    ].join('\n');
    const { disposals } = parseHistoryCsv(text, { batchId: 'b' });
    expect(disposals.map((d) => d.identification)).toEqual([
      { method: 'LIFO', chosenAt: new Date('2023-07-03T00:00:00Z') },
      { method: 'SAME_DAY_AVERAGE', acquiredOn: '2023-07-01' },
      { method: 'FIFO' },
    ]);
    expect(
      rowErrors(() =>
        parseHistoryCsv(['time,type,sats,aud,source,parcels', '2023-07-03T10:00:00+10:00,BUY,1,1.00,x,FIFO', '2023-07-03T10:00:00+10:00,SELL,1,1.00,x,pick-some'].join('\n'), {
          batchId: 'b',
        }),
      ),
    ).toEqual([
      [2, 'parcels', 'INVALID_PARCEL_CHOICE'],
      [3, 'parcels', 'INVALID_PARCEL_CHOICE'],
    ]);
  });

  it('an import that does not fit the history is refused whole, with the line that broke it', () => {
    const existing: TaxHistory = { acquisitions: [buy('c1', '2023-07-01T10:00:00+10:00', 10n, 10n)], disposals: [] };
    const dup = 'time,type,sats,aud,source,id\n2023-08-01T10:00:00+10:00,BUY,5,1.00,x,n1\n2023-08-02T10:00:00+10:00,BUY,5,1.00,x,c1\n';
    expect(rowErrors(() => importHistoryCsv(existing, individual, dup, { batchId: 'b' }))).toEqual([[3, null, 'DUPLICATE_ID']]);
    const unknownParcel = 'time,type,sats,aud,source,parcels\n2023-08-01T10:00:00+10:00,SELL,5,1.00,x,zz:5\n';
    expect(rowErrors(() => importHistoryCsv(existing, individual, unknownParcel, { batchId: 'b' }))).toEqual([[2, null, 'UNKNOWN_PARCEL']]);
    const closedRows = 'time,type,sats,aud,source\n2024-06-30T10:00:00+10:00,BUY,5,1.00,x\n2024-07-01T10:00:00+10:00,BUY,5,1.00,x\n2023-01-01T10:00:00+11:00,BUY,5,1.00,x\n';
    expect(rowErrors(() => importHistoryCsv(existing, { ...individual, closedThroughYear: 2024 }, closedRows, { batchId: 'b' }))).toEqual([
      [2, 'time', 'YEAR_CLOSED'],
      [4, 'time', 'YEAR_CLOSED'],
    ]);
    expect(existing.acquisitions).toHaveLength(1);
  });

  it('times need an offset, a real date and a sane offset', () => {
    expect(parseTimeWithOffset('2024-07-01T00:00:00+10:00').toISOString()).toBe('2024-06-30T14:00:00.000Z');
    expect(parseTimeWithOffset('2024-07-01T00:00-0930').toISOString()).toBe('2024-07-01T09:30:00.000Z');
    expect(typedError(() => parseTimeWithOffset('2024-07-01T00:00:00')).reason).toBe('TIME_OFFSET_REQUIRED');
    expect(typedError(() => parseTimeWithOffset('2024-07-01T24:00:00Z')).reason).toBe('INVALID_TIME');
    expect(typedError(() => parseTimeWithOffset('2024-07-01T00:00:00+15:00')).reason).toBe('INVALID_TIME');
    expect(typedError(() => parseTimeWithOffset('1 July 2024')).reason).toBe('INVALID_TIME');
  });
});
