import WebSocket, { type RawData } from 'ws';
import { log } from '../../../lib/logger';
import { isPositiveDecimal, isRecord, parseJsonLossless, toPlainDecimal } from '../../../lib/money';
import { fetchText, type FetchLike } from './http-fetch';
import type { Currency, PriceFeed, SourceQuote } from './price-feed.types';

export const KRAKEN_WS_URL = 'wss://ws.kraken.com/v2';
export const KRAKEN_REST_BASE_URL = 'https://api.kraken.com';

/** WS v2 symbols use BTC; the REST API still names the pairs XBT. */
const WS_SYMBOL: Record<Currency, string> = { AUD: 'BTC/AUD', USD: 'BTC/USD' };
const REST_PAIR: Record<Currency, string> = { AUD: 'XBTAUD', USD: 'XBTUSD' };
const CURRENCY_BY_SYMBOL: ReadonlyMap<string, Currency> = new Map(
  (Object.entries(WS_SYMBOL) as [Currency, string][]).map(([currency, symbol]) => [symbol, currency]),
);

export type KrakenWsFeedOptions = {
  wsUrl?: string;
  restBaseUrl?: string;
  currencies?: readonly Currency[];
  /** No frame at all for this long → the socket is dead; no ticker for a symbol this long → poll REST for it. */
  staleAfterMs?: number;
  /** Minimum gap between REST fallback polls per symbol. */
  restPollMs?: number;
  watchdogMs?: number;
  reconnectInitialMs?: number;
  reconnectMaxMs?: number;
  handshakeTimeoutMs?: number;
  restTimeoutMs?: number;
  /** Omitted by default (Kraken then triggers on trades); 'bbo' makes quiet markets such as BTC/AUD tick more often. */
  eventTrigger?: 'bbo' | 'trades';
  fetchImpl?: FetchLike;
  now?: () => Date;
};

export type KrakenTickerRow = { symbol: string; last: string };

/** Every WS v2 frame, classified. Unknown-but-valid messages are 'other' so new Kraken channels never count as malformed. */
export type KrakenFrame =
  | { kind: 'ticker'; type: 'snapshot' | 'update'; rows: KrakenTickerRow[]; invalidRows: number }
  | { kind: 'heartbeat' }
  | { kind: 'ack'; method: string; success: boolean; symbol?: string; error?: string }
  | { kind: 'status'; system?: string }
  | { kind: 'other' }
  | { kind: 'malformed'; reason: string };

export type KrakenFeedStats = {
  connected: boolean;
  connects: number;
  reconnects: number;
  staleDisconnects: number;
  malformedFrames: number;
  wsQuotes: number;
  restQuotes: number;
  restFailures: number;
};

export function krakenSubscribeMessage(currencies: readonly Currency[], eventTrigger?: 'bbo' | 'trades'): string {
  const params: Record<string, unknown> = { channel: 'ticker', symbol: currencies.map((c) => WS_SYMBOL[c]) };
  if (eventTrigger) params.event_trigger = eventTrigger;
  return JSON.stringify({ method: 'subscribe', params });
}

/**
 * Classifies one text frame. Kraken WS v2 sends prices as JSON numbers; parseJsonLossless hands them back as
 * their literal source text (see json-exact.ts), so `last` keeps exactly the digits Kraken sent.
 */
export function parseKrakenWsFrame(text: string): KrakenFrame {
  let json: unknown;
  try {
    json = parseJsonLossless(text);
  } catch {
    return { kind: 'malformed', reason: 'invalid JSON' };
  }
  if (!isRecord(json)) return { kind: 'malformed', reason: 'not a JSON object' };
  if (typeof json.method === 'string') {
    const result = isRecord(json.result) ? json.result : {};
    return {
      kind: 'ack',
      method: json.method,
      success: json.success === true,
      ...(typeof result.symbol === 'string' ? { symbol: result.symbol } : {}),
      ...(typeof json.error === 'string' ? { error: json.error } : {}),
    };
  }
  switch (json.channel) {
    case 'heartbeat':
      return { kind: 'heartbeat' };
    case 'status': {
      const first: unknown = Array.isArray(json.data) ? json.data[0] : undefined;
      return { kind: 'status', ...(isRecord(first) && typeof first.system === 'string' ? { system: first.system } : {}) };
    }
    case 'ticker': {
      if (json.type !== 'snapshot' && json.type !== 'update') return { kind: 'malformed', reason: 'ticker frame without snapshot/update type' };
      if (!Array.isArray(json.data)) return { kind: 'malformed', reason: 'ticker frame without data array' };
      const rows: KrakenTickerRow[] = [];
      let invalidRows = 0;
      for (const row of json.data as unknown[]) {
        if (isRecord(row) && typeof row.symbol === 'string' && isPositiveDecimal(row.last)) {
          rows.push({ symbol: row.symbol, last: toPlainDecimal(row.last) });
        } else invalidRows++;
      }
      if (rows.length === 0) return { kind: 'malformed', reason: 'ticker frame without a valid row' };
      return { kind: 'ticker', type: json.type, rows, invalidRows };
    }
    default:
      return { kind: 'other' };
  }
}

