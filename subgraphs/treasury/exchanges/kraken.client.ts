/**
 * Kraken spot REST (https://docs.kraken.com/api/docs/rest-api/add-order).
 *
 * Private calls: POST /0/private/<Method>, form-urlencoded body that includes `nonce`, headers
 * API-Key and API-Sign = base64(HMAC-SHA512(base64decode(secret), path + SHA256(nonce + postdata))).
 * Market buys are sized in AUD with oflags=viqc and tagged with our id as `cl_ord_id`.
 * Market sells (type=sell) are sized in BTC (`volume`, 8 decimals) with the same `cl_ord_id`, and
 * oflags=fciq: Kraken's default when selling is the fee in the base currency (BTC), and we want
 * the sats sold exact and the fee in AUD, so proceeds net of fees are `cost - fee`.
 *
 * Idempotency: Kraken only enforces cl_ord_id uniqueness across *open* orders, and a market order
 * closes almost at once, so Kraken alone does not stop a second buy under the same id. getOrder
 * looks the id up (OpenOrders, then ClosedOrders, both filtered by cl_ord_id); placeMarketBuy
 * does that lookup first, and the router does it again across every exchange in the route.
 */
import { createHash, createHmac } from 'node:crypto';
import { z } from 'zod';
import { log } from '../../../lib/logger';
import { centsToAud, compare, unitsToText, isPlainNonNegativeDecimal, type JsonValue, multiply, parseDecimal, parseJsonLossless } from '../../../lib/money';
import { errorForStatus, invalidResponse, orderUnits, SerialQueue, sendHttp, type FetchLike, type HttpResponse } from './exchange-http';
import {
  assertClientOrderId,
  assertPositiveAudCents,
  assertPositiveSats,
  ExchangeError,
  safeExchangeText,
  type ExchangeAdapter,
  type ExchangeErrorKind,
  type ExchangeOrder,
  type HealthStatus,
  type OrderStatus,
  type Quote,
} from './exchange.types';

export const KRAKEN_DEFAULT_BASE_URL = 'https://api.kraken.com';
export const KRAKEN_DEFAULT_PAIR = 'XBTAUD';

/** API-Sign exactly as Kraken documents it. */
export function krakenSignature(path: string, nonce: string, postData: string, secretBase64: string): string {
  const inner = createHash('sha256').update(nonce + postData).digest();
  return createHmac('sha512', Buffer.from(secretBase64, 'base64'))
    .update(Buffer.concat([Buffer.from(path, 'utf8'), inner]))
    .digest('base64');
}

/**
 * Strictly increasing nonces: Date.now()*1000 plus a counter when calls land in the same tick
 * (or the clock steps back). Synchronous, so concurrent callers in one process never collide.
 */
export function createNonceGenerator(now: () => number = Date.now): () => string {
  let last = 0n;
  return () => {
    const candidate = BigInt(Math.floor(now())) * 1000n;
    last = candidate > last ? candidate : last + 1n;
    return last.toString();
  };
}

/** Kraken accepts a long UUID, a short (32 hex) UUID, or up to 18 chars of free text. */
export function isKrakenClOrdId(id: string): boolean {
  return /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32}|[\w.:-]{1,18})$/i.test(id);
}

// Kraken checks nonces per API key, so every client for one key in this process shares one nonce
// sequence and one queue: two instances must not interleave requests out of nonce order.
const perKey = new Map<string, { nonce: () => string; queue: SerialQueue }>();
function sharedForKey(apiKey: string): { nonce: () => string; queue: SerialQueue } {
  let entry = perKey.get(apiKey);
  if (!entry) {
    entry = { nonce: createNonceGenerator(), queue: new SerialQueue() };
    perKey.set(apiKey, entry);
  }
  return entry;
}

const RATE_LIMIT_CODES = new Set(['EAPI:Rate limit exceeded', 'EOrder:Rate limit exceeded']);
const AUTH_CODES = new Set(['EAPI:Invalid key', 'EAPI:Invalid signature', 'EAPI:Invalid nonce', 'EGeneral:Permission denied']);

