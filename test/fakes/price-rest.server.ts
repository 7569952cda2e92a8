import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * One HTTP server on 127.0.0.1 (random port) impersonating three public ticker APIs in their documented shapes:
 * - Kraken       GET /0/public/Ticker?pair=XBTAUD|XBTUSD        → {"error":[],"result":{"XXBTZAUD":{..."c":["<last>","<lot>"]...}}}
 * - Independent Reserve GET /Public/GetMarketSummary?primaryCurrencyCode=Xbt&secondaryCurrencyCode=Aud|Usd → LastPrice as a JSON number
 * - BTC Markets  GET /v3/markets/BTC-AUD/ticker                 → {"marketId":"BTC-AUD",...,"lastPrice":"<last>",...}
 * Price values are literal text; IR's are written unquoted, exactly as given, like the real API's JSON numbers.
 */

export type RestEndpoint = 'kraken' | 'independentReserve' | 'btcMarkets';

/**
 * ok: normal body · outage: HTTP 503 HTML · malformed: truncated JSON · invalid: well-formed JSON without a usable price ·
 * stale: timestamps staleByMs old (Kraken's ticker has none, so it answers as ok) · error: Kraken-style {"error":[...]} (others: HTTP 400) ·
 * slow: answers after slowMs.
 */
export type RestMode = 'ok' | 'outage' | 'malformed' | 'invalid' | 'stale' | 'error' | 'slow';

export type FakePriceRestOptions = {
  kraken?: { XBTAUD?: string; XBTUSD?: string };
  independentReserve?: { Aud?: string; Usd?: string };
  btcMarkets?: string;
  slowMs?: number;
  staleByMs?: number;
};

const KRAKEN_RESULT_KEY: Record<string, string> = { XBTAUD: 'XXBTZAUD', XBTUSD: 'XXBTZUSD' };

