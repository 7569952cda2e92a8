import { createHash } from 'node:crypto';
import { DEFAULT_TIME_ZONE, localDate } from '../tax/tax-calendar';
import { BooksReason, booksError } from './errors';
import { unitsToText } from '../../../lib/money';

/**
 * The accounting model, pure: which accounts a tenant maps, and the balanced journal that each
 * fill and each sale becomes. Amounts are bigint AUD cents; a line is always a positive amount on
 * one side. Providers (Xero, MYOB) only translate a `Journal`; they never compute amounts.
 */

/** The five accounts a tenant picks in its ledger. Xero: account codes; MYOB: account UIDs. */
export type AccountMapping = {
  /** Asset account holding the bitcoin at cost (intangible asset or inventory). */
  digitalAsset: string;
  /** The exchange's AUD clearing account (cash held at the exchange). */
  exchangeClearing: string;
  /** Fees expense; used only when `feeTreatment` is EXPENSE. */
  feesExpense: string;
  realisedGain: string;
  realisedLoss: string;
  /**
   * COST_BASE (default): an acquisition fee is part of the asset's cost, a disposal fee reduces the
   * net disposal proceeds (AASB 138 ¶24/¶113, AASB 102 ¶11; the same as the CGT cost base and
   * capital proceeds, so the realised gain equals the tax kernel's). EXPENSE: fees go to feesExpense.
   */
  feeTreatment?: FeeTreatment;
  /** The account an input tax credit on an exchange fee is debited to (GST paid / GST receivable). */
  gstOnFees?: string;
  /** Provider tax types per account role (Xero TaxType e.g. "BASEXCLUDED"; MYOB TaxCode UID). */
  taxTypes?: Partial<Record<LineRole, string>>;
};

export type FeeTreatment = 'COST_BASE' | 'EXPENSE';

export type LineRole = 'digitalAsset' | 'exchangeClearing' | 'feesExpense' | 'realisedGain' | 'realisedLoss' | 'gstOnFees';

export type JournalSide = 'DEBIT' | 'CREDIT';

export type JournalLine = {
  role: LineRole;
  /** The mapped account (code or UID). */
  account: string;
  side: JournalSide;
  /** Always > 0. */
  amountAudCents: bigint;
  description: string;
  taxType?: string;
};

export type JournalSource = { kind: 'FILL'; purchaseId: string } | { kind: 'SALE'; saleId: string };

export type Journal = {
  /** Deterministic per source event: the same fill always gives the same key. */
  idempotencyKey: string;
  source: JournalSource;
  /** Local date (YYYY-MM-DD) of the event in the tenant's timezone: the date the ledger shows. */
  date: string;
  at: Date;
  narration: string;
  lines: JournalLine[];
};

export type FillEvent = {
  purchaseId: string;
  at: Date;
  satoshis: bigint;
  /** AUD the exchange took for the bitcoin, fee excluded. */
  spentAudCents: bigint;
  feeAudCents: bigint;
  exchange: string;
  /** GST in the fee that the tenant claims as an input tax credit (the tax kernel's itcAudCents). */
  feeGst?: { itcAudCents: bigint };
};

export type SaleEvent = {
  saleId: string;
  at: Date;
  satoshis?: bigint;
  /** Gross AUD the sale fetched, before the exchange's fee. */
  proceedsAudCents: bigint;
  feeAudCents: bigint;
  /** Cost base of the parcels sold (the tax kernel's, fees and ITC rules included). */
  costBaseAudCents: bigint;
  /** The tax kernel's capital gain (negative: loss) when it exists; a cross-check, never trusted blindly. */
  gainAudCents?: bigint;
  exchange: string;
  feeGst?: { itcAudCents: bigint };
};

export type JournalOptions = {
  /** IANA zone for the journal date; default Australia/Sydney. */
  timeZone?: string;
};

const SOURCE_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$/;
const ROLES: readonly LineRole[] = ['digitalAsset', 'exchangeClearing', 'feesExpense', 'realisedGain', 'realisedLoss'];

function cents(value: unknown, field: string, opts: { positive?: boolean } = {}): bigint {
  if (typeof value !== 'bigint') throw booksError(BooksReason.INVALID_AMOUNT, `${field} must be whole cents as a bigint`, { field });
  if (value < 0n || (opts.positive && value === 0n)) {
    throw booksError(BooksReason.INVALID_AMOUNT, `${field} must be ${opts.positive ? 'positive' : 'zero or more'}`, { field });
  }
  return value;
}

