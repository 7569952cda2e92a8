import { AppError, ErrorCode } from '../../../lib/errors';
import { appendToHistory, assertOpenAt } from './closed-year';
import { parseAudText, parseBtcText, parseCentsText, parseSatsText } from './tax-amounts';
import { daysInMonth, parseLocalDate } from './tax-calendar';
import { TaxErrorReason, badTaxInput } from './tax-errors';
import type { Acquisition, Disposal, DisposalType, Identification, TaxHistory, TaxProfile } from './tax.types';

/**
 * Imports history kept elsewhere: an RFC 4180 CSV with a header row, one acquisition or disposal
 * per row. Amounts are exact (integers or decimals, never floats); times must carry an offset.
 * Every bad row is reported with its line number, and nothing is accepted unless every row is good.
 */

export const CsvErrorReason = {
  MALFORMED_CSV: 'MALFORMED_CSV',
  EMPTY_FILE: 'EMPTY_FILE',
  MISSING_COLUMN: 'MISSING_COLUMN',
  UNKNOWN_COLUMN: 'UNKNOWN_COLUMN',
  DUPLICATE_COLUMN: 'DUPLICATE_COLUMN',
  FIELD_COUNT: 'FIELD_COUNT',
  MISSING_VALUE: 'MISSING_VALUE',
  UNKNOWN_TYPE: 'UNKNOWN_TYPE',
  TIME_OFFSET_REQUIRED: 'TIME_OFFSET_REQUIRED',
  INVALID_PARCEL_CHOICE: 'INVALID_PARCEL_CHOICE',
  DUPLICATE_ID: 'DUPLICATE_ID',
} as const;
export type CsvErrorReason = (typeof CsvErrorReason)[keyof typeof CsvErrorReason];

export type CsvRowError = { line: number; column: string | null; reason: CsvErrorReason | TaxErrorReason; message: string };

export type ParsedHistoryCsv = {
  acquisitions: Acquisition[];
  disposals: Disposal[];
  /** The CSV line each event came from. */
  lineOf: Record<string, number>;
};

export type CsvOptions = {
  /** Prefix of the ids given to rows without an `id` column: `<batchId>:<line>`. */
  batchId: string;
};

const MAX_REPORTED_ERRORS = 100;
const KNOWN_COLUMNS = ['time', 'type', 'sats', 'btc', 'aud', 'aud_cents', 'fee', 'fee_cents', 'fee_gst', 'fee_gst_cents', 'fee_gst_inclusive', 'source', 'parcels', 'id'] as const;
type Column = (typeof KNOWN_COLUMNS)[number];

const TYPES: Record<string, 'ACQUISITION' | DisposalType> = {
  BUY: 'ACQUISITION',
  ACQUISITION: 'ACQUISITION',
  SELL: 'SALE',
  SALE: 'SALE',
  SPEND: 'SPEND',
  FEE: 'FEE',
};

class CsvFailure extends Error {
  constructor(readonly error: CsvRowError) {
    super(error.message);
  }
}

type Record_ = { line: number; fields: string[] };

