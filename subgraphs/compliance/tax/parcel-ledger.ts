import { AppError, ErrorCode } from '../../../lib/errors';
import { apportion, shareAt, shareOf } from './apportion';
import { feeGstOf } from './fee-gst';
import { assertCents, assertPositiveSats, assertSats } from './tax-amounts';
import { assertInstant, daysBetweenExclusive, financialYearOf, heldAtLeast12Months, localDate, parseLocalDate } from './tax-calendar';
import { TaxErrorReason, badTaxInput, taxError } from './tax-errors';
import { resolveProfile, type ResolvedProfile } from './tax-profile';
import type {
  Acquisition,
  AppliedAdjustment,
  CostBaseAdjustment,
  Disposal,
  DisposalResult,
  DisposalSource,
  DisposalType,
  Identification,
  Parcel,
  ParcelMatch,
  TaxHistory,
  TaxProfile,
  Transfer,
} from './tax.types';

/**
 * Replays a tenant's history in time order: every acquisition becomes a parcel, every disposal is
 * matched to parcels (FIFO unless the disposal records another identification), transfers move
 * parcels between wallets and dispose of their network fee. Pure: same input, same output.
 */

type WorkParcel = {
  id: string;
  acquisitionId: string;
  source: Acquisition['source'];
  exchange: string;
  wallet: string;
  purchaseId: string | null;
  fillId: string | null;
  acquiredAt: Date;
  acquiredOn: string;
  sats: bigint;
  cost: bigint;
  adjusted: boolean;
};

type Piece = { parcel: WorkParcel; sats: bigint; cost: bigint };

export type Ledger = {
  profile: ResolvedProfile;
  /** In replay order (time, then id); transfer fees appear as FEE disposals with their transferId. */
  disposals: DisposalResult[];
  /** Parcels still holding sats, oldest first. */
  parcels: Parcel[];
  adjustments: AppliedAdjustment[];
};

export type ReplayOptions = {
  /** Replay only events strictly before this instant. */
  before?: Date;
};

const FIFO: Identification = { method: 'FIFO' };
export const transferFeeId = (transferId: string): string => `${transferId}:fee`;
export const movedParcelId = (parcelId: string, transferId: string): string => `${parcelId}>${transferId}`;