function sourceId(value: unknown, field: string): string {
  if (typeof value !== 'string' || !SOURCE_ID.test(value)) {
    throw booksError(BooksReason.INVALID_SOURCE_ID, `${field} must be 1–100 letters, digits or _.:- characters`, { field });
  }
  return value;
}

function instant(value: unknown, field: string): Date {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) throw booksError(BooksReason.INVALID_AMOUNT, `${field} must be a valid Date`, { field });
  return value;
}

/** Checks the mapping once: every account named, no account doing two jobs it cannot do. */
export function assertAccountMapping(mapping: AccountMapping): AccountMapping {
  for (const role of ROLES) {
    const v = mapping[role];
    if (typeof v !== 'string' || v.trim() === '' || v.length > 100) {
      throw booksError(BooksReason.INVALID_MAPPING, `the ${role} account must be chosen`, { field: role });
    }
  }
  if (mapping.feeTreatment !== undefined && mapping.feeTreatment !== 'COST_BASE' && mapping.feeTreatment !== 'EXPENSE') {
    throw booksError(BooksReason.INVALID_MAPPING, 'feeTreatment must be COST_BASE or EXPENSE', { field: 'feeTreatment' });
  }
  if (mapping.digitalAsset === mapping.exchangeClearing) {
    // A fill would debit and credit one account: nothing would reach the books.
    throw booksError(BooksReason.INVALID_MAPPING, 'the digital-asset and exchange clearing accounts must differ', { field: 'exchangeClearing' });
  }
  if (mapping.gstOnFees !== undefined && mapping.gstOnFees.trim() === '') {
    throw booksError(BooksReason.INVALID_MAPPING, 'the GST account must be a non-empty account', { field: 'gstOnFees' });
  }
  return mapping;
}

export const formatAud = (c: bigint): string => {
  const neg = c < 0n;
  const abs = neg ? -c : c;
  return `${neg ? '-' : ''}$${abs / 100n}.${(abs % 100n).toString().padStart(2, '0')}`;
};

export const formatBtc = (sats: bigint): string => unitsToText(sats, 8);

export const fillIdempotencyKey = (purchaseId: string): string => `abt-fill-${sourceId(purchaseId, 'purchaseId')}`;
export const saleIdempotencyKey = (saleId: string): string => `abt-sale-${sourceId(saleId, 'saleId')}`;

/**
 * A 13-character journal number for ledgers without an Idempotency-Key (MYOB's DisplayID is
 * String(13)): "ABT" + 10 base-32 characters of SHA-256(key). The full key also goes in the memo,
 * so a lookup confirms the match instead of trusting 50 bits.
 */
export function journalNumberFor(idempotencyKey: string): string {
  const digest = createHash('sha256').update(idempotencyKey).digest();
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  const bits = BigInt(`0x${digest.subarray(0, 7).toString('hex')}`);
  let out = '';
  for (let i = 0; i < 10; i++) out += alphabet.charAt(Number((bits >> BigInt(51 - 5 * i)) & 31n));
  return `ABT${out}`;
}

function line(mapping: AccountMapping, role: LineRole, side: JournalSide, amountAudCents: bigint, description: string): JournalLine[] {
  if (amountAudCents === 0n) return [];
  const account = role === 'gstOnFees' ? mapping.gstOnFees : mapping[role];
  if (account === undefined) throw booksError(BooksReason.GST_ACCOUNT_REQUIRED, 'a GST account is needed to post an input tax credit on a fee', { field: 'gstOnFees' });
  const taxType = mapping.taxTypes?.[role];
  return [{ role, account, side, amountAudCents, description, ...(taxType ? { taxType } : {}) }];
}

export type JournalTotals = { debitAudCents: bigint; creditAudCents: bigint };

export function journalTotals(lines: readonly JournalLine[]): JournalTotals {
  let debitAudCents = 0n;
  let creditAudCents = 0n;
  for (const l of lines) {
    if (l.side === 'DEBIT') debitAudCents += l.amountAudCents;
    else creditAudCents += l.amountAudCents;
  }
  return { debitAudCents, creditAudCents };
}

