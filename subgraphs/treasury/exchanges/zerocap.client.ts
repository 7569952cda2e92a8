/**
 * ZeroCap DMA REST.
 *
 * ZeroCap's full API reference (docs.zerocap.com/reference) is not publicly readable. What is
 * public is the README of ZeroCap's own SDK (the `zerocap-api` package on PyPI), and this client
 * follows it where it speaks:
 *   - every private request carries headers `api-key`, `timestamp` (integer Unix seconds) and
 *     `signature` = lowercase hex HMAC-SHA256(apiSecret, timestamp string);
 *   - orders are created with POST /orders/create_order {symbol, side, type, amount, price,
 *     client_order_id} and come back ccxt-shaped: {id, clientOrderId, status, amount, filled,
 *     cost, average, fee: {cost, currency}, timestamp}.
 * ASSUMED where the README is silent (a clearly documented shape; confirm with ZeroCap before
 * sending real money):
 *   - a market buy sized in AUD sends `cost` (ccxt's createMarketBuyOrderWithCost convention)
 *     and no `amount`; a market sell sends side "sell" and `amount` in BTC (ccxt's
 *     createOrder(symbol, 'market', 'sell', amount)), same client_order_id rule;
 *   - POST /orders/fetch_order {id} and POST /orders/fetch_orders {symbol, since, limit} (the SDK
 *     names fetch_order/fetch_orders; the paths mirror create_order);
 *   - POST /markets/fetch_ticker {symbol} → {bid, ask, last};
 *   - errors are an HTTP status with {error: {code, message}}; a reused client_order_id is
 *     refused with 409, so ZeroCap itself dedupes by client order id;
 *   - requests whose timestamp is more than 30 s from ZeroCap's clock are refused (401).
 * Note the documented signature covers only the timestamp, not the body: it authenticates the
 * caller but does not bind the request contents (TLS does that).
 *
 * Idempotency: our clientOrderId is ZeroCap's client_order_id. getOrder uses a cached
 * clientOrderId → id mapping, else scans fetch_orders for a matching clientOrderId.
 */
import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { averagePriceAudPerBtc, centsToAud, isPlainNonNegativeDecimal, type JsonValue, type JsonWritable, parseDecimal, stringifyJson, unitsToText } from '../../../lib/money';
import { errorForStatus, invalidResponse, orderUnits, parseBody, sendHttp, type FetchLike, type HttpResponse } from './exchange-http';
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

export const ZEROCAP_DEFAULT_BASE_URL = 'https://dma-api.zerocap.com';
export const ZEROCAP_SYMBOL = 'BTC/AUD';

/** The documented request signature: hex HMAC-SHA256 of the timestamp string. */
export function zerocapSignature(timestampSeconds: string, apiSecret: string): string {
  return createHmac('sha256', apiSecret).update(timestampSeconds).digest('hex');
}

const num = z.string(); // lossless JSON: numbers arrive as their source text
const ZerocapOrder = z.object({
  id: num,
  clientOrderId: z.string().nullish(),
  side: z.string().nullish(),
  status: z.string(),
  amount: num.nullish(),
  filled: num.nullish(),
  cost: num.nullish(),
  average: num.nullish(),
  fee: z.object({ cost: num.nullish(), currency: z.string().nullish() }).nullish(),
  timestamp: num.nullish(),
});
export type ZerocapOrderInfo = z.infer<typeof ZerocapOrder>;
const Ticker = z.object({ ask: num.nullish() });
const ErrorBody = z.object({ error: z.object({ code: z.string().optional(), message: z.string().optional() }) });

const units = (text: string | null | undefined, decimals: number, rounding: 'floor' | 'half-up', field: string): bigint =>
  orderUnits('zerocap', text, decimals, rounding, field);