function fifoCompare(a: WorkParcel, b: WorkParcel): number {
  const t = a.acquiredAt.getTime() - b.acquiredAt.getTime();
  if (t !== 0) return t;
  if (a.acquisitionId !== b.acquisitionId) return a.acquisitionId < b.acquisitionId ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Cost per sat compared exactly by cross-multiplying (no division, no rounding). */
function unitCostCompare(a: WorkParcel, b: WorkParcel): number {
  const l = a.cost * b.sats;
  const r = b.cost * a.sats;
  return l === r ? 0 : l < r ? -1 : 1;
}

/**
 * The pool in `compare` order, found one at a time: a sale usually takes a few parcels, so picking
 * the next best by a scan beats sorting the whole inventory (same order as a sort).
 */
function* bestFirst(pool: WorkParcel[], compare: (a: WorkParcel, b: WorkParcel) => number): Generator<WorkParcel> {
  const rest = [...pool];
  for (;;) {
    let best: { at: number; parcel: WorkParcel } | undefined;
    rest.forEach((parcel, at) => {
      if (!best || compare(parcel, best.parcel) < 0) best = { at, parcel };
    });
    if (!best) return;
    rest.splice(best.at, 1);
    yield best.parcel;
  }
}

const str = (v: bigint): string => v.toString();

function insufficient(subject: string, message: string, requested: bigint, available: bigint, extra: Record<string, string> = {}): Error {
  return badTaxInput(TaxErrorReason.INSUFFICIENT_HOLDINGS, message, {
    subject,
    requestedSats: str(requested),
    availableSats: str(available),
    ...extra,
  });
}

function assertId(id: unknown, field: string): asserts id is string {
  if (typeof id !== 'string' || id.length === 0 || id.length > 200 || id.includes('>')) {
    throw badTaxInput(TaxErrorReason.INVALID_ID, `${field} must be a non-empty id without ">"`, { field });
  }
}

function validateIdentification(ident: Identification, sats: bigint, at: Date, field: string): void {
  switch (ident.method) {
    case 'FIFO':
      return;
    case 'SPECIFIC': {
      if (!Array.isArray(ident.parcels) || ident.parcels.length === 0) {
        throw badTaxInput(TaxErrorReason.SPECIFIC_SATS_MISMATCH, `${field}: specific identification names no parcels`, { field });
      }
      const seen = new Set<string>();
      let total = 0n;
      for (const c of ident.parcels) {
        if (typeof c.parcelId !== 'string' || c.parcelId.length === 0) {
          throw badTaxInput(TaxErrorReason.INVALID_ID, `${field}: a chosen parcel needs its id`, { field });
        }
        if (seen.has(c.parcelId)) {
          throw badTaxInput(TaxErrorReason.DUPLICATE_PARCEL_IN_CHOICE, `${field}: parcel ${c.parcelId} is named twice`, { field, parcelId: c.parcelId });
        }
        seen.add(c.parcelId);
        total += assertPositiveSats(c.sats, `${field}.sats`);
      }
      if (total !== sats) {
        throw badTaxInput(TaxErrorReason.SPECIFIC_SATS_MISMATCH, `${field}: the parcels chosen add up to ${total} sats, not ${sats}`, {
          field,
          chosenSats: str(total),
          sats: str(sats),
        });
      }
      return;
    }
    case 'HIGHEST_COST_FIRST':
    case 'LOWEST_COST_FIRST':
    case 'LIFO':
      assertInstant(ident.chosenAt, `${field}.chosenAt`);
      if (ident.chosenAt.getTime() > at.getTime()) {
        throw badTaxInput(TaxErrorReason.STRATEGY_CHOSEN_AFTER_SALE, `${field}: ${ident.method} must be chosen before the disposal`, { field });
      }
      return;
    case 'SAME_DAY_AVERAGE':
      if (ident.acquiredOn !== undefined) parseLocalDate(ident.acquiredOn, `${field}.acquiredOn`);
      return;
    default:
      throw badTaxInput(TaxErrorReason.INVALID_IDENTIFICATION, `${field}: unknown identification method`, { field });
  }
}

type Prepared = {
  acquisitions: Acquisition[];
  disposals: Disposal[];
  transfers: Transfer[];
  adjustments: CostBaseAdjustment[];
  costBases: Map<string, bigint>;
};

/** Checks every field and reference of a history; throws the first typed error. */
function prepare(history: TaxHistory, p: ResolvedProfile): Prepared {
  const ids = new Set<string>();
  const claim = (id: string, field: string): void => {
    if (ids.has(id)) throw taxError(ErrorCode.CONFLICT, TaxErrorReason.DUPLICATE_ID, `${field} ${id} is used twice`, { field, id });
    ids.add(id);
  };
  const costBases = new Map<string, bigint>();

  for (const a of history.acquisitions) aboutEvent(String(a.id), () => {
    const f = `acquisition ${String(a.id)}`;
    assertId(a.id, 'acquisition.id');
    claim(a.id, 'acquisition');
    assertInstant(a.at, `${f}.at`);
    assertPositiveSats(a.sats, `${f}.sats`);
    assertCents(a.costAudCents, `${f}.costAudCents`);
    assertCents(a.feeAudCents, `${f}.feeAudCents`);
    if (!['PURCHASE_FILL', 'IMPORT', 'MANUAL'].includes(a.source)) throw badTaxInput(TaxErrorReason.INVALID_EVENT, `${f}.source must be PURCHASE_FILL, IMPORT or MANUAL`, { field: 'source' });
    if (typeof a.exchange !== 'string' || a.exchange.length === 0) throw badTaxInput(TaxErrorReason.INVALID_EVENT, `${f}.exchange is required`, { field: 'exchange' });
    const gst = feeGstOf(a.feeAudCents, a, p.gstRegistered, f);
    costBases.set(a.id, a.costAudCents + a.feeAudCents - gst.itcAudCents);
  });
  for (const d of history.disposals) aboutEvent(String(d.id), () => {
    const f = `disposal ${String(d.id)}`;
    assertId(d.id, 'disposal.id');
    claim(d.id, 'disposal');
    if (!['SALE', 'SPEND', 'FEE'].includes(d.type)) throw badTaxInput(TaxErrorReason.INVALID_EVENT, `${f}.type must be SALE, SPEND or FEE`, { field: 'type' });
    if (d.source !== 'PLATFORM' && d.source !== 'IMPORT') throw badTaxInput(TaxErrorReason.INVALID_EVENT, `${f}.source must be PLATFORM or IMPORT`, { field: 'source' });
    assertInstant(d.at, `${f}.at`);
    assertPositiveSats(d.sats, `${f}.sats`);
    assertCents(d.proceedsAudCents, `${f}.proceedsAudCents`);
    assertCents(d.feeAudCents, `${f}.feeAudCents`);
    const gst = feeGstOf(d.feeAudCents, d, p.gstRegistered, f);
    if (d.feeAudCents - gst.itcAudCents > d.proceedsAudCents) {
      throw badTaxInput(TaxErrorReason.FEE_EXCEEDS_PROCEEDS, `${f}: the fee is more than the proceeds`, { field: 'feeAudCents' });
    }
    validateIdentification(d.identification ?? FIFO, d.sats, d.at, `${f}.identification`);
  });
  for (const t of history.transfers ?? []) aboutEvent(String(t.id), () => {
    const f = `transfer ${String(t.id)}`;
    assertId(t.id, 'transfer.id');
    claim(t.id, 'transfer');
    claim(transferFeeId(t.id), 'transfer fee disposal');
    assertInstant(t.at, `${f}.at`);
    assertPositiveSats(t.sats, `${f}.sats`);
    assertSats(t.networkFeeSats, `${f}.networkFeeSats`);
    assertCents(t.networkFeeMarketValueAudCents, `${f}.networkFeeMarketValueAudCents`);
    if (t.networkFeeSats === 0n && t.networkFeeMarketValueAudCents !== 0n) {
      throw badTaxInput(TaxErrorReason.INVALID_EVENT, `${f}: a network fee value without fee sats`, { field: 'networkFeeMarketValueAudCents' });
    }
    if (t.fromWallet === t.toWallet) throw badTaxInput(TaxErrorReason.SAME_WALLET_TRANSFER, `${f}: from and to are the same wallet`, { field: 'toWallet' });
    if (t.identification?.method === 'SAME_DAY_AVERAGE') {
      throw badTaxInput(TaxErrorReason.INVALID_IDENTIFICATION, `${f}: a transfer is not a disposal and cannot average parcels`, { field: 'identification' });
    }
    validateIdentification(t.identification ?? FIFO, t.sats + t.networkFeeSats, t.at, `${f}.identification`);
  });

  const adjIds = new Set<string>();
  for (const adj of history.adjustments ?? []) aboutEvent(String(adj.id), () => {
    const f = `cost base adjustment ${String(adj.id)}`;
    assertId(adj.id, 'adjustment.id');
    if (adjIds.has(adj.id)) throw taxError(ErrorCode.CONFLICT, TaxErrorReason.DUPLICATE_ID, `${f} is used twice`, { field: 'adjustment', id: adj.id });
    adjIds.add(adj.id);
    assertInstant(adj.effectiveAt, `${f}.effectiveAt`);
    assertInstant(adj.recordedAt, `${f}.recordedAt`);
    assertCents(adj.costBaseAudCents, `${f}.costBaseAudCents`);
    if (typeof adj.reason !== 'string' || adj.reason.trim().length === 0) {
      throw badTaxInput(TaxErrorReason.REASON_REQUIRED, `${f}: a cost base edit needs a reason`, { field: 'reason' });
    }
    if (typeof adj.parcelId !== 'string' || adj.parcelId.length === 0) {
      throw badTaxInput(TaxErrorReason.INVALID_ID, `${f}: parcelId is required`, { field: 'parcelId' });
    }
  });

  return { acquisitions: history.acquisitions, disposals: history.disposals, transfers: history.transfers ?? [], adjustments: history.adjustments ?? [], costBases };
}

class Replay {
  readonly parcels = new Map<string, WorkParcel>();
  /** Parcels holding sats, kept in FIFO order so a disposal never sorts the whole inventory. */
  private held: WorkParcel[] = [];
  readonly results: DisposalResult[] = [];
  readonly adjustments: AppliedAdjustment[] = [];

  constructor(
    private readonly p: ResolvedProfile,
    private readonly acquisitionIds: ReadonlySet<string>,
  ) {}

  private add(w: WorkParcel): void {
    this.parcels.set(w.id, w);
    let lo = 0;
    let hi = this.held.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const probe = this.held[mid];
      if (probe === undefined) throw new RangeError(`held index ${mid} outside 0..${this.held.length}`);
      if (fifoCompare(probe, w) <= 0) lo = mid + 1;
      else hi = mid;
    }
    this.held.splice(lo, 0, w);
  }

  acquire(a: Acquisition, cost: bigint): void {
    this.add({
      id: a.id,
      acquisitionId: a.id,
      source: a.source,
      exchange: a.exchange,
      wallet: a.wallet ?? a.exchange,
      purchaseId: a.purchaseId ?? null,
      fillId: a.fillId ?? null,
      acquiredAt: a.at,
      acquiredOn: localDate(a.at, this.p.timeZone),
      sats: a.sats,
      cost,
      adjusted: false,
    });
  }

  adjust(adj: CostBaseAdjustment): void {
    const parcel = this.parcels.get(adj.parcelId);
    if (!parcel) {
      throw taxError(ErrorCode.NOT_FOUND, TaxErrorReason.UNKNOWN_PARCEL, `cost base adjustment ${adj.id}: no parcel ${adj.parcelId} at its effective time`, {
        parcelId: adj.parcelId,
      });
    }
    if (parcel.sats === 0n) {
      throw insufficient(`cost base adjustment ${adj.id}`, `cost base adjustment ${adj.id}: parcel ${adj.parcelId} holds nothing at its effective time`, 1n, 0n, {
        parcelId: adj.parcelId,
      });
    }
    this.adjustments.push({ ...adj, sats: parcel.sats, previousCostBaseAudCents: parcel.cost });
    parcel.cost = adj.costBaseAudCents;
    parcel.adjusted = true;
  }

  private candidates(wallet: string | undefined): WorkParcel[] {
    this.held = this.held.filter((w) => w.sats > 0n);
    return wallet === undefined ? [...this.held] : this.held.filter((w) => w.wallet === wallet);
  }

  private static cut(parcel: WorkParcel, sats: bigint): Piece {
    const cost = shareOf(parcel.cost, sats, parcel.sats);
    parcel.sats -= sats;
    parcel.cost -= cost;
    return { parcel, sats, cost };
  }

  /** Takes `want` sats by the identification; returns the pieces and what could not be found. */
  private take(subject: string, wallet: string | undefined, want: bigint, ident: Identification, allowShortfall: boolean): { pieces: Piece[]; shortfall: bigint } {
    const where: Record<string, string> = wallet === undefined ? {} : { wallet };

    if (ident.method === 'SPECIFIC') {
      const pieces: Piece[] = [];
      for (const c of ident.parcels) {
        const parcel = this.parcels.get(c.parcelId);
        if (!parcel) {
          if (this.acquisitionIds.has(c.parcelId)) {
            throw insufficient(subject, `${subject}: parcel ${c.parcelId} is acquired after it`, c.sats, 0n, { parcelId: c.parcelId });
          }
          throw taxError(ErrorCode.NOT_FOUND, TaxErrorReason.UNKNOWN_PARCEL, `${subject}: no parcel ${c.parcelId}`, { subject, parcelId: c.parcelId });
        }
        const held = wallet === undefined || parcel.wallet === wallet ? parcel.sats : 0n;
        if (held < c.sats) {
          throw insufficient(subject, `${subject}: parcel ${c.parcelId} holds ${held} sats${wallet ? ` in ${wallet}` : ''}, not ${c.sats}`, c.sats, held, {
            parcelId: c.parcelId,
            ...where,
          });
        }
        pieces.push(Replay.cut(parcel, c.sats));
      }
      return { pieces, shortfall: 0n };
    }

    const pool = this.candidates(wallet);
    if (ident.method === 'SAME_DAY_AVERAGE') {
      const day = ident.acquiredOn ?? pool[0]?.acquiredOn;
      const sameDay = pool.filter((w) => w.acquiredOn === day);
      if (day === undefined || sameDay.length === 0) {
        throw badTaxInput(TaxErrorReason.NO_SAME_DAY_PARCELS, `${subject}: no parcels acquired on ${day ?? 'any day'} are held to average`, {
          subject,
          acquiredOn: day ?? null,
        });
      }
      const poolSats = sameDay.reduce((s, w) => s + w.sats, 0n);
      const poolCost = sameDay.reduce((s, w) => s + w.cost, 0n);
      if (poolSats < want) {
        throw insufficient(subject, `${subject}: parcels acquired on ${day} hold ${poolSats} sats, not ${want}; average cost covers one day only`, want, poolSats, {
          acquiredOn: day,
        });
      }
      const taken = shareOf(poolCost, want, poolSats);
      const grabbed: { parcel: WorkParcel; sats: bigint }[] = [];
      let left = want;
      for (const w of sameDay) {
        if (left === 0n) break;
        const s = w.sats < left ? w.sats : left;
        w.sats -= s;
        left -= s;
        grabbed.push({ parcel: w, sats: s });
      }
      const costs = apportion(
        taken,
        grabbed.map((g) => g.sats),
      );
      const restWeights = sameDay.map((w) => w.sats);
      if (restWeights.some((s) => s > 0n)) {
        const spread = apportion(poolCost - taken, restWeights);
        sameDay.forEach((w, i) => (w.cost = shareAt(spread, i)));
      } else {
        sameDay.forEach((w) => (w.cost = 0n));
      }
      return { pieces: grabbed.map((g, i) => ({ parcel: g.parcel, sats: g.sats, cost: shareAt(costs, i) })), shortfall: 0n };
    }

    const ordered: Iterable<WorkParcel> =
      ident.method === 'FIFO'
        ? pool
        : ident.method === 'LIFO'
          ? [...pool].reverse()
          : bestFirst(pool, ident.method === 'HIGHEST_COST_FIRST' ? (a, b) => unitCostCompare(b, a) || fifoCompare(a, b) : (a, b) => unitCostCompare(a, b) || fifoCompare(a, b));
    const pieces: Piece[] = [];
    let left = want;
    for (const w of ordered) {
      if (left === 0n) break;
      const s = w.sats < left ? w.sats : left;
      pieces.push(Replay.cut(w, s));
      left -= s;
    }
    if (left > 0n && !allowShortfall) {
      // Everything held was taken, so what was available is what was found (the replay is abandoned).
      const available = want - left;
      throw insufficient(subject, `${subject}: ${want} sats asked, ${available} held${wallet ? ` in ${wallet}` : ''}`, want, available, where);
    }
    return { pieces, shortfall: left };
  }

  private record(
    d: { id: string; type: DisposalType; source: DisposalSource; transferId: string | null; at: Date; sats: bigint; gross: bigint; fee: bigint; itc: bigint },
    identification: Identification,
    pieces: Piece[],
    unknownSats: bigint,
  ): void {
    const disposedOn = localDate(d.at, this.p.timeZone);
    const proceeds = d.gross - (d.fee - d.itc);
    const weights = [...pieces.map((x) => x.sats), ...(unknownSats > 0n ? [unknownSats] : [])];
    const shares = apportion(proceeds, weights);
    const canDiscount = this.p.entityType !== 'COMPANY';
    const matches: ParcelMatch[] = pieces.map((x, i) => {
      const held = heldAtLeast12Months(x.parcel.acquiredOn, disposedOn);
      return {
        parcelId: x.parcel.id,
        acquisitionId: x.parcel.acquisitionId,
        acquiredAt: x.parcel.acquiredAt,
        acquiredOn: x.parcel.acquiredOn,
        sats: x.sats,
        costBaseAudCents: x.cost,
        proceedsAudCents: shareAt(shares, i),
        gainAudCents: shareAt(shares, i) - x.cost,
        heldDays: daysBetweenExclusive(x.parcel.acquiredOn, disposedOn),
        heldAtLeast12Months: held,
        discountEligible: held && canDiscount,
        unknownHistory: false,
      };
    });
    if (unknownSats > 0n) {
      const proceedsShare = shareAt(shares, shares.length - 1);
      matches.push({
        parcelId: null,
        acquisitionId: null,
        acquiredAt: null,
        acquiredOn: null,
        sats: unknownSats,
        costBaseAudCents: 0n,
        proceedsAudCents: proceedsShare,
        gainAudCents: proceedsShare,
        heldDays: null,
        heldAtLeast12Months: false,
        discountEligible: false,
        unknownHistory: true,
      });
    }
    let cost = 0n;
    let gainSum = 0n;
    let gains = 0n;
    let losses = 0n;
    for (const m of matches) {
      cost += m.costBaseAudCents;
      gainSum += m.gainAudCents;
      if (m.gainAudCents > 0n) gains += m.gainAudCents;
      else losses -= m.gainAudCents;
    }
    this.results.push({
      disposalId: d.id,
      type: d.type,
      source: d.source,
      transferId: d.transferId,
      at: d.at,
      disposedOn,
      financialYear: financialYearOf(disposedOn),
      sats: d.sats,
      grossProceedsAudCents: d.gross,
      feeAudCents: d.fee,
      feeItcAudCents: d.itc,
      proceedsAudCents: proceeds,
      identification,
      matches,
      costBaseAudCents: cost,
      gainAudCents: gainSum,
      capitalGainAudCents: gains,
      capitalLossAudCents: losses,
      flags: unknownSats > 0n ? ['UNKNOWN_ACQUISITION_HISTORY'] : [],
    });
  }

  dispose(d: Disposal): void {
    const ident = d.identification ?? FIFO;
    // History imported from elsewhere may start after the coins were bought: flagged, never silently zero.
    const allowShortfall = d.source === 'IMPORT';
    const { pieces, shortfall } = this.take(`disposal ${d.id}`, d.wallet, d.sats, ident, allowShortfall);
    const itc = feeGstOf(d.feeAudCents, d, this.p.gstRegistered, `disposal ${d.id}`).itcAudCents;
    this.record(
      { id: d.id, type: d.type, source: d.source, transferId: null, at: d.at, sats: d.sats, gross: d.proceedsAudCents, fee: d.feeAudCents, itc },
      ident,
      pieces,
      shortfall,
    );
  }

  transfer(t: Transfer): void {
    const ident = t.identification ?? FIFO;
    const { pieces } = this.take(`transfer ${t.id}`, t.fromWallet, t.sats + t.networkFeeSats, ident, false);
    const feePieces: Piece[] = [];
    const movePieces: Piece[] = [];
    let feeLeft = t.networkFeeSats;
    for (const x of pieces) {
      const f = x.sats < feeLeft ? x.sats : feeLeft;
      feeLeft -= f;
      if (f === 0n) movePieces.push(x);
      else if (f === x.sats) feePieces.push(x);
      else {
        const split = apportion(x.cost, [f, x.sats - f]);
        const fc = shareAt(split, 0);
        const mc = shareAt(split, 1);
        feePieces.push({ parcel: x.parcel, sats: f, cost: fc });
        movePieces.push({ parcel: x.parcel, sats: x.sats - f, cost: mc });
      }
    }
    if (t.networkFeeSats > 0n) {
      this.record(
        {
          id: transferFeeId(t.id),
          type: 'FEE',
          source: 'PLATFORM',
          transferId: t.id,
          at: t.at,
          sats: t.networkFeeSats,
          gross: t.networkFeeMarketValueAudCents,
          fee: 0n,
          itc: 0n,
        },
        ident,
        feePieces,
        0n,
      );
    }
    const feeFrom = new Set(feePieces.map((x) => x.parcel.id));
    for (const x of movePieces) {
      if (x.parcel.sats === 0n && !feeFrom.has(x.parcel.id)) {
        // The whole parcel moves: it keeps its id.
        x.parcel.sats = x.sats;
        x.parcel.cost = x.cost;
        x.parcel.wallet = t.toWallet;
      } else {
        const id = movedParcelId(x.parcel.id, t.id);
        this.add({ ...x.parcel, id, wallet: t.toWallet, sats: x.sats, cost: x.cost });
      }
    }
  }

  snapshot(): Parcel[] {
    return [...this.parcels.values()]
      .filter((w) => w.sats > 0n)
      .sort(fifoCompare)
      .map((w) => ({
        id: w.id,
        acquisitionId: w.acquisitionId,
        source: w.source,
        exchange: w.exchange,
        wallet: w.wallet,
        purchaseId: w.purchaseId,
        fillId: w.fillId,
        acquiredAt: w.acquiredAt,
        acquiredOn: w.acquiredOn,
        sats: w.sats,
        costBaseAudCents: w.cost,
        costBaseAdjusted: w.adjusted,
      }));
  }
}

