/**
 * Swyftx REST (https://docs.swyftx.com.au).
 *
 * Auth, token cache and error bodies: `SwyftxSession` (swyftx.session.ts), shared with the withdrawal rail.
 * Buy: POST /orders/ {primary: "AUD", secondary: "BTC", quantity, assetQuantity: "AUD",
 * orderType: "MARKET_BUY"} → {orderUuid, order}; read back with GET /orders/byId/<orderUuid>.
 * Sell: the same POST with quantity in BTC, assetQuantity "BTC", orderType "MARKET_SELL". On both,
 * `amount` is in the primary asset (AUD) and `total` in the secondary (BTC).
 * Quote: public GET /markets/assets/ (asset ids by code) then GET /live-rates/<audId>/ (askPrice).
 * Swyftx sends money as JSON numbers, so bodies are parsed losslessly (numbers kept as text).
 *
 * Idempotency: Swyftx has no client order id. We keep clientOrderId → orderUuid in an
 * OrderIdStore: reserved before the POST, linked after. A reservation left without a link (crash or
 * lost response) is resolved by scanning recent BTC orders for one with our exact quantity (AUD for
 * a buy, BTC for a sell) placed after the reservation and not linked to another id. Production must
 * pass a durable store.
 *
 * Not verified against the live API (documented in the report): the numeric order status codes
 * below, and that on a filled AUD→BTC market buy `amount` is AUD spent and `total` is BTC received.
 */
import { z } from 'zod';
import { averagePriceAudPerBtc, centsToAud, isPlainNonNegativeDecimal, JsonNumberLiteral, parseDecimal, stringifyJson, textToUnits, unitsToText } from '../../../lib/money';
import { log } from '../../../lib/logger';
import { invalidResponse, orderUnits, type FetchLike } from './exchange-http';
import { SwyftxSession } from './swyftx.session';
import {
  assertClientOrderId,
  assertPositiveAudCents,
  assertPositiveSats,
  ExchangeError,
  safeExchangeText,
  type ExchangeAdapter,
  type ExchangeOrder,
  type HealthStatus,
  type OrderStatus,
  type Quote,
} from './exchange.types';
import { InMemoryOrderIdStore, type OrderIdRecord, type OrderIdStore } from './order-id-store';


/** Swyftx order status codes (from Swyftx's docs as recalled; unverified against the live API). */
export const SWYFTX_STATUS: Readonly<Record<string, string>> = {
  '1': 'OPEN',
  '2': 'PENDING',
  '3': 'PARTIAL_FILLED',
  '4': 'FILLED',
  '5': 'FAILED',
  '6': 'USER_CANCELLED',
  '7': 'SYSTEM_CANCELLED',
};

const num = z.string(); // lossless JSON: numbers arrive as their source text
const AssetList = z.array(z.object({ id: num, code: z.string() }));
const LiveRates = z.record(z.string(), z.unknown());
const LiveRate = z.object({ askPrice: num.nullish() });
const SwyftxOrder = z.object({
  orderUuid: z.string().optional(),
  primary_asset: num.nullish(),
  secondary_asset: num.nullish(),
  quantity_asset: num.nullish(),
  quantity: num.nullish(),
  status: num,
  created_time: num.nullish(),
  amount: num.nullish(),
  total: num.nullish(),
  rate: num.nullish(),
  feeAmount: num.nullish(),
  feeAsset: num.nullish(),
  feeAudValue: num.nullish(),
});
export type SwyftxOrderInfo = z.infer<typeof SwyftxOrder>;
const ListedOrder = SwyftxOrder.extend({ orderUuid: z.string() });
const PlaceResponse = z.object({ orderUuid: z.string().min(1), order: SwyftxOrder.partial({ status: true }).nullish() });
const OrderList = z.union([z.array(z.unknown()), z.object({ orders: z.array(z.unknown()) })]);
type AssetIds = { aud: string; btc: string };

const units = (text: string | null | undefined, decimals: number, rounding: 'floor' | 'half-up', field: string): bigint =>
  orderUnits('swyftx', text, decimals, rounding, field);

