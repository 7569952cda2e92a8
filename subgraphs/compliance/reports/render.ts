import PDFDocument from 'pdfkit';
import type { CapitalGainsReport, Identification } from '../tax';

/**
 * A capital gains report (the tax kernel's `capitalGainsReport`) as files an accountant can use:
 * the per-disposal worksheet and the year-end parcels as CSV (RFC 4180, CRLF), and a one-page
 * summary PDF. Pure and deterministic: the same report gives the same bytes (the PDF's dates and
 * file ID are fixed to the end of the financial year, nothing reads the clock).
 */

/** Exact dollars from integer cents: 12345n → "123.45", -5n → "-0.05". */
export function formatAud(cents: bigint): string {
  const neg = cents < 0n;
  const abs = neg ? -cents : cents;
  return `${neg ? '-' : ''}${(abs / 100n).toString()}.${(abs % 100n).toString().padStart(2, '0')}`;
}

/** One CSV field: quoted when it holds a comma, quote, CR or LF (quotes doubled); a leading =,+,-,@ is not special-cased for numbers. */
export function csvField(value: string): string {
  // A text cell starting with a formula character is prefixed with ' so spreadsheets never evaluate it.
  const safe = /^[=+@\t\r]/.test(value) || (/^-/.test(value) && !/^-\d+(\.\d+)?$/.test(value)) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

const csvRow = (cells: readonly string[]): string => `${cells.map(csvField).join(',')}\r\n`;

export function methodLabel(i: Identification): string {
  return i.method === 'SAME_DAY_AVERAGE' && i.acquiredOn ? `SAME_DAY_AVERAGE:${i.acquiredOn}` : i.method;
}

export const WORKSHEET_HEADER = [
  'disposal_id',
  'disposal_type',
  'disposed_on',
  'disposal_time_utc',
  'parcel_id',
  'acquired_on',
  'sats',
  'cost_base_aud',
  'proceeds_aud',
  'gain_aud',
  'held_days',
  'discount_eligible',
  'method',
  'unknown_history',
] as const;

/** One row per disposal × matched parcel (an unmatched part, flagged, has an empty parcel id). */
export function renderWorksheetCsv(report: CapitalGainsReport): string {
  let out = csvRow(WORKSHEET_HEADER);
  for (const d of report.disposals) {
    for (const m of d.matches) {
      out += csvRow([
        d.disposalId,
        d.type,
        d.disposedOn,
        d.at.toISOString(),
        m.parcelId ?? '',
        m.acquiredOn ?? '',
        m.sats.toString(),
        formatAud(m.costBaseAudCents),
        formatAud(m.proceedsAudCents),
        formatAud(m.gainAudCents),
        m.heldDays === null ? '' : String(m.heldDays),
        m.discountEligible ? 'yes' : 'no',
        methodLabel(d.identification),
        m.unknownHistory ? 'yes' : 'no',
      ]);
    }
  }
  return out;
}

export const PARCELS_HEADER = ['parcel_id', 'acquired_on', 'acquisition_time_utc', 'exchange', 'wallet', 'sats', 'cost_base_aud', 'cost_base_adjusted'] as const;

/** The parcels held at the end of the financial year, oldest first. */
export function renderParcelsCsv(report: CapitalGainsReport): string {
  let out = csvRow(PARCELS_HEADER);
  for (const p of report.inventoryAtYearEnd) {
    out += csvRow([p.id, p.acquiredOn, p.acquiredAt.toISOString(), p.exchange, p.wallet, p.sats.toString(), formatAud(p.costBaseAudCents), p.costBaseAdjusted ? 'yes' : 'no']);
  }
  return out;
}

/** The worksheet followed by a blank line and the parcel list: the one CSV file of a report. */
export function renderReportCsv(report: CapitalGainsReport): string {
  return `${renderWorksheetCsv(report)}\r\n${renderParcelsCsv(report)}`;
}

/** The summary lines of the PDF (label, value), in order; the test reads them back from the file. */
export function summaryLines(report: CapitalGainsReport): Array<[string, string]> {
  const s = report.summary;
  const lines: Array<[string, string]> = [
    ['Financial year', `${report.label} (${s.startDate} to ${s.endDate}, ${report.timeZone})`],
    ['Entity type', report.entityType],
    ['Total current year capital gains (H)', formatAud(s.grossCapitalGainsAudCents)],
    ['Current year capital losses', formatAud(s.currentYearCapitalLossesAudCents)],
    ['Prior year net capital losses applied', formatAud(s.priorLossesAppliedAudCents.nonDiscountable + s.priorLossesAppliedAudCents.discountable)],
    [`CGT discount (${s.discountRate.label})`, formatAud(s.discountAudCents)],
    ['Net capital gain (A)', formatAud(s.netCapitalGainAudCents)],
    ['Net capital losses carried forward (V)', formatAud(s.netCapitalLossCarriedForwardAudCents)],
    ['Disposals', String(report.disposals.length)],
    ['Parcels held at year end', String(report.inventoryAtYearEnd.length)],
  ];
  if (s.cgtScheduleRequired !== null) lines.push(['CGT schedule required', s.cgtScheduleRequired ? 'yes' : 'no']);
  for (const c of s.carriedForward) if (c.blocked) lines.push([`Loss of ${c.lossYear} not applied`, `${formatAud(c.amountAudCents)} (${c.blocked})`]);
  const unknown = report.flags.filter((f) => f.code === 'UNKNOWN_ACQUISITION_HISTORY').length;
  const late = report.flags.length - unknown;
  const why = [unknown ? `${unknown} disposal(s) without acquisition history` : '', late ? `${late} fact(s) recorded after the year closed, to amend` : ''];
  lines.push(['Complete', report.complete ? 'yes' : `no: ${why.filter((w) => w !== '').join('; ')}`]);
  lines.push(['Year closed', report.closed ? 'yes' : 'no']);
  return lines;
}

/** The summary PDF (Helvetica, A4, uncompressed so its text stays readable by tools and tests). */
export function renderSummaryPdf(report: CapitalGainsReport): Promise<Buffer> {
  const fixed = new Date(`${report.summary.endDate}T00:00:00Z`);
  const doc = new PDFDocument({
    size: 'A4',
    margin: 56,
    compress: false,
    info: { Title: `Capital gains ${report.label}`, Author: 'Liquid ABT', Creator: 'Liquid ABT', Producer: 'Liquid ABT', CreationDate: fixed, ModDate: fixed },
  });
  const chunks: Buffer[] = [];
  doc.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
  doc.font('Helvetica-Bold').fontSize(16).text(`Capital gains summary ${report.label}`);
  doc.moveDown(0.5).font('Helvetica').fontSize(9).text('Amounts in AUD, exact to the cent. Bitcoin disposals (CGT event A1) under ATO rules; see the CSV worksheet for each parcel matched.');
  doc.moveDown(1).fontSize(11);
  for (const [label, value] of summaryLines(report)) {
    const y = doc.y;
    doc.font('Helvetica').text(label, 56, y, { width: 300 });
    doc.font('Helvetica-Bold').text(value, 360, y, { width: 180, align: 'right' });
    doc.moveDown(0.3);
  }
  doc.moveDown(2).font('Helvetica').fontSize(9).text('Reviewed and signed off by: ______________________    Date: ____________', 56);
  doc.end();
  return done;
}