/** ccxt-shaped ZeroCap order → ExchangeOrder: filled is BTC, cost is AUD, fee in AUD or BTC. */
export function mapZerocapOrder(order: ZerocapOrderInfo, clientOrderId: string, requestedAudCents: bigint | null): ExchangeOrder {
  const filledSats = units(order.filled, 8, 'floor', 'filled');
  const spentAudCents = units(order.cost, 2, 'half-up', 'cost');
  let feeAudCents = 0n;
  const fee = order.fee;
  if (fee?.cost != null) {
    if (fee.currency === 'AUD') feeAudCents = units(fee.cost, 2, 'half-up', 'fee.cost');
    else if (fee.currency === 'BTC') {
      // A BTC fee is valued at this order's own average price.
      const feeSats = units(fee.cost, 8, 'half-up', 'fee.cost');
      feeAudCents = filledSats > 0n ? (feeSats * spentAudCents * 2n + filledSats) / (filledSats * 2n) : 0n;
    } else throw invalidResponse('zerocap', 'fee is in an unexpected currency', false);
  }
  let status: OrderStatus;
  switch (order.status) {
    case 'closed':
      status = filledSats > 0n ? 'FILLED' : 'CANCELLED';
      break;
    case 'open':
      status = filledSats > 0n ? 'PARTIALLY_FILLED' : 'OPEN';
      break;
    case 'canceled':
    case 'cancelled':
    case 'expired':
      status = filledSats > 0n ? 'PARTIALLY_FILLED' : 'CANCELLED';
      break;
    case 'rejected':
      status = 'REJECTED';
      break;
    default:
      throw invalidResponse('zerocap', `unknown order status ${safeExchangeText(order.status, [])}`, false);
  }
  const average = order.average && isPlainNonNegativeDecimal(order.average) && parseDecimal(order.average)?.coef !== 0n ? order.average : null;
  const open = order.status === 'open';
  const sell = order.side === 'sell';
  return {
    open,
    exchange: 'zerocap',
    ...(sell ? { side: 'sell' as const, requestedSats: units(order.amount, 8, 'floor', 'amount') } : {}),
    clientOrderId,
    exchangeOrderId: order.id,
    status,
    requestedAudCents: sell ? 0n : (requestedAudCents ?? spentAudCents),
    filledSats,
    spentAudCents,
    feeAudCents,
    averagePrice: filledSats > 0n ? (average ?? averagePriceAudPerBtc(spentAudCents, filledSats)) : null,
    raw: order,
  };
}

export type ZerocapClientOptions = {
  apiKey: string;
  apiSecret: string;
  baseUrl?: string;
  timeoutMs?: number;
  /** Milliseconds since epoch; injected so tests control the signed timestamp. */
  nowMs?: () => number;
  fetchImpl?: FetchLike;
  /** How far back getOrder scans when it has no cached id. */
  lookbackMs?: number;
};

export class ZerocapClient implements ExchangeAdapter {
  readonly name = 'zerocap' as const;
  private readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly nowMs: () => number;
  private readonly known = new Map<string, { id: string; audCents: bigint }>();

  constructor(private readonly opts: ZerocapClientOptions) {
    if (!opts.apiKey || !opts.apiSecret) throw new Error('zerocap: apiKey and apiSecret are required');
    this.baseUrl = (opts.baseUrl ?? ZEROCAP_DEFAULT_BASE_URL).replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 15_000;
    this.nowMs = opts.nowMs ?? Date.now;
  }

  async quote(): Promise<Quote> {
    const parsed = Ticker.safeParse(await this.signed('/markets/fetch_ticker', { symbol: ZEROCAP_SYMBOL }, false));
    const ask = parsed.success ? parsed.data.ask : undefined;
    if (!ask || !isPlainNonNegativeDecimal(ask) || parseDecimal(ask)?.coef === 0n) {
      throw invalidResponse('zerocap', 'ticker has no usable ask price', false);
    }
    return { exchange: 'zerocap', priceAudPerBtc: ask, at: new Date(this.nowMs()) };
  }

  async placeMarketBuy(clientOrderId: string, audCents: bigint): Promise<ExchangeOrder> {
    assertClientOrderId('zerocap', clientOrderId);
    assertPositiveAudCents('zerocap', audCents);
    let json: JsonValue;
    try {
      json = await this.signed(
        '/orders/create_order',
        { symbol: ZEROCAP_SYMBOL, side: 'buy', type: 'market', cost: centsToAud(audCents), client_order_id: clientOrderId },
        true,
      );
    } catch (err) {
      // 409: ZeroCap already holds an order under this client_order_id — that order is the answer.
      if (err instanceof ExchangeError && err.httpStatus === 409) {
        const existing = await this.getOrder(clientOrderId);
        if (existing) return existing;
      }
      throw err;
    }
    const parsed = ZerocapOrder.safeParse(json);
    if (!parsed.success) throw invalidResponse('zerocap', 'create_order response is not an order', true);
    if (parsed.data.clientOrderId != null && parsed.data.clientOrderId !== clientOrderId) {
      throw invalidResponse('zerocap', 'create_order answered with a different clientOrderId', true);
    }
    this.known.set(clientOrderId, { id: parsed.data.id, audCents });
    return mapZerocapOrder(parsed.data, clientOrderId, audCents);
  }

