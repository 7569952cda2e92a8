import PDFDocument from 'pdfkit';
import { unitsToText } from '../../../lib/money/decimal';
import { monthLabel } from './statement-month';
import { unitPriceAudCents, valueAudCents, type StatementData } from './statement.data';

/** Thousands separators on an integer's digits: "1234567" → "1,234,567". */
const group = (digits: string): string => digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');

/** Exact A$ from integer cents: 123456n → "A$1,234.56", -5n → "-A$0.05". */
export function formatAudCents(cents: bigint): string {
  const neg = cents < 0n;
  const abs = neg ? -cents : cents;
  return `${neg ? '-' : ''}A$${group((abs / 100n).toString())}.${(abs % 100n).toString().padStart(2, '0')}`;
}

/** Satoshis as BTC with 8 decimals: 1234567n → "0.01234567 BTC". */
export const formatBtc = (sats: bigint): string => `${unitsToText(sats, 8)} BTC`;

/** An exact decimal price (AUD per BTC) to the cent, half up: "98765.4321" → "A$98,765.43". */
export const formatPrice = (price: string): string => formatAudCents(valueAudCents(100_000_000n, price));

const EXCHANGES: Record<string, string> = { paper: 'Paper (simulated)', kraken: 'Kraken', swyftx: 'Swyftx', zerocap: 'ZeroCap' };
const exchangeName = (e: string | null): string => (e === null ? '-' : (EXCHANGES[e] ?? e));

/** The summary lines (label, value) of a statement, in order; the tests read them back from the PDF. */
export function statementSummary(s: StatementData): Array<[string, string]> {
  const t = s.totals;
  const lines: Array<[string, string]> = [
    ['Period', `${monthLabel(s.month.period)} (${s.month.timeZone})`],
    ['Purchases', String(s.purchases.length)],
    ['Bitcoin bought', formatBtc(t.purchasedSats)],
    ['AUD spent on bitcoin', formatAudCents(t.purchasedAudCents)],
    ['Sales', String(s.sales.length)],
    ['Bitcoin sold', formatBtc(t.soldSats)],
    ['AUD received from sales', formatAudCents(t.saleProceedsAudCents)],
    ['Fees total', formatAudCents(t.feesAudCents)],
    ['Bitcoin held at month end', s.parcels === null ? 'unavailable' : formatBtc(t.holdingsSats)],
    ['Cost base of holdings', s.parcels === null ? 'unavailable' : formatAudCents(t.holdingsCostBaseAudCents)],
    ['BTC/AUD price at month end', s.priceAtEnd === null ? 'no price recorded' : formatPrice(s.priceAtEnd)],
    ['Value of holdings at month end', t.holdingsValueAudCents === null ? 'unavailable' : formatAudCents(t.holdingsValueAudCents)],
  ];
  return lines;
}

/** One sentence when nothing was bought or sold in the month (the statement is still made: it shows the holdings). */
export const noActivityLine = (s: StatementData): string | null =>
  s.purchases.length === 0 && s.sales.length === 0 ? `No purchases or sales in ${monthLabel(s.month.period)}.` : null;

type Column = { title: string; width: number; align?: 'left' | 'right' };

/**
 * The statement PDF (Helvetica, A4, uncompressed so its text stays readable by tools and tests).
 * Deterministic: the document dates are the month's end, nothing reads the clock.
 */