export function krakenRestTickerUrl(baseUrl: string, currency: Currency): string {
  return `${baseUrl.replace(/\/+$/, '')}/0/public/Ticker?pair=${REST_PAIR[currency]}`;
}

/** Public Ticker → last trade price, result.<pair>.c[0]. The result key is Kraken's internal name (XXBTZAUD), so take the only entry. */
export function parseKrakenRestTicker(body: string): string {
  const json = parseJsonLossless(body);
  if (!isRecord(json)) throw new SyntaxError('Ticker response is not an object');
  if (Array.isArray(json.error) && json.error.length > 0) throw new Error(`Kraken error: ${json.error.map(String).join(', ')}`);
  if (!isRecord(json.result)) throw new SyntaxError('Ticker response without result');
  const pairs = Object.values(json.result);
  if (pairs.length !== 1 || !isRecord(pairs[0])) throw new SyntaxError(`expected exactly one pair in result, got ${pairs.length}`);
  const c = pairs[0].c;
  if (!Array.isArray(c) || !isPositiveDecimal(c[0])) throw new SyntaxError('c[0] missing or not a positive decimal');
  return toPlainDecimal(c[0]);
}

function rawText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

/**
 * Kraken WS v2 `ticker` feed with REST fallback.
 * - reconnects with exponential backoff (reset once a subscription is acknowledged or data flows);
 * - a socket with no frame (not even a heartbeat) for staleAfterMs is terminated and reconnected;
 * - any symbol with no WS ticker for staleAfterMs (socket down, silent, or a quiet market) is polled over REST
 *   at most every restPollMs until WS data resumes;
 * - malformed frames are counted and skipped, never thrown.
 */
export class KrakenWsFeed implements PriceFeed {
  readonly source = 'KRAKEN' as const;
  private readonly wsUrl: string;
  private readonly restBaseUrl: string;
  private readonly currencies: readonly Currency[];
  private readonly staleAfterMs: number;
  private readonly restPollMs: number;
  private readonly watchdogMs: number;
  private readonly reconnectInitialMs: number;
  private readonly reconnectMaxMs: number;
  private readonly now: () => Date;

  private running = false;
  private onQuote: (q: SourceQuote) => void = () => undefined;
  private ws: WebSocket | undefined;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private watchdogTimer: NodeJS.Timeout | undefined;
  private lastFrameAt = 0;
  private readonly lastWsQuoteAt = new Map<Currency, number>();
  private readonly lastRestAt = new Map<Currency, number>();
  private readonly restInFlight = new Map<Currency, Promise<void>>();
  private restController = new AbortController();
  private readonly counters: Omit<KrakenFeedStats, 'connected'> = {
    connects: 0,
    reconnects: 0,
    staleDisconnects: 0,
    malformedFrames: 0,
    wsQuotes: 0,
    restQuotes: 0,
    restFailures: 0,
  };

  constructor(private readonly options: KrakenWsFeedOptions = {}) {
    this.wsUrl = options.wsUrl ?? KRAKEN_WS_URL;
    this.restBaseUrl = options.restBaseUrl ?? KRAKEN_REST_BASE_URL;
    this.currencies = options.currencies ?? ['AUD', 'USD'];
    this.staleAfterMs = options.staleAfterMs ?? 15_000;
    this.restPollMs = options.restPollMs ?? 5_000;
    this.watchdogMs = options.watchdogMs ?? Math.max(50, Math.min(1_000, Math.floor(this.staleAfterMs / 4)));
    this.reconnectInitialMs = options.reconnectInitialMs ?? 500;
    this.reconnectMaxMs = options.reconnectMaxMs ?? 30_000;
    this.now = options.now ?? (() => new Date());
    if (this.currencies.length === 0) throw new RangeError('at least one currency is required');
  }

  stats(): KrakenFeedStats {
    return { connected: this.ws?.readyState === WebSocket.OPEN, ...this.counters };
  }