type Step = { at: number; rank: number; id: string; run: () => void };

/** Runs fn; a typed error it throws gains the id of the event it is about (for import line numbers, UI fields). */
function aboutEvent<T>(eventId: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof AppError && e.extensions.eventId === undefined) {
      const { code, ...rest } = e.extensions;
      throw new AppError(code as ErrorCode, e.message, { ...rest, eventId });
    }
    throw e;
  }
}

/** Replays the whole history (or the part before `options.before`). Throws a typed AppError on bad input. */
export function replayHistory(history: TaxHistory, profile: TaxProfile, options: ReplayOptions = {}): Ledger {
  return replayResolved(history, resolveProfile(profile), options);
}

export function replayResolved(history: TaxHistory, p: ResolvedProfile, options: ReplayOptions = {}): Ledger {
  const prep = prepare(history, p);
  const replay = new Replay(p, new Set(prep.acquisitions.map((a) => a.id)));
  const steps: Step[] = [
    ...prep.acquisitions.map((a) => ({
      at: a.at.getTime(),
      rank: 0,
      id: a.id,
      run: () => replay.acquire(a, prep.costBases.get(a.id)!),
    })),
    ...prep.adjustments.map((adj) => ({ at: adj.effectiveAt.getTime(), rank: 1, id: adj.id, run: () => replay.adjust(adj) })),
    ...prep.transfers.map((t) => ({ at: t.at.getTime(), rank: 2, id: t.id, run: () => replay.transfer(t) })),
    ...prep.disposals.map((d) => ({ at: d.at.getTime(), rank: 3, id: d.id, run: () => replay.dispose(d) })),
  ];
  // Same instant: acquisitions, cost base edits, transfers, then disposals; then by id, so input order never matters.
  steps.sort((a, b) => a.at - b.at || a.rank - b.rank || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const before = options.before?.getTime();
  for (const s of steps) {
    if (before !== undefined && s.at >= before) break;
    aboutEvent(s.id, s.run);
  }
  return { profile: p, disposals: replay.results, parcels: replay.snapshot(), adjustments: replay.adjustments };
}

/** The parcels held at an instant (inclusive), oldest first. */
export function parcelsAsOf(history: TaxHistory, profile: TaxProfile, asOf: Date): Parcel[] {
  assertInstant(asOf, 'asOf');
  return replayHistory(history, profile, { before: new Date(asOf.getTime() + 1) }).parcels;
}
