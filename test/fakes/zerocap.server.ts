/**
 * A fake ZeroCap DMA server on 127.0.0.1 for tests, implementing the shape documented at the top
 * of subgraphs/treasury/exchanges/zerocap.client.ts. Authenticates like that shape says: headers
 * api-key, timestamp (Unix seconds, within 30 s of now) and signature = hex HMAC-SHA256(secret,
 * timestamp). Dedupes by client_order_id: a reused id is refused with 409.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { ceilFeeCents, floorSats, JsonNumberLiteral, type JsonWritable, parseDecimal, stringifyJson, textToUnits, unitsToText } from '../../lib/money';
import { readBody, sendText, listenLocal } from './http';

export type FakeZerocapMode =
  | 'normal'
  | 'outage' // HTTP 503 on every endpoint
  | 'rate-limit' // HTTP 429 on every endpoint
  | 'partial-fill' // market buys fill half, remainder cancelled
  | 'malformed' // truncated JSON bodies
  | 'insufficient-funds' // create_order refused with 400
  | 'drop-after-place'; // create_order creates the order, then the connection is cut

export type FakeZerocapOptions = {
  apiKey?: string;
  apiSecret?: string;
  priceAudPerBtc?: string;
  feeBps?: number;
  /** Server clock in ms, so tests can skew it against the client's. */
  nowMs?: () => number;
  maxSkewSeconds?: number;
};

export type FakeZerocapOrder = {
  id: string;
  clientOrderId: string;
  status: 'closed' | 'canceled';
  side: 'buy' | 'sell';
  /** BTC asked for (the sell's `amount`; a buy's fill). */
  amount: string;
  cost: string;
  filled: string;
  average: string;
  fee: string;
  timestamp: number;
  requestedCost: string;
};

export type FakeZerocap = {
  url: string;
  apiKey: string;
  apiSecret: string;
  close(): Promise<void>;
  orders(): FakeZerocapOrder[];
  setMode(mode: FakeZerocapMode): void;
  setPrice(priceAudPerBtc: string): void;
  requests(): Array<{ path: string; body: string }>;
};



const sendError = (res: ServerResponse, status: number, code: string, message: string): void =>
  sendText(res, status, JSON.stringify({ error: { code, message } }));