/**
 * Swyftx order → ExchangeOrder for an AUD/BTC market buy or sell. `amount` (AUD) and `total` (BTC)
 * come from Swyftx as JSON numbers with float noise; BTC rounds down to whole sats, AUD half-up to
 * cents. A sell is one whose quantity is in BTC (or `requestedSats` is given).
 */
export function mapSwyftxOrder(
  uuid: string,
  order: SwyftxOrderInfo,
  clientOrderId: string,
  ids: AssetIds,
  requestedAudCents: bigint | null,
  requestedSats: bigint | null = null,
): ExchangeOrder {
  const code = SWYFTX_STATUS[order.status];
  if (!code) throw invalidResponse('swyftx', `unknown order status ${safeExchangeText(order.status, [])}`, false);
  const filledSats = units(order.total, 8, 'floor', 'total');
  const spentAudCents = units(order.amount, 2, 'half-up', 'amount');
  let feeAudCents = 0n;
  if (order.feeAmount != null && order.feeAsset === ids.aud) feeAudCents = units(order.feeAmount, 2, 'half-up', 'feeAmount');
  else if (order.feeAudValue != null) feeAudCents = units(order.feeAudValue, 2, 'half-up', 'feeAudValue');
  const sell = requestedSats !== null || order.quantity_asset === ids.btc;
  const requested = sell
    ? 0n
    : (requestedAudCents ?? (order.quantity_asset === ids.aud ? units(order.quantity, 2, 'half-up', 'quantity') : spentAudCents));

  let status: OrderStatus;
  switch (code) {
    case 'FILLED':
      status = 'FILLED';
      break;
    case 'PARTIAL_FILLED':
      status = 'PARTIALLY_FILLED';
      break;
    case 'FAILED':
      status = 'REJECTED';
      break;
    case 'USER_CANCELLED':
    case 'SYSTEM_CANCELLED':
      status = filledSats > 0n ? 'PARTIALLY_FILLED' : 'CANCELLED';
      break;
    default:
      status = filledSats > 0n ? 'PARTIALLY_FILLED' : 'OPEN';
  }
  // Working orders (partly filled, or a status we do not know as final) may still fill.
  const open = !['FILLED', 'FAILED', 'USER_CANCELLED', 'SYSTEM_CANCELLED'].includes(code ?? '');
  return {
    open,
    exchange: 'swyftx',
    clientOrderId,
    exchangeOrderId: uuid,
    status,
    requestedAudCents: requested,
    ...(sell ? { side: 'sell' as const, requestedSats: requestedSats ?? units(order.quantity, 8, 'floor', 'quantity') } : {}),
    filledSats,
    spentAudCents,
    feeAudCents,
    averagePrice: averagePriceAudPerBtc(spentAudCents, filledSats),
    raw: { orderUuid: uuid, ...order },
  };
}

export type SwyftxClientOptions = {
  apiKey: string;
  baseUrl?: string;
  timeoutMs?: number;
  orderIds?: OrderIdStore;
  now?: () => Date;
  fetchImpl?: FetchLike;
  /** How far before a reservation an order may be stamped and still be ours (clock skew). */
  reconcileSkewMs?: number;
  /** Page size when scanning recent orders during reconciliation. */
  reconcileScanLimit?: number;
};

export class SwyftxClient implements ExchangeAdapter {
  readonly name = 'swyftx' as const;
  private readonly session: SwyftxSession;
  private readonly store: OrderIdStore;
  private readonly now: () => Date;
  private assetIds: AssetIds | null = null;

  constructor(private readonly opts: SwyftxClientOptions) {
    this.session = new SwyftxSession(opts);
    this.store = opts.orderIds ?? new InMemoryOrderIdStore();
    this.now = opts.now ?? (() => new Date());
  }

  async quote(): Promise<Quote> {
    const ids = await this.ids();
    const rates = LiveRates.safeParse(await this.session.publicGet(`/live-rates/${ids.aud}/`));
    const btc = rates.success ? LiveRate.safeParse(rates.data[ids.btc]) : null;
    const ask = btc?.success ? btc.data.askPrice : undefined;
    if (!ask || !isPlainNonNegativeDecimal(ask) || parseDecimal(ask)?.coef === 0n) {
      throw invalidResponse('swyftx', 'live rates have no usable BTC ask price', false);
    }
    return { exchange: 'swyftx', priceAudPerBtc: ask, at: this.now() };
  }