export class FakePriceRestServer {
  /** Paths (with query) of every request received, in order. */
  readonly requests: string[] = [];
  private readonly modes: Record<RestEndpoint, RestMode> = { kraken: 'ok', independentReserve: 'ok', btcMarkets: 'ok' };
  private readonly kraken: Record<string, string>;
  private readonly ir: Record<string, string>;
  private btcm: string;
  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(
    private readonly server: Server,
    readonly baseUrl: string,
    private readonly options: FakePriceRestOptions,
  ) {
    this.kraken = { XBTAUD: '150010.00000', XBTUSD: '97520.10000', ...options.kraken };
    this.ir = { Aud: '150020.12', Usd: '97530.55', ...options.independentReserve };
    this.btcm = options.btcMarkets ?? '150030.45';
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.handle(req, res));
  }

  static async start(options: FakePriceRestOptions = {}): Promise<FakePriceRestServer> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    return new FakePriceRestServer(server, `http://127.0.0.1:${port}`, options);
  }

  setMode(endpoint: RestEndpoint, mode: RestMode): void {
    this.modes[endpoint] = mode;
  }

  setKrakenLast(pair: 'XBTAUD' | 'XBTUSD', last: string): void {
    this.kraken[pair] = last;
  }

  setIndependentReserveLast(secondary: 'Aud' | 'Usd', last: string): void {
    this.ir[secondary] = last;
  }

  setBtcMarketsLast(last: string): void {
    this.btcm = last;
  }

  requestCount(endpoint: RestEndpoint): number {
    const prefix = { kraken: '/0/public/Ticker', independentReserve: '/Public/GetMarketSummary', btcMarkets: '/v3/markets/' }[endpoint];
    return this.requests.filter((p) => p.startsWith(prefix)).length;
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://fake');
    this.requests.push(`${url.pathname}${url.search}`);
    const route = this.route(url);
    if (!route) return send(res, 404, 'application/json', '{"message":"Not Found"}');
    const mode = this.modes[route.endpoint];
    const reply = (): void => {
      switch (mode) {
        case 'outage':
          return send(res, 503, 'text/html', '<html><body><h1>503 Service Unavailable</h1></body></html>');
        case 'malformed':
          return send(res, 200, 'application/json', route.body(false).slice(0, 40));
        default:
          return route.respond(res, mode);
      }
    };
    if (mode === 'slow') {
      const t = setTimeout(() => {
        this.timers.delete(t);
        reply();
      }, this.options.slowMs ?? 5_000);
      this.timers.add(t);
    } else reply();
  }

  private route(url: URL): { endpoint: RestEndpoint; body: (stale: boolean) => string; respond: (res: ServerResponse, mode: RestMode) => void } | undefined {
    if (url.pathname === '/0/public/Ticker') {
      const pair = (url.searchParams.get('pair') ?? '').toUpperCase();
      const body = (): string => this.krakenBody(pair);
      return {
        endpoint: 'kraken',
        body,
        respond: (res, mode) => {
          if (mode === 'error') return send(res, 200, 'application/json', '{"error":["EService:Unavailable"]}');
          if (!(pair in KRAKEN_RESULT_KEY)) return send(res, 200, 'application/json', '{"error":["EQuery:Unknown asset pair"]}');
          if (mode === 'invalid') return send(res, 200, 'application/json', `{"error":[],"result":{"${KRAKEN_RESULT_KEY[pair]}":{"a":["1.0","1","1.000"]}}}`);
          return send(res, 200, 'application/json', body());
        },
      };
    }
    if (url.pathname.toLowerCase() === '/public/getmarketsummary') {
      // IR treats query parameter names and values case-insensitively.
      const params = new Map([...url.searchParams].map(([k, v]) => [k.toLowerCase(), v.toLowerCase()]));
      const primary = params.get('primarycurrencycode');
      const secondary = params.get('secondarycurrencycode');
      const code = secondary === 'aud' ? 'Aud' : secondary === 'usd' ? 'Usd' : undefined;
      const body = (stale: boolean): string => this.irBody(code ?? 'Aud', stale);
      return {
        endpoint: 'independentReserve',
        body,
        respond: (res, mode) => {
          if (primary !== 'xbt' || !code) return send(res, 400, 'application/json', '{"Message":"Invalid currency code"}');
          if (mode === 'error') return send(res, 400, 'application/json', '{"Message":"Request rejected"}');
          if (mode === 'invalid') return send(res, 200, 'application/json', body(false).replace(/"LastPrice":[^,]+/, '"LastPrice":null'));
          return send(res, 200, 'application/json', body(mode === 'stale'));
        },
      };
    }
    const btcm = /^\/v3\/markets\/([^/]+)\/ticker$/.exec(url.pathname);
    if (btcm) {
      const body = (stale: boolean): string => this.btcmBody(stale);
      return {
        endpoint: 'btcMarkets',
        body,
        respond: (res, mode) => {
          if (btcm[1] !== 'BTC-AUD') return send(res, 400, 'application/json', '{"code":"InvalidMarket","message":"Invalid market"}');
          if (mode === 'error') return send(res, 400, 'application/json', '{"code":"BadRequest","message":"Request rejected"}');
          if (mode === 'invalid') return send(res, 200, 'application/json', body(false).replace(/"lastPrice":"[^"]*"/, '"lastPrice":"n/a"'));
          return send(res, 200, 'application/json', body(mode === 'stale'));
        },
      };
    }
    return undefined;
  }

  private stamp(stale: boolean): Date {
    return new Date(Date.now() - (stale ? (this.options.staleByMs ?? 3_600_000) : 0));
  }

  private krakenBody(pair: string): string {
    const last = this.kraken[pair] ?? '0';
    return (
      `{"error":[],"result":{"${KRAKEN_RESULT_KEY[pair] ?? pair}":{"a":["${last}","1","1.000"],"b":["${last}","2","2.000"],` +
      `"c":["${last}","0.00100000"],"v":["12.34567890","45.67890123"],"p":["${last}","${last}"],"t":[1234,5678],` +
      `"l":["${last}","${last}"],"h":["${last}","${last}"],"o":"${last}"}}}`
    );
  }

  private irBody(code: 'Aud' | 'Usd', stale: boolean): string {
    const last = this.ir[code];
    // IR stamps with 7 fractional digits, e.g. 2024-05-01T03:04:05.1234567Z.
    const ts = this.stamp(stale).toISOString().replace('Z', '0000Z');
    return (
      `{"DayHighestPrice":${last},"DayLowestPrice":${last},"DayAvgPrice":${last},"DayVolumeXbt":123.45678901,` +
      `"DayVolumeXbtInSecondaryCurrrency":456.78901234,"CurrentLowestOfferPrice":${last},"CurrentHighestBidPrice":${last},` +
      `"LastPrice":${last},"PrimaryCurrencyCode":"Xbt","SecondaryCurrencyCode":"${code}","CreatedTimestampUtc":"${ts}"}`
    );
  }

  private btcmBody(stale: boolean): string {
    const last = this.btcm;
    const ts = this.stamp(stale).toISOString().replace('Z', '000Z');
    return (
      `{"marketId":"BTC-AUD","bestBid":"${last}","bestAsk":"${last}","lastPrice":"${last}","volume24h":"123.45678901",` +
      `"volumeQte24h":"18500000.12","price24h":"1200.5","pricePct24h":"0.81","low24h":"${last}","high24h":"${last}","timestamp":"${ts}"}`
    );
  }
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
