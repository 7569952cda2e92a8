/**
 * A fake Kraken spot REST server on 127.0.0.1 for tests. It authenticates like Kraken: it
 * recomputes API-Sign from the shared secret (base64(HMAC-SHA512(secret, path + SHA256(nonce +
 * postdata)))), refuses unknown keys, bad signatures and non-increasing nonces, and answers in
 * Kraken's {error, result} envelope. Orders are market buys on one pair sized in AUD (viqc), or
 * market sells sized in BTC.
 * Like Kraken, cl_ord_id is unique only among OPEN orders (the duplicate error text is a guess).
 * `setFaults` injects faults at random into a share of requests (for crash-injection runs).
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import { ceilBps, parseDecimal, floorSats, textToUnits, unitsToText } from '../../lib/money';
import { readBody, sendJson, sendText, listenLocal } from './http';

export type FakeKrakenMode =
  | 'normal'
  | 'outage' // HTTP 503 + EService:Unavailable on every endpoint
  | 'busy' // HTTP 200 + EService:Busy on private endpoints
  | 'rate-limit' // EAPI:Rate limit exceeded on private endpoints
  | 'partial-fill' // market buys fill half and stay open
  | 'malformed' // truncated JSON bodies
  | 'insufficient-funds'; // AddOrder refused with EOrder:Insufficient funds

/** Faults injected at random by `setFaults`, each as a real Kraken (or its CDN) shows it. */
export type FakeKrakenFault =
  | 'outage' // HTTP 503 + EService:Unavailable
  | 'busy' // HTTP 200 + EService:Busy (private endpoints; nothing executed)
  | 'rate-limit' // EAPI:Rate limit exceeded (private endpoints; nothing executed)
  | 'malformed' // a truncated JSON body (nothing executed)
  | 'bad-gateway-after-create' // AddOrder executes, then the answer is an HTML 502 (other endpoints: 502, nothing executed)
  | 'slow'; // the request executes and its answer comes `slowMs` later

export const FAKE_KRAKEN_FAULTS: readonly FakeKrakenFault[] = ['outage', 'busy', 'rate-limit', 'malformed', 'bad-gateway-after-create', 'slow'];

export type FakeKrakenFaultPlan = {
  /** Share of requests that get a fault, in [0, 1]. */
  probability: number;
  /** Which faults, chosen uniformly. */
  faults: readonly FakeKrakenFault[];
  /** Delay of a `slow` answer. */
  slowMs?: number;
  /** Only requests to these paths (e.g. `/0/private/AddOrder`); default every path. */
  paths?: readonly string[];
  rng?: () => number;
};

export type FakeKrakenOptions = {
  apiKey?: string;
  /** Base64 secret, as Kraken issues it. */
  apiSecret?: string;
  priceAudPerBtc?: string;
  feeBps?: number;
  pair?: string;
  /** The key Kraken uses for the pair in ticker results. */
  pairKey?: string;
};

export type FakeKrakenOrderInfo = {
  refid: null;
  userref: number;
  cl_ord_id: string | null;
  status: 'pending' | 'open' | 'closed' | 'canceled' | 'expired';
  opentm: number;
  closetm: number;
  starttm: number;
  expiretm: number;
  descr: { pair: string; type: string; ordertype: string; price: string; price2: string; leverage: string; order: string; close: string };
  vol: string;
  vol_exec: string;
  cost: string;
  fee: string;
  price: string;
  stopprice: string;
  limitprice: string;
  misc: string;
  oflags: string;
};

export type FakeKrakenOrder = { txid: string; info: FakeKrakenOrderInfo };
export type FakeKrakenRequest = { method: string; path: string; params: Record<string, string> };

