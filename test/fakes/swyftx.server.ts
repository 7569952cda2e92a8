/**
 * A fake Swyftx REST server on 127.0.0.1 for tests. Authenticates like Swyftx: POST /auth/refresh/
 * trades the API key for a JWT it signs itself, and every private call must carry that JWT as a
 * Bearer token whose signature and `exp` check out. Like Swyftx it has no client order id, so it
 * never dedupes: two POSTs are two orders. Money goes out as JSON numbers, as Swyftx sends it.
 * Market buys (quantity in AUD) and market sells (quantity in BTC); on both `amount` is the primary
 * asset (AUD) and `total` the secondary (BTC).
 */
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { ceilFeeCents, centsForSats, floorSats, JsonNumberLiteral, type JsonWritable, parseDecimal, stringifyJson, textToUnits, unitsToText } from '../../lib/money';
import { readBody, sendText, listenLocal } from './http';

export type FakeSwyftxMode =
  | 'normal'
  | 'outage' // HTTP 503 on every endpoint
  | 'rate-limit' // HTTP 429 on every endpoint
  | 'partial-fill' // market orders fill half (status 3, PARTIAL_FILLED)
  | 'malformed' // truncated JSON bodies
  | 'insufficient-funds' // POST /orders/ refused with 400
  | 'drop-after-place'; // POST /orders/ creates the order, then the connection is cut

export type FakeSwyftxOptions = {
  apiKey?: string;
  priceAudPerBtc?: string;
  feeBps?: number;
  tokenTtlSeconds?: number;
};

export type FakeSwyftxOrder = {
  orderUuid: string;
  side: 'buy' | 'sell';
  status: number;
  quantity: string;
  amount: string;
  total: string;
  rate: string;
  feeAmount: string;
  created_time: number;
};

export type FakeSwyftx = {
  url: string;
  apiKey: string;
  close(): Promise<void>;
  orders(): FakeSwyftxOrder[];
  setMode(mode: FakeSwyftxMode): void;
  setPrice(priceAudPerBtc: string): void;
  /** How many access tokens /auth/refresh/ has issued. */
  tokensIssued(): number;
  /** Invalidates every token issued so far (as if Swyftx revoked them). */
  revokeTokens(): void;
  requests(): Array<{ method: string; path: string }>;
};

const AUD_ID = '1';
const BTC_ID = '3';



const sendError = (res: ServerResponse, status: number, error: string, message: string): void =>
  sendText(res, status, JSON.stringify({ error: { error, message } }));

const b64url = (s: string | Buffer): string => Buffer.from(s).toString('base64url');