export async function startFakeZerocap(opts: FakeZerocapOptions = {}): Promise<FakeZerocap> {
  const apiKey = opts.apiKey ?? `fake-zerocap-key-${randomBytes(8).toString('hex')}`;
  const apiSecret = opts.apiSecret ?? randomBytes(32).toString('hex');
  const nowMs = opts.nowMs ?? Date.now;
  const maxSkew = opts.maxSkewSeconds ?? 30;
  const feeBps = opts.feeBps ?? 20;
  let price = opts.priceAudPerBtc ?? '100000.00';
  let mode: FakeZerocapMode = 'normal';
  let nextId = 880_000_000_001n;
  const orders: FakeZerocapOrder[] = [];
  const log: Array<{ path: string; body: string }> = [];

  const authError = (req: IncomingMessage): string | null => {
    if (req.headers['api-key'] !== apiKey) return 'INVALID_API_KEY';
    const ts = String(req.headers.timestamp ?? '');
    if (!/^\d{1,12}$/.test(ts) || Math.abs(nowMs() / 1000 - Number(ts)) > maxSkew) return 'TIMESTAMP_OUT_OF_WINDOW';
    const expected = createHmac('sha256', apiSecret).update(ts).digest();
    const sig = String(req.headers.signature ?? '');
    const given = /^[0-9a-f]{64}$/.test(sig) ? Buffer.from(sig, 'hex') : Buffer.alloc(0);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'INVALID_SIGNATURE';
    return null;
  };

  const orderJson = (o: FakeZerocapOrder): JsonWritable => ({
    id: new JsonNumberLiteral(o.id),
    clientOrderId: o.clientOrderId,
    datetime: new Date(o.timestamp).toISOString(),
    timestamp: new JsonNumberLiteral(String(o.timestamp)),
    lastTradeTimestamp: new JsonNumberLiteral(String(o.timestamp)),
    status: o.status,
    symbol: 'BTC/AUD',
    type: 'market',
    timeInForce: 'IOC',
    side: o.side,
    price: null,
    average: o.average,
    amount: o.amount,
    filled: o.filled,
    remaining: '0',
    cost: o.cost,
    fee: { cost: o.fee, currency: 'AUD' },
    trades: [],
  });

  const createOrder = (res: ServerResponse, body: Record<string, unknown>): FakeZerocapOrder | null => {
    const clientOrderId = body.client_order_id;
    if (typeof clientOrderId !== 'string' || clientOrderId.length === 0) {
      sendError(res, 400, 'INVALID_PARAMETER', 'client_order_id is required');
      return null;
    }
    if (body.symbol !== 'BTC/AUD' || body.type !== 'market') {
      sendError(res, 400, 'INVALID_PARAMETER', 'only BTC/AUD market orders are supported');
      return null;
    }
    // Buys are sized by AUD `cost`, sells by BTC `amount`.
    const sell = body.side === 'sell';
    if (sell ? typeof body.amount !== 'string' || body.cost !== undefined : body.side !== 'buy' || typeof body.cost !== 'string') {
      sendError(res, 400, 'INVALID_PARAMETER', 'a market buy is sized by cost, a market sell by amount');
      return null;
    }
    if (orders.some((o) => o.clientOrderId === clientOrderId)) {
      sendError(res, 409, 'DUPLICATE_CLIENT_ORDER_ID', 'client_order_id already used');
      return null;
    }
    let requested: bigint;
    try {
      requested = textToUnits(String(sell ? body.amount : body.cost), sell ? 8 : 2, 'exact');
    } catch {
      sendError(res, 400, 'INVALID_PARAMETER', sell ? 'amount must be a BTC amount' : 'cost must be an AUD amount');
      return null;
    }
    if (requested <= 0n) {
      sendError(res, 400, 'INVALID_PARAMETER', sell ? 'amount must be positive' : 'cost must be positive');
      return null;
    }
    if (mode === 'insufficient-funds') {
      sendError(res, 400, 'INSUFFICIENT_FUNDS', sell ? 'insufficient BTC balance' : 'insufficient AUD balance');
      return null;
    }
    const priceDec = parseDecimal(price) ?? { coef: 1n, scale: 0 };
    let filledCents: bigint;
    let sats: bigint;
    if (sell) {
      sats = mode === 'partial-fill' ? requested / 2n : requested;
      filledCents = (sats * priceDec.coef * 100n) / (100_000_000n * 10n ** BigInt(priceDec.scale));
    } else {
      filledCents = mode === 'partial-fill' ? requested / 2n : requested;
      sats = floorSats(filledCents, priceDec);
    }
    const order: FakeZerocapOrder = {
      id: String(nextId++),
      clientOrderId,
      status: mode === 'partial-fill' ? 'canceled' : 'closed',
      side: sell ? 'sell' : 'buy',
      amount: sell ? unitsToText(requested, 8) : unitsToText(sats, 8),
      cost: unitsToText(filledCents, 2),
      filled: unitsToText(sats, 8),
      average: price,
      fee: unitsToText(ceilFeeCents(filledCents, feeBps), 2),
      timestamp: nowMs(),
      requestedCost: sell ? '0' : String(body.cost),
    };
    orders.push(order);
    return order;
  };

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const raw = await readBody(req);
      log.push({ path: url.pathname, body: raw });
      if (mode === 'outage') return sendError(res, 503, 'SERVICE_UNAVAILABLE', 'service temporarily unavailable');
      if (mode === 'rate-limit') return sendError(res, 429, 'RATE_LIMITED', 'too many requests');
      if (mode === 'malformed') return sendText(res, 200, '{"id":88000,"status":');
      if (req.method !== 'POST') return sendError(res, 405, 'METHOD_NOT_ALLOWED', 'use POST');

      const auth = authError(req);
      if (auth) return sendError(res, 401, auth, 'authentication failed');
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(raw || '{}') as Record<string, unknown>;
      } catch {
        return sendError(res, 400, 'INVALID_JSON', 'body must be JSON');
      }

      switch (url.pathname) {
        case '/markets/fetch_ticker':
          if (body.symbol !== 'BTC/AUD') return sendError(res, 400, 'INVALID_SYMBOL', 'unknown symbol');
          return sendText(res, 200, JSON.stringify({ symbol: 'BTC/AUD', bid: price, ask: price, last: price, timestamp: nowMs() }));
        case '/orders/create_order': {
          const order = createOrder(res, body);
          if (!order) return;
          if (mode === 'drop-after-place') {
            req.socket.destroy();
            return;
          }
          return sendText(res, 200, stringifyJson(orderJson(order)));
        }
        case '/orders/fetch_order': {
          const order = orders.find((o) => o.id === String(body.id));
          if (!order) return sendError(res, 404, 'ORDER_NOT_FOUND', 'order not found');
          return sendText(res, 200, stringifyJson(orderJson(order)));
        }
        case '/orders/fetch_orders': {
          const since = Number(body.since ?? 0);
          const limit = Number(body.limit ?? 100);
          return sendText(res, 200, stringifyJson(orders.filter((o) => o.timestamp >= since).slice(-limit).map(orderJson)));
        }
        default:
          return sendError(res, 404, 'NOT_FOUND', 'no such endpoint');
      }
    })().catch(() => {
      if (!res.headersSent) sendError(res, 500, 'INTERNAL', 'fake failed');
    });
  });

  const listening = await listenLocal(server);
  return {
    url: listening.url,
    apiKey,
    apiSecret,
    close: listening.close,
    orders: () => orders.map((o) => ({ ...o })),
    setMode: (m) => {
      mode = m;
    },
    setPrice: (p) => {
      price = p;
    },
    requests: () => log.map((r) => ({ ...r })),
  };
}