  async placeMarketSell(clientOrderId: string, sats: bigint): Promise<ExchangeOrder> {
    assertClientOrderId('zerocap', clientOrderId);
    assertPositiveSats('zerocap', sats);
    let json: JsonValue;
    try {
      json = await this.signed(
        '/orders/create_order',
        { symbol: ZEROCAP_SYMBOL, side: 'sell', type: 'market', amount: unitsToText(sats, 8), client_order_id: clientOrderId },
        true,
      );
    } catch (err) {
      // As for buys: ZeroCap dedupes by client_order_id, so a 409 means the order exists.
      if (err instanceof ExchangeError && err.httpStatus === 409) {
        const existing = await this.getOrder(clientOrderId);
        if (existing) return existing;
      }
      throw err;
    }
    const parsed = ZerocapOrder.safeParse(json);
    if (!parsed.success) throw invalidResponse('zerocap', 'create_order response is not an order', true);
    if (parsed.data.clientOrderId != null && parsed.data.clientOrderId !== clientOrderId) {
      throw invalidResponse('zerocap', 'create_order answered with a different clientOrderId', true);
    }
    if (parsed.data.side !== 'sell') throw invalidResponse('zerocap', 'create_order answered a sell with a non-sell order', true);
    this.known.set(clientOrderId, { id: parsed.data.id, audCents: 0n });
    return mapZerocapOrder(parsed.data, clientOrderId, null);
  }

  async getOrder(clientOrderId: string): Promise<ExchangeOrder | null> {
    const cached = this.known.get(clientOrderId);
    if (cached) {
      const parsed = ZerocapOrder.safeParse(await this.signed('/orders/fetch_order', { id: cached.id }, false));
      if (!parsed.success) throw invalidResponse('zerocap', 'fetch_order response is not an order', false);
      return mapZerocapOrder(parsed.data, clientOrderId, cached.audCents);
    }
    const since = this.nowMs() - (this.opts.lookbackMs ?? 7 * 24 * 3600_000);
    const listed = z
      .array(z.unknown())
      .safeParse(await this.signed('/orders/fetch_orders', { symbol: ZEROCAP_SYMBOL, since: String(since), limit: '500' }, false));
    if (!listed.success) throw invalidResponse('zerocap', 'fetch_orders response is not a list', false);
    for (const row of listed.data) {
      const o = ZerocapOrder.safeParse(row);
      if (o.success && o.data.clientOrderId === clientOrderId) {
        this.known.set(clientOrderId, { id: o.data.id, audCents: units(o.data.cost, 2, 'half-up', 'cost') });
        return mapZerocapOrder(o.data, clientOrderId, null);
      }
    }
    return null;
  }

  async health(): Promise<HealthStatus> {
    try {
      await this.quote();
      return { ok: true };
    } catch (err) {
      return { ok: false, detail: err instanceof ExchangeError ? err.kind : 'unknown error' };
    }
  }

  private async signed(path: string, body: Record<string, JsonWritable>, mutation: boolean): Promise<JsonValue> {
    const timestamp = String(Math.floor(this.nowMs() / 1000));
    const res = await sendHttp({
      exchange: 'zerocap',
      url: this.baseUrl + path,
      method: 'POST',
      headers: {
        'api-key': this.opts.apiKey,
        timestamp,
        signature: zerocapSignature(timestamp, this.opts.apiSecret),
        'Content-Type': 'application/json',
      },
      body: stringifyJson(body),
      timeoutMs: this.timeoutMs,
      mutation,
      fetchImpl: this.opts.fetchImpl,
    });
    if (res.status < 200 || res.status >= 300) throw this.httpError(res, mutation);
    return parseBody('zerocap', res, mutation);
  }

  private httpError(res: HttpResponse, mutation: boolean): ExchangeError {
    let detail = '';
    try {
      const parsed = ErrorBody.safeParse(JSON.parse(res.text));
      if (parsed.success) detail = [parsed.data.error.code, parsed.data.error.message].filter(Boolean).join(': ');
    } catch {
      // non-JSON error body: status alone says enough
    }
    return errorForStatus('zerocap', res.status, mutation, safeExchangeText(detail, [this.opts.apiKey, this.opts.apiSecret]));
  }
}