/** RFC 4180 records (CRLF or LF line ends), each with the line it starts on. */
export function splitCsvRecords(text: string): Record_[] {
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const records: Record_[] = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let recordLine = 1;
  let i = 0;
  let quoted = false;
  let fieldStarted = false;
  const endField = (): void => {
    fields.push(field);
    field = '';
    quoted = false;
    fieldStarted = false;
  };
  const endRecord = (): void => {
    endField();
    records.push({ line: recordLine, fields });
    fields = [];
  };
  while (i < src.length) {
    const c = src[i];
    if (quoted) {
      if (c === '"') {
        if (src[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        const n = src[i];
        if (n !== undefined && n !== ',' && n !== '\n' && n !== '\r') {
          throw new CsvFailure({ line, column: null, reason: CsvErrorReason.MALFORMED_CSV, message: `line ${line}: a closing quote must end the field` });
        }
        continue;
      }
      if (c === '\n') line++;
      field += c;
      i++;
      continue;
    }
    if (c === '"') {
      if (fieldStarted) {
        throw new CsvFailure({ line, column: null, reason: CsvErrorReason.MALFORMED_CSV, message: `line ${line}: a quote inside an unquoted field` });
      }
      quoted = true;
      fieldStarted = true;
      i++;
      continue;
    }
    if (c === ',') {
      endField();
      i++;
      continue;
    }
    if (c === '\r' || c === '\n') {
      endRecord();
      i += c === '\r' && src[i + 1] === '\n' ? 2 : 1;
      line++;
      recordLine = line;
      continue;
    }
    field += c;
    fieldStarted = true;
    i++;
  }
  if (quoted) {
    throw new CsvFailure({ line: recordLine, column: null, reason: CsvErrorReason.MALFORMED_CSV, message: `line ${recordLine}: a quoted field is never closed` });
  }
  if (fieldStarted || fields.length > 0) endRecord();
  return records.filter((r) => !(r.fields.length === 1 && r.fields[0] === ''));
}

const TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(Z|[+-]\d{2}:?\d{2})?$/;

/** "2024-07-01T09:30:00+10:00" → the instant; an offset (or Z) is required. */
export function parseTimeWithOffset(text: string, field = 'time'): Date {
  const m = TIME.exec(text.trim());
  if (!m) throw badTaxInput(TaxErrorReason.INVALID_TIME, `${field} must look like 2024-07-01T09:30:00+10:00`, { field });
  const [, y, mo, d, hh, mm, ss = '0', ms = '0', offset] = m;
  if (offset === undefined) {
    throw new AppError(ErrorCode.BAD_USER_INPUT, `${field} needs a UTC offset such as +10:00 or Z`, { reason: CsvErrorReason.TIME_OFFSET_REQUIRED, field });
  }
  const Y = Number(y);
  const M = Number(mo);
  const D = Number(d);
  const H = Number(hh);
  const Mi = Number(mm);
  const S = Number(ss);
  let offMin = 0;
  if (offset !== 'Z') {
    const digits = offset.replace(':', '');
    const oh = Number(digits.slice(1, 3));
    const om = Number(digits.slice(3, 5));
    if (oh > 14 || om > 59) throw badTaxInput(TaxErrorReason.INVALID_TIME, `${field} has an impossible offset`, { field });
    offMin = (offset[0] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  if (M < 1 || M > 12 || D < 1 || D > daysInMonth(Y, M) || H > 23 || Mi > 59 || S > 59) {
    throw badTaxInput(TaxErrorReason.INVALID_TIME, `${field} is not a real date and time`, { field });
  }
  return new Date(Date.UTC(Y, M - 1, D, H, Mi, S, Number(ms.padEnd(3, '0'))) - offMin * 60_000);
}

function parseChoice(text: string, at: Date): Identification {
  const t = text.trim();
  const upper = t.toUpperCase();
  if (upper === 'FIFO') return { method: 'FIFO' };
  // An imported strategy is taken as chosen with the disposal it is recorded on.
  if (upper === 'LIFO' || upper === 'HIGHEST_COST_FIRST' || upper === 'LOWEST_COST_FIRST') return { method: upper, chosenAt: at };
  if (upper === 'SAME_DAY_AVERAGE') return { method: 'SAME_DAY_AVERAGE' };
  if (upper.startsWith('SAME_DAY_AVERAGE:')) {
    const day = t.slice('SAME_DAY_AVERAGE:'.length);
    parseLocalDate(day, 'parcels');
    return { method: 'SAME_DAY_AVERAGE', acquiredOn: day };
  }
  const parts = t.split(';').map((s) => s.trim());
  const parcels = parts.map((part) => {
    const cut = part.lastIndexOf(':');
    if (cut <= 0) {
      throw new AppError(ErrorCode.BAD_USER_INPUT, 'parcels must be FIFO, LIFO, HIGHEST_COST_FIRST, LOWEST_COST_FIRST, SAME_DAY_AVERAGE[:date] or id:sats;id:sats', {
        reason: CsvErrorReason.INVALID_PARCEL_CHOICE,
        field: 'parcels',
      });
    }
    return { parcelId: part.slice(0, cut), sats: parseSatsText(part.slice(cut + 1), 'parcels') };
  });
  return { method: 'SPECIFIC', parcels };
}

function reasonOf(e: unknown): CsvErrorReason | TaxErrorReason | null {
  if (e instanceof AppError && typeof e.extensions.reason === 'string') return e.extensions.reason as CsvErrorReason | TaxErrorReason;
  return null;
}

function failed(errors: CsvRowError[]): AppError {
  return badTaxInput(TaxErrorReason.CSV_INVALID, `history CSV not imported: ${errors.length} problem${errors.length === 1 ? '' : 's'} ${errors[0] ? ` (first on line ${errors[0].line})` : ''}`, {
    errorCount: errors.length,
    errors: errors.slice(0, MAX_REPORTED_ERRORS).map((e) => ({ ...e })),
  });
}

/** Parses the whole file or throws CSV_INVALID listing every bad row (up to 100). */
export function parseHistoryCsv(text: string, options: CsvOptions): ParsedHistoryCsv {
  if (!/^[^>\s]{1,100}$/.test(options.batchId)) throw badTaxInput(TaxErrorReason.INVALID_ID, 'batchId must be a short id without spaces or ">"', { field: 'batchId' });
  let records: Record_[];
  try {
    records = splitCsvRecords(text);
  } catch (e) {
    if (e instanceof CsvFailure) throw failed([e.error]);
    throw e;
  }
  const [header, ...rows] = records;
  if (!header) throw failed([{ line: 1, column: null, reason: CsvErrorReason.EMPTY_FILE, message: 'the file is empty' }]);
  const errors: CsvRowError[] = [];
  const index = new Map<Column, number>();
  header.fields.forEach((raw, i) => {
    const name = raw.trim().toLowerCase();
    if (!(KNOWN_COLUMNS as readonly string[]).includes(name)) {
      errors.push({ line: header.line, column: raw, reason: CsvErrorReason.UNKNOWN_COLUMN, message: `unknown column "${raw}"` });
    } else if (index.has(name as Column)) {
      errors.push({ line: header.line, column: name, reason: CsvErrorReason.DUPLICATE_COLUMN, message: `column "${name}" appears twice` });
    } else index.set(name as Column, i);
  });
  const requireOne = (cols: Column[], optional = false): void => {
    const present = cols.filter((c) => index.has(c));
    if (present.length > 1) {
      errors.push({ line: header.line, column: present.join('/'), reason: CsvErrorReason.DUPLICATE_COLUMN, message: `use one of ${present.join(' or ')}, not both` });
    } else if (present.length === 0 && !optional) {
      errors.push({ line: header.line, column: cols.join('/'), reason: CsvErrorReason.MISSING_COLUMN, message: `missing column ${cols.join(' or ')}` });
    }
  };
  requireOne(['time']);
  requireOne(['type']);
  requireOne(['sats', 'btc']);
  requireOne(['aud', 'aud_cents']);
  requireOne(['source']);
  requireOne(['fee', 'fee_cents'], true);
  requireOne(['fee_gst', 'fee_gst_cents', 'fee_gst_inclusive'], true);
  if (errors.length > 0) throw failed(errors);

  const out: ParsedHistoryCsv = { acquisitions: [], disposals: [], lineOf: {} };
  for (const row of rows) {
    const rowErrors: CsvRowError[] = [];
    if (row.fields.length !== header.fields.length) {
      errors.push({
        line: row.line,
        column: null,
        reason: CsvErrorReason.FIELD_COUNT,
        message: `line ${row.line} has ${row.fields.length} fields; the header has ${header.fields.length}`,
      });
      continue;
    }
    const cell = (c: Column): string | undefined => {
      const i = index.get(c);
      return i === undefined ? undefined : row.fields[i]?.trim();
    };
    const read = <T>(column: Column, fn: (v: string) => T, required: boolean): T | undefined => {
      const v = cell(column);
      if (v === undefined || v === '') {
        if (required) rowErrors.push({ line: row.line, column, reason: CsvErrorReason.MISSING_VALUE, message: `line ${row.line}: ${column} is empty` });
        return undefined;
      }
      try {
        return fn(v);
      } catch (e) {
        const reason = reasonOf(e);
        if (!reason) throw e;
        rowErrors.push({ line: row.line, column, reason, message: `line ${row.line}: ${(e as Error).message}` });
        return undefined;
      }
    };
    const pickAmount = (a: Column, b: Column, fa: (v: string) => bigint, fb: (v: string) => bigint, required: boolean): bigint | undefined =>
      index.has(a) ? read(a, (v) => fa(v), required) : index.has(b) ? read(b, (v) => fb(v), required) : undefined;

    const at = read('time', (v) => parseTimeWithOffset(v), true);
    const type = read(
      'type',
      (v) => {
        const t = TYPES[v.toUpperCase()];
        if (!t) throw new AppError(ErrorCode.BAD_USER_INPUT, `type "${v}" is not BUY, SELL, SPEND or FEE`, { reason: CsvErrorReason.UNKNOWN_TYPE });
        return t;
      },
      true,
    );
    const sats = pickAmount('sats', 'btc', (v) => parseSatsText(v, 'sats'), (v) => parseBtcText(v, 'btc'), true);
    if (sats === 0n) rowErrors.push({ line: row.line, column: index.has('sats') ? 'sats' : 'btc', reason: TaxErrorReason.ZERO_SATS, message: `line ${row.line}: no bitcoin moved` });
    const aud = pickAmount('aud', 'aud_cents', (v) => parseAudText(v, 'aud'), (v) => parseCentsText(v, 'aud_cents'), true);
    const fee = pickAmount('fee', 'fee_cents', (v) => parseAudText(v, 'fee'), (v) => parseCentsText(v, 'fee_cents'), false) ?? 0n;
    const feeGst = pickAmount('fee_gst', 'fee_gst_cents', (v) => parseAudText(v, 'fee_gst'), (v) => parseCentsText(v, 'fee_gst_cents'), false);
    const inclusive = read(
      'fee_gst_inclusive',
      (v) => {
        const b = { true: true, yes: true, '1': true, false: false, no: false, '0': false }[v.toLowerCase()];
        if (b === undefined) throw new AppError(ErrorCode.BAD_USER_INPUT, 'fee_gst_inclusive must be true or false', { reason: TaxErrorReason.INVALID_AMOUNT });
        return b;
      },
      false,
    );
    const source = read('source', (v) => v, true);
    const id = read(
      'id',
      (v) => {
        if (v.includes('>') || v.length > 200) throw new AppError(ErrorCode.BAD_USER_INPUT, 'id must not contain ">"', { reason: TaxErrorReason.INVALID_ID });
        return v;
      },
      false,
    ) ?? `${options.batchId}:${row.line}`;
    if (feeGst !== undefined && feeGst > fee) {
      rowErrors.push({ line: row.line, column: 'fee_gst', reason: TaxErrorReason.GST_EXCEEDS_FEE, message: `line ${row.line}: the GST component exceeds the fee` });
    }
    if (id in out.lineOf) {
      rowErrors.push({ line: row.line, column: 'id', reason: CsvErrorReason.DUPLICATE_ID, message: `line ${row.line}: id ${id} is also on line ${out.lineOf[id]}` });
    }
    const choiceText = cell('parcels');
    let identification: Identification | undefined;
    if (choiceText) {
      if (type === 'ACQUISITION') {
        rowErrors.push({ line: row.line, column: 'parcels', reason: CsvErrorReason.INVALID_PARCEL_CHOICE, message: `line ${row.line}: an acquisition has no parcel choice` });
      } else if (at) {
        identification = read('parcels', (v) => parseChoice(v, at), false);
      }
    }
    if (type !== undefined && type !== 'ACQUISITION' && aud !== undefined && fee > aud) {
      rowErrors.push({ line: row.line, column: 'fee', reason: TaxErrorReason.FEE_EXCEEDS_PROCEEDS, message: `line ${row.line}: the fee is more than the proceeds` });
    }
    if (rowErrors.length > 0 || at === undefined || type === undefined || sats === undefined || aud === undefined || source === undefined) {
      errors.push(...rowErrors);
      continue;
    }
    out.lineOf[id] = row.line;
    const gst = { ...(feeGst !== undefined ? { feeGstAudCents: feeGst } : {}), ...(inclusive ? { feeGstInclusive: true } : {}) };
    if (type === 'ACQUISITION') {
      out.acquisitions.push({ id, source: 'IMPORT', at, sats, costAudCents: aud, feeAudCents: fee, exchange: source, wallet: source, ...gst });
    } else {
      out.disposals.push({
        id,
        type,
        source: 'IMPORT',
        at,
        sats,
        proceedsAudCents: aud,
        feeAudCents: fee,
        exchange: source,
        ...gst,
        ...(identification ? { identification } : {}),
      });
    }
  }
  if (errors.length > 0) throw failed(errors);
  return out;
}

/**
 * Parses the CSV and adds it to the history in one step: refused whole (CSV_INVALID with line
 * numbers) if any row is bad, lies in a closed year, or would not replay with the rest.
 */
export function importHistoryCsv(history: TaxHistory, profile: TaxProfile, text: string, options: CsvOptions): { history: TaxHistory; parsed: ParsedHistoryCsv } {
  const parsed = parseHistoryCsv(text, options);
  const closed: CsvRowError[] = [];
  for (const e of [...parsed.acquisitions, ...parsed.disposals]) {
    const line = parsed.lineOf[e.id];
    if (line === undefined) throw new Error(`no CSV line recorded for ${e.id}`);
    try {
      assertOpenAt(profile, e.at, `line ${line}`);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      closed.push({ line, column: 'time', reason: TaxErrorReason.YEAR_CLOSED, message: err.message });
    }
  }
  if (closed.length > 0) throw failed(closed.sort((a, b) => a.line - b.line));
  try {
    return { history: appendToHistory(history, profile, { acquisitions: parsed.acquisitions, disposals: parsed.disposals }), parsed };
  } catch (e) {
    if (!(e instanceof AppError)) throw e;
    const eventId = typeof e.extensions.eventId === 'string' ? e.extensions.eventId : typeof e.extensions.id === 'string' ? e.extensions.id : null;
    const line = eventId !== null ? parsed.lineOf[eventId] : undefined;
    const reason = reasonOf(e) ?? TaxErrorReason.CSV_INVALID;
    if (line === undefined) {
      throw badTaxInput(TaxErrorReason.CSV_INVALID, `history CSV not imported: ${e.message}`, {
        errorCount: 1,
        errors: [{ line: 0, column: null, reason, message: e.message }],
      });
    }
    throw failed([{ line, column: null, reason, message: `line ${line}: ${e.message}` }]);
  }
}