export async function startFakeSwyftx(opts: FakeSwyftxOptions = {}): Promise<FakeSwyftx> {
  const apiKey = opts.apiKey ?? `fake-swyftx-key-${randomBytes(8).toString('hex')}`;
  const ttl = opts.tokenTtlSeconds ?? 3600;
  const feeBps = opts.feeBps ?? 60;
  let price = opts.priceAudPerBtc ?? '100000.00';
  let mode: FakeSwyftxMode = 'normal';
  let signingKey = randomBytes(32);
  let issued = 0;
  const orders: FakeSwyftxOrder[] = [];
  const log: Array<{ method: string; path: string }> = [];

  const issueToken = (): string => {
    issued += 1;
    const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
    const now = Math.floor(Date.now() / 1000);
    const payload = b64url(JSON.stringify({ sub: 'fake-user', scope: 'app.orders.create app.account.read', iat: now, exp: now + ttl, jti: randomUUID() }));
    const sig = createHmac('sha256', signingKey).update(`${header}.${payload}`).digest('base64url');
    return `${header}.${payload}.${sig}`;
  };

  const bearerOk = (req: IncomingMessage): boolean => {
    const [, header, payload, signature] = /^Bearer ([\w-]+)\.([\w-]+)\.([\w-]+)$/.exec(String(req.headers.authorization ?? '')) ?? [];
    if (header === undefined || payload === undefined || signature === undefined) return false;
    const expected = createHmac('sha256', signingKey).update(`${header}.${payload}`).digest();
    const given = Buffer.from(signature, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return false;
    try {
      const { exp } = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: number };
      return typeof exp === 'number' && exp > Date.now() / 1000;
    } catch {
      return false;
    }
  };

  const orderJson = (o: FakeSwyftxOrder): JsonWritable => ({
    orderUuid: o.orderUuid,
    order_type: new JsonNumberLiteral(o.side === 'buy' ? '1' : '2'),
    primary_asset: new JsonNumberLiteral(AUD_ID),
    secondary_asset: new JsonNumberLiteral(BTC_ID),
    quantity_asset: new JsonNumberLiteral(o.side === 'buy' ? AUD_ID : BTC_ID),
    quantity: new JsonNumberLiteral(o.quantity),
    trigger: null,
    status: new JsonNumberLiteral(String(o.status)),
    created_time: new JsonNumberLiteral(String(o.created_time)),
    updated_time: new JsonNumberLiteral(String(o.created_time)),
    amount: new JsonNumberLiteral(o.amount),
    total: new JsonNumberLiteral(o.total),
    rate: new JsonNumberLiteral(o.rate),
    audValue: new JsonNumberLiteral(o.amount),
    feeAmount: new JsonNumberLiteral(o.feeAmount),
    feeAsset: new JsonNumberLiteral(AUD_ID),
    feeAudValue: new JsonNumberLiteral(o.feeAmount),
  });

  const placeOrder = (res: ServerResponse, body: string): FakeSwyftxOrder | null => {
    let req: { primary?: unknown; secondary?: unknown; quantity?: unknown; assetQuantity?: unknown; orderType?: unknown };
    try {
      req = JSON.parse(body) as typeof req;
    } catch {
      sendError(res, 400, 'BadRequest', 'Body must be JSON');
      return null;
    }
    // Read the quantity's exact digits from the raw body, not from the float JSON.parse made.
    const rawQuantity = /"quantity"\s*:\s*"?(-?\d+(?:\.\d+)?)"?/.exec(body)?.[1];
    const sell = req.orderType === 'MARKET_SELL';
    if (req.primary !== 'AUD' || req.secondary !== 'BTC' || req.assetQuantity !== (sell ? 'BTC' : 'AUD')) {
      sendError(res, 400, 'InvalidAssetError', 'Values for primary, secondary and assetQuantity must be valid asset codes');
      return null;
    }
    if (req.orderType !== 'MARKET_BUY' && req.orderType !== 1 && !sell) {
      sendError(res, 400, 'InvalidOrderType', 'Only MARKET_BUY and MARKET_SELL are supported by this fake');
      return null;
    }
    let quantity: bigint;
    try {
      quantity = textToUnits(rawQuantity ?? '', sell ? 8 : 2, 'exact');
    } catch {
      quantity = 0n;
    }
    if (quantity <= 0n) {
      sendError(res, 400, 'InvalidQuantity', `Quantity must be a positive ${sell ? 'BTC' : 'AUD'} amount`);
      return null;
    }
    if (mode === 'insufficient-funds') {
      sendError(res, 400, 'InsufficientFunds', 'Insufficient balance');
      return null;
    }
    const rate = parseDecimal(price) ?? { coef: 1n, scale: 0 };
    let filledCents: bigint;
    let sats: bigint;
    if (sell) {
      sats = mode === 'partial-fill' ? quantity / 2n : quantity;
      // AUD received for the sats at the rate, down to the cent (the exchange keeps the fraction).
      filledCents = centsForSats(sats, rate, 'floor');
    } else {
      filledCents = mode === 'partial-fill' ? quantity / 2n : quantity;
      sats = floorSats(filledCents, rate);
    }
    const order: FakeSwyftxOrder = {
      orderUuid: `ord_${randomBytes(12).toString('hex')}`,
      side: sell ? 'sell' : 'buy',
      status: mode === 'partial-fill' ? 3 : 4,
      quantity: sell ? unitsToText(quantity, 8) : unitsToText(quantity, 2),
      amount: unitsToText(filledCents, 2),
      total: unitsToText(sats, 8),
      rate: price,
      feeAmount: unitsToText(ceilFeeCents(filledCents, feeBps), 2),
      created_time: Date.now(),
    };
    orders.push(order);
    return order;
  };

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const body = await readBody(req);
      log.push({ method: req.method ?? 'GET', path: url.pathname });
      if (mode === 'outage') return sendError(res, 503, 'ServiceUnavailable', 'Swyftx is temporarily unavailable');
      if (mode === 'rate-limit') return sendError(res, 429, 'RateLimitExceeded', 'Too many requests');
      if (mode === 'malformed') return sendText(res, 200, '{"orderUuid":"ord_');

      if (req.method === 'POST' && url.pathname === '/auth/refresh/') {
        let key: unknown;
        try {
          key = (JSON.parse(body) as { apiKey?: unknown }).apiKey;
        } catch {
          key = undefined;
        }
        if (key !== apiKey) return sendError(res, 401, 'InvalidApiKey', 'Invalid API Key');
        return sendText(res, 200, JSON.stringify({ accessToken: issueToken(), scope: 'app.orders.create app.account.read' }));
      }
      if (req.method === 'GET' && url.pathname === '/markets/assets/') {
        return sendText(res, 200, JSON.stringify([
          { id: 1, name: 'Australian Dollars', code: 'AUD', minimum_order: '0.001', price_scale: 6 },
          { id: 3, name: 'Bitcoin', code: 'BTC', minimum_order: '0.000001', price_scale: 8 },
        ]));
      }
      if (req.method === 'GET' && url.pathname === `/live-rates/${AUD_ID}/`) {
        return sendText(res, 200, JSON.stringify({ [BTC_ID]: { midPrice: price, askPrice: price, bidPrice: price, buyLiquidityFlag: false, sellLiquidityFlag: false } }));
      }

      if (!bearerOk(req)) return sendError(res, 401, 'Unauthorized', 'Invalid or expired access token');

      if (req.method === 'POST' && url.pathname === '/orders/') {
        const order = placeOrder(res, body);
        if (!order) return;
        if (mode === 'drop-after-place') {
          req.socket.destroy();
          return;
        }
        return sendText(res, 200, stringifyJson({ orderUuid: order.orderUuid, order: orderJson(order), processed: true }));
      }
      const byId = /^\/orders\/byId\/([\w-]+)\/?$/.exec(url.pathname);
      if (req.method === 'GET' && byId) {
        const order = orders.find((o) => o.orderUuid === byId[1]);
        if (!order) return sendError(res, 404, 'OrderNotFound', 'Order not found');
        return sendText(res, 200, stringifyJson(orderJson(order)));
      }
      if (req.method === 'GET' && /^\/orders\/BTC\/?$/.test(url.pathname)) {
        const limit = Number(url.searchParams.get('limit') ?? '20');
        const newestFirst = [...orders].reverse().slice(0, limit);
        return sendText(res, 200, stringifyJson(newestFirst.map(orderJson)));
      }
      return sendError(res, 404, 'NotFound', 'No such endpoint');
    })().catch(() => {
      if (!res.headersSent) sendError(res, 500, 'InternalError', 'fake failed');
    });
  });

  const listening = await listenLocal(server);
  return {
    url: listening.url,
    apiKey,
    close: listening.close,
    orders: () => orders.map((o) => ({ ...o })),
    setMode: (m) => {
      mode = m;
    },
    setPrice: (p) => {
      price = p;
    },
    tokensIssued: () => issued,
    revokeTokens: () => {
      signingKey = randomBytes(32);
    },
    requests: () => log.map((r) => ({ ...r })),
  };
}