export type FakeKraken = {
  url: string;
  apiKey: string;
  apiSecret: string;
  close(): Promise<void>;
  orders(): FakeKrakenOrder[];
  setMode(mode: FakeKrakenMode): void;
  setPrice(priceAudPerBtc: string): void;
  /** Every request that reached the server, in arrival order. */
  requests(): FakeKrakenRequest[];
  /**
   * While on, AddOrder executes the order but never answers: the caller sees the order accepted
   * at Kraken with no response (a crash or a network cut between acceptance and our record).
   */
  swallowAddOrderResponses(on: boolean): void;
  /** Sets an order's state directly (e.g. to simulate Kraken closing a partial fill). */
  updateOrder(txid: string, patch: Partial<FakeKrakenOrderInfo>): void;
  /** Random faults on a share of requests (null: none). */
  setFaults(plan: FakeKrakenFaultPlan | null): void;
  /** How many of each fault were injected so far. */
  faultCounts(): Record<FakeKrakenFault, number>;
  /** Calls `listener` as each order is executed, before its answer is sent; returns an unsubscribe. */
  onOrderCreated(listener: (order: FakeKrakenOrder) => void): () => void;
};

/** One answer: a status and body, or nothing at all (the caller waits until it gives up). */
type Reply = { status: number; text: string } | null;
const json = (status: number, body: unknown): Reply => ({ status, text: JSON.stringify(body) });



const txidChars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
function newTxid(): string {
  const part = (n: number): string => Array.from(randomBytes(n), (b) => txidChars[b % 32]).join('');
  return `O${part(5)}-${part(5)}-${part(6)}`;
}