/** The guard every provider runs before any request: two or more positive lines, debits = credits. */
export function assertBalanced(journal: Pick<Journal, 'idempotencyKey' | 'lines'>): void {
  const { debitAudCents, creditAudCents } = journalTotals(journal.lines);
  const bad = journal.lines.find((l) => typeof l.amountAudCents !== 'bigint' || l.amountAudCents <= 0n);
  if (bad || journal.lines.length < 2 || debitAudCents !== creditAudCents) {
    throw booksError(BooksReason.UNBALANCED_JOURNAL, 'a journal needs two or more positive lines whose debits equal its credits', {
      idempotencyKey: journal.idempotencyKey,
      debitAudCents: debitAudCents.toString(),
      creditAudCents: creditAudCents.toString(),
    });
  }
}

function itcOf(feeGst: { itcAudCents: bigint } | undefined, fee: bigint, field: string): bigint {
  if (feeGst === undefined) return 0n;
  const itc = cents(feeGst.itcAudCents, `${field}.itcAudCents`);
  if (itc > fee) throw booksError(BooksReason.GST_EXCEEDS_FEE, 'the GST credit claimed exceeds the fee', { field });
  return itc;
}

/**
 * A fill (bitcoin bought). COST_BASE: Dr digital asset (spent + fee − ITC), Dr GST (ITC),
 * Cr exchange clearing (spent + fee). EXPENSE: Dr digital asset (spent), Dr fees (fee − ITC),
 * Dr GST (ITC), Cr clearing (spent + fee).
 */
export function journalForFill(event: FillEvent, mappingIn: AccountMapping, opts: JournalOptions = {}): Journal {
  const mapping = assertAccountMapping(mappingIn);
  const purchaseId = sourceId(event.purchaseId, 'purchaseId');
  const at = instant(event.at, 'at');
  if (typeof event.satoshis !== 'bigint' || event.satoshis <= 0n) throw booksError(BooksReason.INVALID_AMOUNT, 'satoshis must be positive', { field: 'satoshis' });
  const spent = cents(event.spentAudCents, 'spentAudCents', { positive: true });
  const fee = cents(event.feeAudCents, 'feeAudCents');
  const itc = itcOf(event.feeGst, fee, 'feeGst');
  const treatment = mapping.feeTreatment ?? 'COST_BASE';
  const exchange = String(event.exchange).slice(0, 40);
  const what = `${formatBtc(event.satoshis)} BTC bought on ${exchange}`;
  const total = spent + fee;
  const lines: JournalLine[] =
    treatment === 'COST_BASE'
      ? [
          ...line(mapping, 'digitalAsset', 'DEBIT', total - itc, `${what} (cost incl. fee)`),
          ...line(mapping, 'gstOnFees', 'DEBIT', itc, `GST credit on ${exchange} fee`),
          ...line(mapping, 'exchangeClearing', 'CREDIT', total, `${exchange} AUD paid`),
        ]
      : [
          ...line(mapping, 'digitalAsset', 'DEBIT', spent, what),
          ...line(mapping, 'feesExpense', 'DEBIT', fee - itc, `${exchange} fee`),
          ...line(mapping, 'gstOnFees', 'DEBIT', itc, `GST credit on ${exchange} fee`),
          ...line(mapping, 'exchangeClearing', 'CREDIT', total, `${exchange} AUD paid`),
        ];
  const idempotencyKey = fillIdempotencyKey(purchaseId);
  const journal: Journal = {
    idempotencyKey,
    source: { kind: 'FILL', purchaseId },
    date: localDate(at, opts.timeZone ?? DEFAULT_TIME_ZONE),
    at,
    narration: `Liquid ABT: ${what} for ${formatAud(spent)} + fee ${formatAud(fee)} [${idempotencyKey}]`,
    lines,
  };
  assertBalanced(journal);
  return journal;
}

/**
 * A sale (bitcoin sold). Dr exchange clearing (proceeds − fee), Cr digital asset (cost base), and the
 * realised gain (Cr) or loss (Dr) as the balancing figure. COST_BASE: the fee (less its ITC, which is
 * debited to GST) reduces the net disposal proceeds, so the gain is the tax kernel's capital gain.
 * EXPENSE: Dr fees (fee − ITC) and the gain line is before fees.
 */