  /** Resolves once the first connection attempt is under way; data (or the REST fallback) follows asynchronously. */
  async start(onQuote: (q: SourceQuote) => void): Promise<void> {
    if (this.running) throw new Error('KRAKEN feed already started');
    this.running = true;
    this.onQuote = onQuote;
    this.attempt = 0;
    this.restController = new AbortController();
    const startedAt = this.now().getTime();
    // Gives the socket one staleness window before the REST fallback kicks in.
    for (const c of this.currencies) this.lastWsQuoteAt.set(c, startedAt);
    this.watchdogTimer = setInterval(() => this.watchdog(), this.watchdogMs);
    this.connect();
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.watchdogTimer);
    this.reconnectTimer = undefined;
    this.watchdogTimer = undefined;
    this.restController.abort();
    const ws = this.ws;
    if (ws) {
      const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
      // A read-only market-data socket needs no closing handshake, and a silent peer would stall one.
      ws.terminate();
      await closed;
    }
    await Promise.allSettled([...this.restInFlight.values()]);
  }

  private connect(): void {
    if (!this.running) return;
    this.counters.connects++;
    const ws = new WebSocket(this.wsUrl, {
      handshakeTimeout: this.options.handshakeTimeoutMs ?? 10_000,
      maxPayload: 1 << 20,
    });
    this.ws = ws;
    ws.on('open', () => {
      this.lastFrameAt = this.now().getTime();
      ws.send(krakenSubscribeMessage(this.currencies, this.options.eventTrigger));
    });
    ws.on('message', (data, isBinary) => this.handleMessage(data, isBinary));
    ws.on('error', (err) => log().warn({ source: this.source, error: err.message }, 'kraken websocket error'));
    ws.on('close', (code) => {
      if (this.ws === ws) this.ws = undefined;
      if (!this.running) return;
      log().warn({ source: this.source, code }, 'kraken websocket closed; reconnecting');
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    const delay = Math.min(this.reconnectMaxMs, this.reconnectInitialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    this.counters.reconnects++;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect();
    }, delay);
  }

  private handleMessage(data: RawData, isBinary: boolean): void {
    const at = this.now();
    this.lastFrameAt = at.getTime();
    const frame: KrakenFrame = isBinary ? { kind: 'malformed', reason: 'binary frame' } : parseKrakenWsFrame(rawText(data));
    switch (frame.kind) {
      case 'malformed':
        this.counters.malformedFrames++;
        log().warn({ source: this.source, reason: frame.reason }, 'skipped malformed kraken frame');
        return;
      case 'ack':
        if (frame.success) this.attempt = 0;
        else log().warn({ source: this.source, method: frame.method, error: frame.error }, 'kraken request rejected');
        return;
      case 'status':
        if (frame.system !== undefined && frame.system !== 'online') log().warn({ source: this.source, system: frame.system }, 'kraken system not online');
        return;
      case 'ticker':
        if (frame.invalidRows > 0) this.counters.malformedFrames++;
        this.attempt = 0;
        for (const row of frame.rows) {
          const currency = CURRENCY_BY_SYMBOL.get(row.symbol);
          if (!currency || !this.currencies.includes(currency)) continue;
          this.lastWsQuoteAt.set(currency, at.getTime());
          this.counters.wsQuotes++;
          this.emit({ source: this.source, currency, price: row.last, at });
        }
        return;
      default:
        return;
    }
  }

  private watchdog(): void {
    if (!this.running) return;
    const now = this.now().getTime();
    const ws = this.ws;
    if (ws && ws.readyState === WebSocket.OPEN && now - this.lastFrameAt > this.staleAfterMs) {
      this.counters.staleDisconnects++;
      log().warn({ source: this.source, silentMs: now - this.lastFrameAt }, 'kraken websocket stale; terminating');
      ws.terminate();
    }
    for (const currency of this.currencies) {
      const wsAge = now - (this.lastWsQuoteAt.get(currency) ?? 0);
      const sinceRest = now - (this.lastRestAt.get(currency) ?? Number.NEGATIVE_INFINITY);
      if (wsAge > this.staleAfterMs && sinceRest >= this.restPollMs && !this.restInFlight.has(currency)) this.pollRest(currency, now);
    }
  }

  private pollRest(currency: Currency, now: number): void {
    this.lastRestAt.set(currency, now);
    const url = krakenRestTickerUrl(this.restBaseUrl, currency);
    const request = fetchText(url, { timeoutMs: this.options.restTimeoutMs ?? 5_000, fetchImpl: this.options.fetchImpl, signal: this.restController.signal })
      .then((body) => {
        const price = parseKrakenRestTicker(body);
        if (!this.running) return;
        this.counters.restQuotes++;
        this.emit({ source: this.source, currency, price, at: this.now() });
      })
      .catch((err: unknown) => {
        if (!this.running) return;
        this.counters.restFailures++;
        log().warn({ source: this.source, currency, error: err instanceof Error ? err.message : String(err) }, 'kraken REST fallback failed');
      })
      .finally(() => this.restInFlight.delete(currency));
    this.restInFlight.set(currency, request);
  }

  private emit(q: SourceQuote): void {
    try {
      this.onQuote(q);
    } catch (err) {
      log().error({ err, source: this.source }, 'price quote handler threw');
    }
  }
}