export async function startFakeKraken(opts: FakeKrakenOptions = {}): Promise<FakeKraken> {
  const apiKey = opts.apiKey ?? `fake-kraken-key-${randomBytes(8).toString('hex')}`;
  const apiSecret = opts.apiSecret ?? randomBytes(64).toString('base64');
  const pair = opts.pair ?? 'XBTAUD';
  const pairKey = opts.pairKey ?? 'XXBTZAUD';
  const feeBps = opts.feeBps ?? 26;
  let price = opts.priceAudPerBtc ?? '100000.0';
  let mode: FakeKrakenMode = 'normal';
  let swallow = false;
  let faults: FakeKrakenFaultPlan | null = null;
  const createdListeners = new Set<(order: FakeKrakenOrder) => void>();
  const injected = Object.fromEntries(FAKE_KRAKEN_FAULTS.map((f) => [f, 0])) as Record<FakeKrakenFault, number>;
  let lastNonce = 0n;
  const orders = new Map<string, FakeKrakenOrderInfo>();
  const log: FakeKrakenRequest[] = [];

  const ok = (result: unknown): Reply => json(200, { error: [], result });
  const fail = (...error: string[]): Reply => json(200, { error });

  const authenticate = (req: IncomingMessage, path: string, body: string, params: URLSearchParams): string | null => {
    if (req.headers['api-key'] !== apiKey) return 'EAPI:Invalid key';
    const nonce = params.get('nonce') ?? '';
    const inner = createHash('sha256').update(nonce + body).digest();
    const expected = createHmac('sha512', Buffer.from(apiSecret, 'base64'))
      .update(Buffer.concat([Buffer.from(path), inner]))
      .digest();
    const given = Buffer.from(String(req.headers['api-sign'] ?? ''), 'base64');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'EAPI:Invalid signature';
    if (!/^\d{1,30}$/.test(nonce) || BigInt(nonce) <= lastNonce) return 'EAPI:Invalid nonce';
    lastNonce = BigInt(nonce);
    return null;
  };

  const addOrder = (p: URLSearchParams): Reply => {
    const flags = (p.get('oflags') ?? '').split(',');
    const volume = p.get('volume') ?? '';
    const type = p.get('type');
    if (p.get('pair') !== pair) return fail('EQuery:Unknown asset pair');
    if (p.get('ordertype') !== 'market') return fail('EGeneral:Invalid arguments');
    // Buys are sized in AUD (viqc); sells in BTC (no viqc), fee in quote (fciq) as the client asks.
    if (type === 'buy' ? !flags.includes('viqc') : type !== 'sell' || flags.includes('viqc')) return fail('EGeneral:Invalid arguments');
    const sell = type === 'sell';
    let requested: bigint;
    try {
      requested = textToUnits(volume, sell ? 8 : 2, 'exact');
    } catch {
      return fail('EGeneral:Invalid arguments:volume');
    }
    if (requested <= 0n) return fail('EGeneral:Invalid arguments:volume');
    const clOrdId = p.get('cl_ord_id');
    if (clOrdId && [...orders.values()].some((o) => o.cl_ord_id === clOrdId && (o.status === 'open' || o.status === 'pending'))) {
      return fail('EOrder:Duplicate cl_ord_id');
    }
    if (mode === 'insufficient-funds') return fail('EOrder:Insufficient funds');
    const priceDec = parseDecimal(price);
    if (!priceDec) return fail('EGeneral:Internal error');
    let sats: bigint;
    let cost5: bigint;
    if (sell) {
      sats = mode === 'partial-fill' ? requested / 2n : requested;
      // AUD received, to Kraken's 5 decimals (rounded down).
      cost5 = (sats * priceDec.coef * 100_000n) / (100_000_000n * 10n ** BigInt(priceDec.scale));
    } else {
      const filledCents = mode === 'partial-fill' ? requested / 2n : requested;
      sats = floorSats(filledCents, priceDec);
      // Kraken reports AUD cost and fee to 5 decimals.
      cost5 = filledCents * 1000n;
    }
    const fee5 = ceilBps(cost5, feeBps);
    const txid = newTxid();
    const nowSec = Date.now() / 1000;
    const side = sell ? 'sell' : 'buy';
    orders.set(txid, {
      refid: null,
      userref: 0,
      cl_ord_id: clOrdId,
      status: mode === 'partial-fill' ? 'open' : 'closed',
      opentm: nowSec,
      closetm: mode === 'partial-fill' ? 0 : nowSec,
      starttm: 0,
      expiretm: 0,
      descr: { pair, type: side, ordertype: 'market', price: '0', price2: '0', leverage: 'none', order: `${side} ${volume} ${pair} @ market`, close: '' },
      vol: sell ? unitsToText(requested, 8) : unitsToText(requested * 1_000_000n, 8),
      vol_exec: unitsToText(sats, 8),
      cost: unitsToText(cost5, 5),
      fee: unitsToText(fee5, 5),
      price: sats > 0n ? price : '0.00000',
      stopprice: '0.00000',
      limitprice: '0.00000',
      misc: mode === 'partial-fill' ? 'partial' : '',
      oflags: sell ? 'fciq' : 'viqc,fciq',
    });
    for (const l of createdListeners) l({ txid, info: { ...orders.get(txid)! } });
    return ok({ descr: { order: `${side} ${volume} ${pair} @ market` }, txid: [txid] });
  };

  const byClOrdId = (p: URLSearchParams, statuses: string[]): Record<string, FakeKrakenOrderInfo> => {
    const want = p.get('cl_ord_id');
    const out: Record<string, FakeKrakenOrderInfo> = {};
    for (const [txid, o] of orders) {
      if (statuses.includes(o.status) && (want === null || o.cl_ord_id === want)) out[txid] = o;
    }
    return out;
  };

  const pickFault = (path: string): FakeKrakenFault | null => {
    if (!faults || faults.faults.length === 0) return null;
    if (faults.paths && !faults.paths.includes(path)) return null;
    const rng = faults.rng ?? Math.random;
    if (rng() >= faults.probability) return null;
    return faults.faults[Math.floor(rng() * faults.faults.length)] ?? null;
  };

  const handle = (req: IncomingMessage, url: URL, body: string, params: URLSearchParams, fault: FakeKrakenFault | null): Reply => {
    const count = (f: FakeKrakenFault): void => void (injected[f] += 1);
    if (mode === 'outage') return json(503, { error: ['EService:Unavailable'] });
    if (fault === 'outage') {
      count(fault);
      return json(503, { error: ['EService:Unavailable'] });
    }
    if (mode === 'malformed' || fault === 'malformed') {
      if (fault === 'malformed') count(fault);
      return { status: 200, text: '{"error":[],"result":{"txid":["O' };
    }

    if (req.method === 'GET' && url.pathname === '/0/public/Ticker') {
      if (params.get('pair') !== pair) return fail('EQuery:Unknown asset pair');
      return ok({
        [pairKey]: { a: [price, '1', '1.000'], b: [price, '1', '1.000'], c: [price, '0.01'], v: ['1', '1'], p: [price, price], t: [1, 1], l: [price, price], h: [price, price], o: price },
      });
    }
    if (req.method === 'GET' && url.pathname === '/0/public/SystemStatus') {
      return ok({ status: 'online', timestamp: new Date().toISOString() });
    }
    if (req.method !== 'POST' || !url.pathname.startsWith('/0/private/')) return json(404, { error: ['EGeneral:Unknown method'] });

    const authError = authenticate(req, url.pathname, body, params);
    if (authError) return fail(authError);
    if (mode === 'rate-limit' || fault === 'rate-limit') {
      if (fault === 'rate-limit') count(fault);
      return fail('EAPI:Rate limit exceeded');
    }
    if (mode === 'busy' || fault === 'busy') {
      if (fault === 'busy') count(fault);
      return fail('EService:Busy');
    }
    const method = url.pathname.slice('/0/private/'.length);
    if (fault === 'bad-gateway-after-create') {
      count(fault);
      if (method === 'AddOrder') addOrder(params);
      return { status: 502, text: '<html><body><h1>502 Bad Gateway</h1></body></html>' };
    }

    switch (method) {
      case 'AddOrder': {
        const reply = addOrder(params);
        // Executed, but the answer never comes (the socket stays open until the caller goes away).
        return swallow ? null : reply;
      }
      case 'QueryOrders': {
        const result: Record<string, FakeKrakenOrderInfo> = {};
        for (const id of (params.get('txid') ?? '').split(',')) {
          const o = orders.get(id);
          if (o) result[id] = o;
        }
        return ok(result);
      }
      case 'OpenOrders':
        return ok({ open: byClOrdId(params, ['open', 'pending']) });
      case 'ClosedOrders': {
        const closed = byClOrdId(params, ['closed', 'canceled', 'expired']);
        return ok({ closed, count: Object.keys(closed).length });
      }
      case 'Balance':
        return ok({ ZAUD: '1000000.0000', XXBT: '0.0000000000' });
      default:
        return fail('EGeneral:Unknown method');
    }
  };

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const body = await readBody(req);
      const params = new URLSearchParams(req.method === 'POST' ? body : url.search);
      log.push({ method: req.method ?? 'GET', path: url.pathname, params: Object.fromEntries(params) });
      const fault = pickFault(url.pathname);
      const reply = handle(req, url, body, params, fault === 'slow' ? null : fault);
      if (reply === null) return;
      if (fault === 'slow') {
        injected.slow += 1;
        await new Promise((r) => setTimeout(r, faults?.slowMs ?? 1_000));
      }
      if (!res.destroyed) sendText(res, reply.status, reply.text);
    })().catch(() => {
      if (!res.headersSent) sendJson(res, 500, { error: ['EGeneral:Internal error'] });
    });
  });

  const listening = await listenLocal(server);
  return {
    url: listening.url,
    apiKey,
    apiSecret,
    close: listening.close,
    orders: () => [...orders].map(([txid, info]) => ({ txid, info: { ...info } })),
    setMode: (m) => {
      mode = m;
    },
    swallowAddOrderResponses: (on) => {
      swallow = on;
    },
    setPrice: (p) => {
      price = p;
    },
    requests: () => log.map((r) => ({ ...r, params: { ...r.params } })),
    updateOrder: (txid, patch) => {
      const o = orders.get(txid);
      if (!o) throw new Error(`no order ${txid}`);
      orders.set(txid, { ...o, ...patch });
    },
    setFaults: (plan) => {
      faults = plan;
    },
    faultCounts: () => ({ ...injected }),
    onOrderCreated: (listener) => {
      createdListeners.add(listener);
      return () => void createdListeners.delete(listener);
    },
  };
}