/** Kraken error code → our kind. Unknown codes do not fail over: REJECTED keeps money put. */
export function classifyKrakenError(code: string): ExchangeErrorKind {
  if (RATE_LIMIT_CODES.has(code) || code.startsWith('EGeneral:Temporary lockout')) return 'RATE_LIMITED';
  if (AUTH_CODES.has(code)) return 'AUTH';
  if (code.startsWith('EService:') || code === 'EGeneral:Internal error') return 'UNAVAILABLE';
  return 'REJECTED';
}

// Codes where Kraken may have accepted the order before failing to answer.
const AMBIGUOUS_CODES = new Set(['EGeneral:Internal error', 'EService:Timeout', 'EService:Deadline elapsed']);

const Envelope = z.object({ error: z.array(z.string()), result: z.unknown().optional() });

const OrderInfo = z.object({
  status: z.enum(['pending', 'open', 'closed', 'canceled', 'expired']),
  cl_ord_id: z.string().nullish(),
  opentm: z.string().optional(),
  vol: z.string(),
  vol_exec: z.string(),
  cost: z.string(),
  fee: z.string(),
  price: z.string(),
  oflags: z.string().optional(),
  reason: z.string().nullish(),
  descr: z.object({ type: z.string().optional() }).optional(),
});
export type KrakenOrderInfo = z.infer<typeof OrderInfo>;

// Non-empty lists as tuples with a rest element, so the first entry is typed as present.
const AddOrderResult = z.object({ txid: z.tuple([z.string()], z.string()) });
const OrderMap = z.record(z.string(), OrderInfo);
const OpenOrdersResult = z.object({ open: OrderMap });
const ClosedOrdersResult = z.object({ closed: OrderMap });
const TickerResult = z.record(z.string(), z.object({ a: z.tuple([z.string()], z.string()) }));
const SystemStatusResult = z.object({ status: z.string() });

const units = (text: string | null | undefined, decimals: number, rounding: 'floor' | 'half-up', field: string): bigint =>
  orderUnits('kraken', text, decimals, rounding, field);

/**
 * Kraken order info → ExchangeOrder. vol_exec is BTC, cost and fee are AUD (fee-in-quote is the
 * default when buying), price is the average fill price. With viqc, `vol` is the AUD requested.
 */
export function mapKrakenOrder(
  txid: string,
  info: KrakenOrderInfo,
  clientOrderId: string,
  requestedAudCents?: bigint,
): ExchangeOrder {
  const filledSats = units(info.vol_exec, 8, 'floor', 'vol_exec');
  const spentAudCents = units(info.cost, 2, 'half-up', 'cost');
  const feeAudCents = units(info.fee, 2, 'half-up', 'fee');
  const viqc = (info.oflags ?? '').split(',').includes('viqc');
  const sell = info.descr?.type === 'sell';
  const requested = sell ? 0n : (requestedAudCents ?? (viqc ? units(info.vol, 2, 'half-up', 'vol') : spentAudCents));

  const price = parseDecimal(info.price);
  const volExec = parseDecimal(info.vol_exec);
  const cost = parseDecimal(info.cost);
  let averagePrice: string | null = null;
  if (filledSats > 0n) {
    if (!price || !volExec || !cost || price.coef <= 0n || !isPlainNonNegativeDecimal(info.price)) {
      throw invalidResponse('kraken', 'filled order has no usable average price', false);
    }
    // Guard against unit confusion (e.g. vol_exec reported in AUD): vol_exec*price must be within 1% of cost.
    const notional = multiply(volExec, price);
    const hundred = { coef: 100n, scale: 0 };
    const lo = multiply(cost, { coef: 99n, scale: 0 });
    const hi = multiply(cost, { coef: 101n, scale: 0 });
    const scaled = multiply(notional, hundred);
    if (compare(scaled, lo) < 0 || compare(scaled, hi) > 0) {
      throw invalidResponse('kraken', 'vol_exec, price and cost are inconsistent', false);
    }
    averagePrice = info.price;
  }

  let status: OrderStatus;
  switch (info.status) {
    case 'pending':
    case 'open':
      status = filledSats > 0n ? 'PARTIALLY_FILLED' : 'OPEN';
      break;
    case 'closed':
      status = filledSats > 0n ? 'FILLED' : 'CANCELLED';
      break;
    case 'canceled':
    case 'expired':
      // Terminal, but whatever did fill is real BTC we own.
      status = filledSats > 0n ? 'PARTIALLY_FILLED' : 'CANCELLED';
      break;
  }

  const open = info.status === 'pending' || info.status === 'open';
  return {
    open,
    exchange: 'kraken',
    ...(sell ? { side: 'sell' as const, requestedSats: units(info.vol, 8, 'floor', 'vol') } : {}),
    clientOrderId,
    exchangeOrderId: txid,
    status,
    requestedAudCents: requested,
    filledSats,
    spentAudCents,
    feeAudCents,
    averagePrice,
    raw: { txid, ...info },
  };
}