  async placeMarketBuy(clientOrderId: string, audCents: bigint): Promise<ExchangeOrder> {
    assertClientOrderId('swyftx', clientOrderId);
    assertPositiveAudCents('swyftx', audCents);
    return this.place(clientOrderId, { side: 'buy', audCents });
  }

  /** Market-sells `sats` for AUD; exactly-once through the same reservation as buys, matched by its BTC quantity. */
  async placeMarketSell(clientOrderId: string, sats: bigint): Promise<ExchangeOrder> {
    assertClientOrderId('swyftx', clientOrderId);
    assertPositiveSats('swyftx', sats);
    return this.place(clientOrderId, { side: 'sell', sats });
  }

  private async place(clientOrderId: string, want: { side: 'buy'; audCents: bigint } | { side: 'sell'; sats: bigint }): Promise<ExchangeOrder> {
    const ids = await this.ids();
    const audCents = want.side === 'buy' ? want.audCents : 0n;
    const sats = want.side === 'sell' ? want.sats : null;
    const prior = await this.store.get('swyftx', clientOrderId);
    if (prior) {
      if ((prior.sats ?? null) === null ? want.side === 'sell' : want.side === 'buy') {
        throw new ExchangeError({ exchange: 'swyftx', kind: 'REJECTED', message: `clientOrderId was already used for a ${want.side === 'sell' ? 'buy' : 'sell'}` });
      }
      const existing = await this.getOrder(clientOrderId);
      if (existing) return existing;
      if (prior.exchangeOrderId) {
        throw invalidResponse('swyftx', 'a linked order could not be read back; refusing to place a second', false);
      }
      if (prior.audCents !== audCents || (prior.sats ?? null) !== sats) {
        throw new ExchangeError({ exchange: 'swyftx', kind: 'REJECTED', message: 'clientOrderId was already used for a different amount' });
      }
    } else {
      await this.store.reserve('swyftx', { clientOrderId, exchangeOrderId: null, audCents, sats, reservedAt: this.now() });
    }

    const body = stringifyJson(
      want.side === 'buy'
        ? { primary: 'AUD', secondary: 'BTC', quantity: new JsonNumberLiteral(centsToAud(want.audCents)), assetQuantity: 'AUD', orderType: 'MARKET_BUY' }
        : { primary: 'AUD', secondary: 'BTC', quantity: new JsonNumberLiteral(unitsToText(want.sats, 8)), assetQuantity: 'BTC', orderType: 'MARKET_SELL' },
    );
    const placed = PlaceResponse.safeParse(await this.session.authed('POST', '/orders/', body, { mutation: true }));
    if (!placed.success) throw invalidResponse('swyftx', 'order response has no orderUuid', true);
    const uuid = placed.data.orderUuid;
    await this.store.link('swyftx', clientOrderId, uuid);

    const requestedAud = want.side === 'buy' ? want.audCents : null;
    const inline = SwyftxOrder.safeParse(placed.data.order);
    if (inline.success) return mapSwyftxOrder(uuid, inline.data, clientOrderId, ids, requestedAud, sats);
    try {
      const order = await this.fetchById(uuid);
      if (order) return mapSwyftxOrder(uuid, order, clientOrderId, ids, requestedAud, sats);
    } catch (err) {
      // Placed is placed: a failed read-back must not look like a failed order.
      log().warn({ exchange: 'swyftx', orderUuid: uuid, kind: err instanceof ExchangeError ? err.kind : 'unknown' }, 'order placed but status read failed');
    }
    return {
      exchange: 'swyftx',
      clientOrderId,
      exchangeOrderId: uuid,
      status: 'OPEN',
      requestedAudCents: audCents,
      ...(want.side === 'sell' ? { side: 'sell' as const, requestedSats: want.sats } : {}),
      filledSats: 0n,
      spentAudCents: 0n,
      feeAudCents: 0n,
      averagePrice: null,
      raw: placed.data,
    };
  }

