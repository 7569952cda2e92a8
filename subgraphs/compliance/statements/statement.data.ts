import { divRound, parseDecimal } from '../../../lib/money/decimal';
import type { Parcel } from '../tax';
import type { StatementMonth } from './statement-month';

/** One fill of the month (a `tax_acquisition` row from a treasury fill fact). */
export type StatementPurchase = { id: string; at: Date; localDate: string; costAudCents: bigint; sats: bigint; feeAudCents: bigint; exchange: string };
/** One settled sale of the month (a platform SALE disposal). */
export type StatementSale = { id: string; at: Date; localDate: string; proceedsAudCents: bigint; sats: bigint; feeAudCents: bigint; exchange: string | null };

/** Everything a statement shows; amounts are bigint cents and satoshis, the price an exact decimal string. */
export type StatementData = {
  tenantName: string;
  month: StatementMonth;
  purchases: StatementPurchase[];
  sales: StatementSale[];
  /** CGT parcels held at the end of the month (the tax engine's `parcelsAsOf`), or null with the reason when the history does not replay. */
  parcels: Parcel[] | null;
  parcelsUnavailable: string | null;
  /** The BTC/AUD price at the end of the month (last 1-minute candle close before it), null when none is recorded. */
  priceAtEnd: string | null;
  totals: StatementTotals;
};

export type StatementTotals = {
  purchasedAudCents: bigint;
  purchasedSats: bigint;
  soldSats: bigint;
  saleProceedsAudCents: bigint;
  /** Purchase fees + sale fees of the month. */
  feesAudCents: bigint;
  holdingsSats: bigint;
  holdingsCostBaseAudCents: bigint;
  /** holdingsSats × priceAtEnd, rounded half up to the cent; null without a price. */
  holdingsValueAudCents: bigint | null;
};

const SATS_PER_BTC = 100_000_000n;
const sum = <T>(xs: readonly T[], f: (x: T) => bigint): bigint => xs.reduce((a, x) => a + f(x), 0n);

/** The AUD value in cents of `sats` at `price` AUD per BTC (exact decimal), rounded half up. */
export function valueAudCents(sats: bigint, price: string): bigint {
  const d = parseDecimal(price);
  if (d === null || d.coef < 0n) throw new RangeError('price must be a non-negative decimal');
  return divRound(sats * d.coef * 100n, SATS_PER_BTC * 10n ** BigInt(d.scale), 'half-up');
}

/** The AUD price per BTC in cents a fill paid (excluding its fee), rounded half up. */
export const unitPriceAudCents = (costAudCents: bigint, sats: bigint): bigint => divRound(costAudCents * SATS_PER_BTC, sats, 'half-up');

export function statementTotals(purchases: readonly StatementPurchase[], sales: readonly StatementSale[], parcels: readonly Parcel[] | null, priceAtEnd: string | null): StatementTotals {
  const holdingsSats = parcels ? sum(parcels, (p) => p.sats) : 0n;
  return {
    purchasedAudCents: sum(purchases, (p) => p.costAudCents),
    purchasedSats: sum(purchases, (p) => p.sats),
    soldSats: sum(sales, (s) => s.sats),
    saleProceedsAudCents: sum(sales, (s) => s.proceedsAudCents),
    feesAudCents: sum(purchases, (p) => p.feeAudCents) + sum(sales, (s) => s.feeAudCents),
    holdingsSats,
    holdingsCostBaseAudCents: parcels ? sum(parcels, (p) => p.costBaseAudCents) : 0n,
    holdingsValueAudCents: priceAtEnd === null || parcels === null ? null : valueAudCents(holdingsSats, priceAtEnd),
  };
}