export function journalForSale(event: SaleEvent, mappingIn: AccountMapping, opts: JournalOptions = {}): Journal {
  const mapping = assertAccountMapping(mappingIn);
  const saleId = sourceId(event.saleId, 'saleId');
  const at = instant(event.at, 'at');
  const proceeds = cents(event.proceedsAudCents, 'proceedsAudCents', { positive: true });
  const fee = cents(event.feeAudCents, 'feeAudCents');
  const costBase = cents(event.costBaseAudCents, 'costBaseAudCents');
  if (fee > proceeds) throw booksError(BooksReason.FEE_EXCEEDS_PROCEEDS, 'the fee exceeds the proceeds', { field: 'feeAudCents' });
  if (event.satoshis !== undefined && (typeof event.satoshis !== 'bigint' || event.satoshis <= 0n)) {
    throw booksError(BooksReason.INVALID_AMOUNT, 'satoshis must be positive', { field: 'satoshis' });
  }
  const itc = itcOf(event.feeGst, fee, 'feeGst');
  const treatment = mapping.feeTreatment ?? 'COST_BASE';
  // Capital proceeds less selling costs (fee net of its credit) less cost base: ITAA 1997 s 116-20, s 103-30.
  const taxGain = proceeds - (fee - itc) - costBase;
  if (event.gainAudCents !== undefined) {
    if (typeof event.gainAudCents !== 'bigint') throw booksError(BooksReason.INVALID_AMOUNT, 'gainAudCents must be a bigint', { field: 'gainAudCents' });
    if (event.gainAudCents !== taxGain) {
      throw booksError(BooksReason.GAIN_MISMATCH, 'the gain given does not equal proceeds less selling costs less cost base', {
        field: 'gainAudCents',
        expectedAudCents: taxGain.toString(),
        givenAudCents: event.gainAudCents.toString(),
      });
    }
  }
  const bookGain = treatment === 'COST_BASE' ? taxGain : proceeds - costBase;
  const exchange = String(event.exchange).slice(0, 40);
  const what = event.satoshis !== undefined ? `${formatBtc(event.satoshis)} BTC sold on ${exchange}` : `BTC sold on ${exchange}`;
  const lines: JournalLine[] = [
    ...line(mapping, 'exchangeClearing', 'DEBIT', proceeds - fee, `${exchange} AUD received (net of fee)`),
    ...(treatment === 'EXPENSE' ? line(mapping, 'feesExpense', 'DEBIT', fee - itc, `${exchange} fee`) : []),
    ...line(mapping, 'gstOnFees', 'DEBIT', itc, `GST credit on ${exchange} fee`),
    ...line(mapping, 'digitalAsset', 'CREDIT', costBase, `${what} (cost base)`),
    ...(bookGain > 0n ? line(mapping, 'realisedGain', 'CREDIT', bookGain, 'Realised gain') : line(mapping, 'realisedLoss', 'DEBIT', -bookGain, 'Realised loss')),
  ];
  const idempotencyKey = saleIdempotencyKey(saleId);
  const journal: Journal = {
    idempotencyKey,
    source: { kind: 'SALE', saleId },
    date: localDate(at, opts.timeZone ?? DEFAULT_TIME_ZONE),
    at,
    narration: `Liquid ABT: ${what} for ${formatAud(proceeds)} − fee ${formatAud(fee)}, cost base ${formatAud(costBase)} [${idempotencyKey}]`,
    lines,
  };
  assertBalanced(journal);
  return journal;
}

/**
 * Cents → the decimal number a JSON API wants (Xero's LineAmount, MYOB's Amount). The number is
 * parsed from exact decimal text and checked to print back as that text, so no float arithmetic
 * ever touches the amount and JSON.stringify writes exactly "123.45".
 */
export function centsToWireNumber(amountAudCents: bigint): number {
  const neg = amountAudCents < 0n;
  const abs = neg ? -amountAudCents : amountAudCents;
  const text = `${neg ? '-' : ''}${abs / 100n}.${(abs % 100n).toString().padStart(2, '0')}`;
  const n = Number(text);
  if (!Number.isSafeInteger(Number(abs / 100n)) || centsFromWireNumber(n) !== amountAudCents) {
    throw booksError(BooksReason.INVALID_AMOUNT, 'amount is too large to send exactly', { amountAudCents: amountAudCents.toString() });
  }
  return n;
}

/** A JSON decimal number back to cents, exactly, via its shortest round-trip text; refuses sub-cent values. */
export function centsFromWireNumber(value: unknown): bigint {
  const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : typeof value === 'string' ? value.trim() : '';
  const [, sign, whole, fraction = ''] = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(text) ?? [];
  if (whole === undefined) throw booksError(BooksReason.INVALID_AMOUNT, 'the provider answered with an amount that is not whole cents');
  const c = BigInt(whole) * 100n + BigInt(fraction.padEnd(2, '0'));
  return sign === '-' ? -c : c;
}