  async getOrder(clientOrderId: string): Promise<ExchangeOrder | null> {
    const record = await this.store.get('swyftx', clientOrderId);
    if (!record) return null;
    const ids = await this.ids();
    const sats = record.sats ?? null;
    const requestedAud = sats === null ? record.audCents : null;
    if (record.exchangeOrderId) {
      const order = await this.fetchById(record.exchangeOrderId);
      return order ? mapSwyftxOrder(record.exchangeOrderId, order, clientOrderId, ids, requestedAud, sats) : null;
    }
    const adopted = await this.reconcileReservation(record, ids);
    return adopted ? mapSwyftxOrder(adopted[0], adopted[1], clientOrderId, ids, requestedAud, sats) : null;
  }

  async health(): Promise<HealthStatus> {
    try {
      await this.session.accessToken();
      await this.quote();
      return { ok: true };
    } catch (err) {
      return { ok: false, detail: err instanceof ExchangeError ? err.kind : 'unknown error' };
    }
  }

  /** Finds the order a lost response left unlinked: same quantity (AUD for a buy, BTC for a sell), placed after the reservation. */
  private async reconcileReservation(record: OrderIdRecord, ids: AssetIds): Promise<[string, SwyftxOrderInfo] | null> {
    const limit = this.opts.reconcileScanLimit ?? 50;
    const listed = OrderList.safeParse(await this.session.authed('GET', `/orders/BTC?limit=${limit}`, undefined));
    if (!listed.success) throw invalidResponse('swyftx', 'order list is malformed', false);
    const rows = Array.isArray(listed.data) ? listed.data : listed.data.orders;
    const since = record.reservedAt.getTime() - (this.opts.reconcileSkewMs ?? 60_000);
    const sell = (record.sats ?? null) !== null;
    const wanted = sell ? (record.sats ?? 0n) : record.audCents;
    const quantityAsset = sell ? ids.btc : ids.aud;
    const candidates: Array<[string, SwyftxOrderInfo, bigint]> = [];
    for (const row of rows) {
      const o = ListedOrder.safeParse(row);
      if (!o.success) continue;
      const q = o.data.quantity ? parseDecimal(o.data.quantity) : null;
      const created = o.data.created_time ? parseDecimal(o.data.created_time) : null;
      if (!q || !created || o.data.quantity_asset !== quantityAsset || o.data.secondary_asset !== ids.btc) continue;
      let qUnits: bigint;
      try {
        qUnits = textToUnits(o.data.quantity ?? '', sell ? 8 : 2, 'exact');
      } catch {
        continue;
      }
      const createdMs = textToUnits(o.data.created_time ?? '0', 0, 'floor');
      if (qUnits !== wanted || createdMs < BigInt(since)) continue;
      if ((await this.store.clientOrderIdFor('swyftx', o.data.orderUuid)) !== null) continue;
      candidates.push([o.data.orderUuid, o.data, createdMs]);
    }
    candidates.sort((a, b) => (a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0));
    const [earliest] = candidates;
    if (!earliest) return null;
    const [uuid, order] = earliest;
    await this.store.link('swyftx', record.clientOrderId, uuid);
    return [uuid, order];
  }

  private async fetchById(uuid: string): Promise<SwyftxOrderInfo | null> {
    const json = await this.session.authed('GET', `/orders/byId/${encodeURIComponent(uuid)}`, undefined, { allowNotFound: true });
    if (json === null) return null;
    const parsed = SwyftxOrder.safeParse(json);
    if (!parsed.success) throw invalidResponse('swyftx', 'order is malformed', false);
    return parsed.data;
  }

  private async ids(): Promise<AssetIds> {
    if (this.assetIds) return this.assetIds;
    const parsed = AssetList.safeParse(await this.session.publicGet('/markets/assets/'));
    if (!parsed.success) throw invalidResponse('swyftx', 'asset list is malformed', false);
    const aud = parsed.data.find((a) => a.code === 'AUD')?.id;
    const btc = parsed.data.find((a) => a.code === 'BTC')?.id;
    if (!aud || !btc) throw invalidResponse('swyftx', 'asset list lacks AUD or BTC', false);
    this.assetIds = { aud, btc };
    return this.assetIds;
  }
}