export type KrakenClientOptions = {
  apiKey: string;
  /** Base64 private key exactly as Kraken issues it. */
  apiSecret: string;
  baseUrl?: string;
  pair?: string;
  timeoutMs?: number;
  /** Injected for tests; defaults to one generator shared by all clients of this API key. */
  nonce?: () => string;
  fetchImpl?: FetchLike;
  now?: () => Date;
};

export class KrakenClient implements ExchangeAdapter {
  readonly name = 'kraken' as const;
  private readonly baseUrl: string;
  private readonly pair: string;
  private readonly timeoutMs: number;
  private readonly nextNonce: () => string;
  private readonly now: () => Date;
  // One private call in flight per API key, so nonces reach Kraken in the order they were issued.
  private readonly privateQueue: SerialQueue;

  constructor(private readonly opts: KrakenClientOptions) {
    if (!opts.apiKey) throw new Error('kraken: apiKey is required');
    if (!opts.apiSecret || Buffer.from(opts.apiSecret, 'base64').length === 0) throw new Error('kraken: apiSecret must be base64');
    this.baseUrl = (opts.baseUrl ?? KRAKEN_DEFAULT_BASE_URL).replace(/\/+$/, '');
    this.pair = opts.pair ?? KRAKEN_DEFAULT_PAIR;
    this.timeoutMs = opts.timeoutMs ?? 15_000;
    const shared = sharedForKey(opts.apiKey);
    this.nextNonce = opts.nonce ?? shared.nonce;
    this.privateQueue = shared.queue;
    this.now = opts.now ?? (() => new Date());
  }

  async quote(): Promise<Quote> {
    const result = await this.publicRequest('Ticker', { pair: this.pair });
    const parsed = TickerResult.safeParse(result);
    const entries = parsed.success ? Object.values(parsed.data) : [];
    const [only] = entries;
    const ask = entries.length === 1 ? only?.a[0] : undefined;
    if (ask === undefined || !isPlainNonNegativeDecimal(ask) || parseDecimal(ask)?.coef === 0n) {
      throw invalidResponse('kraken', 'ticker response has no usable ask price', false);
    }
    return { exchange: 'kraken', priceAudPerBtc: ask, at: this.now() };
  }

  async placeMarketBuy(clientOrderId: string, audCents: bigint): Promise<ExchangeOrder> {
    assertClientOrderId('kraken', clientOrderId);
    assertPositiveAudCents('kraken', audCents);
    if (!isKrakenClOrdId(clientOrderId)) {
      throw new ExchangeError({ exchange: 'kraken', kind: 'REJECTED', message: 'clientOrderId must be a UUID or at most 18 characters for Kraken' });
    }
    // Kraken forgets cl_ord_id once an order closes, so check before buying again.
    const already = await this.getOrder(clientOrderId);
    if (already) return already;
    let result: JsonValue;
    try {
      result = await this.privateRequest(
        'AddOrder',
        { ordertype: 'market', type: 'buy', pair: this.pair, volume: centsToAud(audCents), oflags: 'viqc', cl_ord_id: clientOrderId },
        true,
      );
    } catch (err) {
      // A refusal may be Kraken's duplicate-cl_ord_id check: if the order exists, that is our answer.
      if (err instanceof ExchangeError && err.kind === 'REJECTED') {
        const existing = await this.getOrder(clientOrderId).catch(() => null);
        if (existing) return existing;
      }
      throw err;
    }
    const added = AddOrderResult.safeParse(result);
    if (!added.success) throw invalidResponse('kraken', 'AddOrder result has no txid', true);
    const txid = added.data.txid[0];
    try {
      const info = await this.queryOrder(txid);
      if (info) return mapKrakenOrder(txid, info, clientOrderId, audCents);
    } catch (err) {
      // The order is placed; a failed status read must not look like a failed placement.
      log().warn({ exchange: 'kraken', txid, kind: err instanceof ExchangeError ? err.kind : 'unknown' }, 'order placed but status read failed');
    }
    return {
      exchange: 'kraken',
      clientOrderId,
      exchangeOrderId: txid,
      status: 'OPEN',
      requestedAudCents: audCents,
      filledSats: 0n,
      spentAudCents: 0n,
      feeAudCents: 0n,
      averagePrice: null,
      raw: result,
    };
  }

