import { capitalGainsReport, type TaxHistory } from '../tax';
import { buy, individual, sell } from '../tax/tax.fixtures';
import { pdfText } from './pdf-text';
import { csvField, formatAud, renderParcelsCsv, renderReportCsv, renderSummaryPdf, renderWorksheetCsv } from './render';

// Two parcels, one sale across both (FIFO): the first held over 12 months, the second not; an individual (50%).
const history: TaxHistory = {
  acquisitions: [
    buy('a1', '2023-01-10T10:00:00+11:00', 100_000n, 30_000n, 100n),
    buy('a2', '2024-03-01T10:00:00+11:00', 100_000n, 60_000n),
  ],
  disposals: [sell('s1', '2024-08-01T10:00:00+10:00', 150_000n, 135_000n)],
};
const report = capitalGainsReport(history, individual, 2025);

describe('report files', () => {
  it('formats cents and escapes CSV fields', () => {
    expect([formatAud(0n), formatAud(5n), formatAud(-12_345n), formatAud(100n)]).toEqual(['0.00', '0.05', '-123.45', '1.00']);
    expect([csvField('a,b'), csvField('say "hi"'), csvField('x\ny'), csvField('=SUM(A1)'), csvField('-10.00'), csvField('plain')]).toEqual([
      '"a,b"',
      '"say ""hi"""',
      '"x\ny"',
      "'=SUM(A1)",
      '-10.00',
      'plain',
    ]);
  });

  it('worksheet: one row per disposal × parcel matched, hand-computed cells', () => {
    const rows = renderWorksheetCsv(report).split('\r\n');
    expect(rows).toEqual([
      'disposal_id,disposal_type,disposed_on,disposal_time_utc,parcel_id,acquired_on,sats,cost_base_aud,proceeds_aud,gain_aud,held_days,discount_eligible,method,unknown_history',
      // a1: 100,000 sats, cost 300.00 + 1.00 fee; proceeds 100k/150k × 1,350.00 = 900.00; 2023-01-10 → 2024-08-01 is 569 days, 568 with both excluded.
      's1,SALE,2024-08-01,2024-08-01T00:00:00.000Z,a1,2023-01-10,100000,301.00,900.00,599.00,568,yes,FIFO,no',
      // a2: half the parcel, cost 300.00; proceeds 450.00; 153 days → 152; under 12 months.
      's1,SALE,2024-08-01,2024-08-01T00:00:00.000Z,a2,2024-03-01,50000,300.00,450.00,150.00,152,no,FIFO,no',
      '',
    ]);
  });

  it('parcels at year end and the combined CSV', () => {
    expect(renderParcelsCsv(report).split('\r\n')).toEqual([
      'parcel_id,acquired_on,acquisition_time_utc,exchange,wallet,sats,cost_base_aud,cost_base_adjusted',
      'a2,2024-03-01,2024-02-29T23:00:00.000Z,kraken,kraken,50000,300.00,no',
      '',
    ]);
    expect(renderReportCsv(report)).toBe(`${renderWorksheetCsv(report)}\r\n${renderParcelsCsv(report)}`);
  });

  it('summary PDF: deterministic bytes, the totals as text', async () => {
    const a = await renderSummaryPdf(report);
    const b = await renderSummaryPdf(capitalGainsReport(history, individual, 2025));
    expect(a.subarray(0, 5).toString()).toBe('%PDF-');
    expect(a.equals(b)).toBe(true);
    const text = pdfText(a);
    // Gains 599.00 + 150.00 = 749.00; discount 599.00 / 2 = 299.50; net 749.00 − 299.50 = 449.50.
    expect(report.summary.netCapitalGainAudCents).toBe(44_950n);
    const totals: Array<[string, string]> = [
      ['Total current year capital gains (H)', '749.00'],
      ['CGT discount (1/2)', '299.50'],
      ['Net capital gain (A)', '449.50'],
      ['Net capital losses carried forward (V)', '0.00'],
    ];
    for (const [label, value] of totals) {
      const at = text.indexOf(label);
      expect(at).toBeGreaterThanOrEqual(0);
      expect(text[at + 1]).toBe(value);
    }
  });
});