export function renderStatementPdf(s: StatementData): Promise<Buffer> {
  const doc = new PDFDocument({
    size: 'A4',
    margin: 48,
    compress: false,
    info: { Title: `Statement ${s.month.period}`, Author: 'Liquid ABT', Creator: 'Liquid ABT', Producer: 'Liquid ABT', CreationDate: s.month.end, ModDate: s.month.end },
  });
  const chunks: Buffer[] = [];
  doc.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
  const left = 48;
  const bottom = doc.page.height - 72;
  const ensureRoom = (): void => {
    if (doc.y > bottom) doc.addPage();
  };

  doc.font('Helvetica-Bold').fontSize(16).text(`Monthly statement ${monthLabel(s.month.period)}`);
  doc.moveDown(0.2).font('Helvetica').fontSize(10).text(s.tenantName);
  doc.moveDown(0.3).fontSize(8).text('Amounts in AUD exact to the cent; bitcoin to the satoshi (8 decimals). Dates in the timezone shown. Not tax advice.');
  doc.moveDown(1).fontSize(10);
  for (const [label, value] of statementSummary(s)) {
    const y = doc.y;
    doc.font('Helvetica').text(label, left, y, { width: 280 });
    doc.font('Helvetica-Bold').text(value, 340, y, { width: 200, align: 'right' });
    doc.moveDown(0.25);
  }
  const none = noActivityLine(s);
  if (none) doc.moveDown(0.8).font('Helvetica-Oblique').text(none, left);

  const table = (title: string, cols: Column[], rows: string[][], empty: string): void => {
    doc.moveDown(1.2);
    ensureRoom();
    doc.font('Helvetica-Bold').fontSize(12).text(title, left);
    doc.moveDown(0.3).fontSize(8);
    const line = (cells: readonly string[], bold: boolean): void => {
      ensureRoom();
      const y = doc.y;
      let x = left;
      cells.forEach((cell, i) => {
        const c: Column = cols[i] ?? { title: '', width: 60 };
        doc.font(bold ? 'Helvetica-Bold' : 'Helvetica').text(cell, x, y, { width: c.width - 4, align: c.align ?? 'left', lineBreak: false });
        x += c.width;
      });
      doc.moveDown(0.3);
    };
    line(cols.map((c) => c.title), true);
    if (rows.length === 0) {
      doc.font('Helvetica').text(empty, left);
      return;
    }
    for (const r of rows) line(r, false);
  };

  table(
    'Purchases',
    [{ title: 'Date', width: 64 }, { title: 'AUD', width: 84, align: 'right' }, { title: 'Bitcoin', width: 92, align: 'right' }, { title: 'Price per BTC', width: 90, align: 'right' }, { title: 'Exchange', width: 92 }, { title: 'Fee', width: 76, align: 'right' }],
    s.purchases.map((p) => [p.localDate, formatAudCents(p.costAudCents), formatBtc(p.sats), formatAudCents(unitPriceAudCents(p.costAudCents, p.sats)), exchangeName(p.exchange), formatAudCents(p.feeAudCents)]),
    'No purchases.',
  );
  table(
    'Sales',
    [{ title: 'Date', width: 64 }, { title: 'AUD received', width: 84, align: 'right' }, { title: 'Bitcoin', width: 92, align: 'right' }, { title: 'Price per BTC', width: 90, align: 'right' }, { title: 'Exchange', width: 92 }, { title: 'Fee', width: 76, align: 'right' }],
    s.sales.map((x) => [x.localDate, formatAudCents(x.proceedsAudCents), formatBtc(x.sats), formatAudCents(unitPriceAudCents(x.proceedsAudCents, x.sats)), exchangeName(x.exchange), formatAudCents(x.feeAudCents)]),
    'No sales.',
  );
  table(
    'CGT parcels held at month end',
    [{ title: 'Acquired', width: 64 }, { title: 'Parcel', width: 150 }, { title: 'Bitcoin', width: 92, align: 'right' }, { title: 'Cost base', width: 90, align: 'right' }, { title: 'Exchange', width: 102 }],
    (s.parcels ?? []).map((p) => [p.acquiredOn, p.id.length > 28 ? `${p.id.slice(0, 25)}...` : p.id, formatBtc(p.sats), formatAudCents(p.costBaseAudCents), exchangeName(p.exchange)]),
    s.parcels === null ? `Unavailable: ${s.parcelsUnavailable ?? 'the tax history does not replay'}.` : 'No parcels held.',
  );
  doc.end();
  return done;
}