  async placeMarketSell(clientOrderId: string, sats: bigint): Promise<ExchangeOrder> {
    assertClientOrderId('kraken', clientOrderId);
    assertPositiveSats('kraken', sats);
    if (!isKrakenClOrdId(clientOrderId)) {
      throw new ExchangeError({ exchange: 'kraken', kind: 'REJECTED', message: 'clientOrderId must be a UUID or at most 18 characters for Kraken' });
    }
    // As for buys: Kraken forgets cl_ord_id once an order closes, so look before selling.
    const already = await this.getOrder(clientOrderId);
    if (already) return already;
    let result: JsonValue;
    try {
      result = await this.privateRequest(
        'AddOrder',
        { ordertype: 'market', type: 'sell', pair: this.pair, volume: unitsToText(sats, 8), oflags: 'fciq', cl_ord_id: clientOrderId },
        true,
      );
    } catch (err) {
      if (err instanceof ExchangeError && err.kind === 'REJECTED') {
        const existing = await this.getOrder(clientOrderId).catch(() => null);
        if (existing) return existing;
      }
      throw err;
    }
    const added = AddOrderResult.safeParse(result);
    if (!added.success) throw invalidResponse('kraken', 'AddOrder result has no txid', true);
    const txid = added.data.txid[0];
    try {
      const info = await this.queryOrder(txid);
      if (info) return mapKrakenOrder(txid, info, clientOrderId);
    } catch (err) {
      log().warn({ exchange: 'kraken', txid, kind: err instanceof ExchangeError ? err.kind : 'unknown' }, 'order placed but status read failed');
    }
    return {
      exchange: 'kraken',
      side: 'sell',
      clientOrderId,
      exchangeOrderId: txid,
      status: 'OPEN',
      requestedAudCents: 0n,
      requestedSats: sats,
      filledSats: 0n,
      spentAudCents: 0n,
      feeAudCents: 0n,
      averagePrice: null,
      open: true,
      raw: result,
    };
  }

  async getOrder(clientOrderId: string): Promise<ExchangeOrder | null> {
    if (!isKrakenClOrdId(clientOrderId)) return null;
    const open = OpenOrdersResult.safeParse(await this.privateRequest('OpenOrders', { cl_ord_id: clientOrderId }, false));
    if (!open.success) throw invalidResponse('kraken', 'OpenOrders result is malformed', false);
    const found = this.pick(open.data.open, clientOrderId);
    if (found) return mapKrakenOrder(found[0], found[1], clientOrderId);
    const closed = ClosedOrdersResult.safeParse(await this.privateRequest('ClosedOrders', { cl_ord_id: clientOrderId }, false));
    if (!closed.success) throw invalidResponse('kraken', 'ClosedOrders result is malformed', false);
    const done = this.pick(closed.data.closed, clientOrderId);
    return done ? mapKrakenOrder(done[0], done[1], clientOrderId) : null;
  }

  async health(): Promise<HealthStatus> {
    try {
      const parsed = SystemStatusResult.safeParse(await this.publicRequest('SystemStatus', {}));
      if (!parsed.success) return { ok: false, detail: 'INVALID_RESPONSE' };
      return parsed.data.status === 'online' ? { ok: true } : { ok: false, detail: `status ${parsed.data.status}` };
    } catch (err) {
      return { ok: false, detail: err instanceof ExchangeError ? err.kind : 'unknown error' };
    }
  }

  /** Signed POST to /0/private/<method>; returns Kraken's `result`. */
  async privateRequest(method: string, params: Record<string, string>, mutation: boolean): Promise<JsonValue> {
    return this.privateQueue.run(async () => {
      const nonce = this.nextNonce();
      const body = new URLSearchParams({ nonce, ...params }).toString();
      const path = `/0/private/${method}`;
      const res = await sendHttp({
        exchange: 'kraken',
        url: this.baseUrl + path,
        method: 'POST',
        headers: {
          'API-Key': this.opts.apiKey,
          'API-Sign': krakenSignature(path, nonce, body, this.opts.apiSecret),
          'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8',
        },
        body,
        timeoutMs: this.timeoutMs,
        mutation,
        fetchImpl: this.opts.fetchImpl,
      });
      return this.unwrap(res, mutation);
    });
  }

  async publicRequest(method: string, query: Record<string, string>): Promise<JsonValue> {
    const qs = new URLSearchParams(query).toString();
    const res = await sendHttp({
      exchange: 'kraken',
      url: `${this.baseUrl}/0/public/${method}${qs ? `?${qs}` : ''}`,
      method: 'GET',
      timeoutMs: this.timeoutMs,
      mutation: false,
      fetchImpl: this.opts.fetchImpl,
    });
    return this.unwrap(res, false);
  }

  private async queryOrder(txid: string): Promise<KrakenOrderInfo | null> {
    const parsed = OrderMap.safeParse(await this.privateRequest('QueryOrders', { txid }, false));
    if (!parsed.success) throw invalidResponse('kraken', 'QueryOrders result is malformed', false);
    return parsed.data[txid] ?? null;
  }

  /** The order carrying our cl_ord_id; earliest first if Kraken somehow holds several. */
  private pick(orders: Record<string, KrakenOrderInfo>, clientOrderId: string): [string, KrakenOrderInfo] | null {
    const matches = Object.entries(orders).filter(([, o]) => o.cl_ord_id === clientOrderId);
    if (matches.length > 1) {
      log().error({ exchange: 'kraken', clientOrderId, txids: matches.map(([t]) => t) }, 'several Kraken orders share one cl_ord_id');
      matches.sort(([, a], [, b]) => compare(parseDecimal(a.opentm ?? '0') ?? { coef: 0n, scale: 0 }, parseDecimal(b.opentm ?? '0') ?? { coef: 0n, scale: 0 }));
    }
    return matches[0] ?? null;
  }

  /** Kraken's {error, result} envelope → result, or a typed error. */
  private unwrap(res: HttpResponse, mutation: boolean): JsonValue {
    let json: JsonValue;
    try {
      json = parseJsonLossless(res.text);
    } catch (err) {
      if (res.status >= 400) throw errorForStatus('kraken', res.status, mutation, '');
      throw invalidResponse('kraken', `response was not valid JSON (HTTP ${res.status})`, mutation, err);
    }
    const env = Envelope.safeParse(json);
    if (!env.success) {
      if (res.status >= 400) throw errorForStatus('kraken', res.status, mutation, '');
      throw invalidResponse('kraken', 'response is not a Kraken {error, result} envelope', mutation);
    }
    // Entries starting with "W" are warnings; only "E" entries are errors.
    const errors = env.data.error.filter((e) => e.startsWith('E'));
    const [code] = errors;
    if (code !== undefined) {
      const kind = classifyKrakenError(code);
      throw new ExchangeError({
        exchange: 'kraken',
        kind,
        message: safeExchangeText(errors.join(', '), [this.opts.apiKey, this.opts.apiSecret]),
        exchangeCode: code,
        httpStatus: res.status,
        outcomeUnknown: mutation && kind === 'UNAVAILABLE' && (AMBIGUOUS_CODES.has(code) || (res.status >= 500 && res.status !== 503)),
      });
    }
    if (res.status >= 400) throw errorForStatus('kraken', res.status, mutation, '');
    if (env.data.result === undefined) throw invalidResponse('kraken', 'response has no result', mutation);
    return env.data.result as JsonValue;
  }
}
