import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer, type RawData } from 'ws';

/** A text frame's UTF-8, whichever of ws's buffer shapes carries it. */
function rawText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  return (Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)).toString('utf8');
}

/**
 * Fake Kraken WebSocket API v2 (public, ticker channel) on 127.0.0.1, random port.
 * Numbers are written as raw JSON literals (like Kraken), so e.g. last: "95123.40" goes on the wire as 95123.40
 * and tests can check that clients keep the exact digits.
 */

/** Numeric fields are JSON literal text, emitted unquoted. */
export type FakeTickerRow = { symbol: string; last: string; bid?: string; ask?: string };

export type FakeKrakenStep =
  | { delayMs: number; action: 'update'; rows: FakeTickerRow[] }
  | { delayMs: number; action: 'raw'; text: string }
  | { delayMs: number; action: 'malformed'; text?: string }
  | { delayMs: number; action: 'drop' }
  | { delayMs: number; action: 'silent' };

export type FakeKrakenWsOptions = {
  snapshot?: FakeTickerRow[];
  /** Steps played on each connection after its snapshot; a function picks per connection (0-based). */
  script?: FakeKrakenStep[] | ((connectionIndex: number) => FakeKrakenStep[]);
  /** Heartbeat period once subscribed; 0 turns heartbeats off. */
  heartbeatMs?: number;
  /** Symbols the fake lists; subscribing to others is refused like Kraken does. */
  symbols?: string[];
};

export const DEFAULT_MALFORMED_FRAME = '{"channel":"ticker","type":"update","data":[{"symbol":"BTC/AUD","last":}]}';

type Conn = { socket: WebSocket; index: number; subscribed: Set<string>; silent: boolean; timers: Set<NodeJS.Timeout> };

function isoNow(): string {
  return new Date().toISOString().replace('Z', '000Z');
}

function rowJson(r: FakeTickerRow): string {
  const bid = r.bid ?? r.last;
  const ask = r.ask ?? r.last;
  return (
    `{"symbol":${JSON.stringify(r.symbol)},"bid":${bid},"bid_qty":0.50000000,"ask":${ask},"ask_qty":0.25000000,` +
    `"last":${r.last},"volume":12.34567890,"vwap":${r.last},"low":${r.last},"high":${r.last},"change":0.0,"change_pct":0.00,` +
    `"timestamp":"${isoNow()}"}`
  );
}

export function tickerFrame(type: 'snapshot' | 'update', rows: FakeTickerRow[]): string {
  return `{"channel":"ticker","type":"${type}","data":[${rows.map(rowJson).join(',')}]}`;
}

export class FakeKrakenWsServer {
  /** Every JSON request received from clients, in order. */
  readonly requests: unknown[] = [];
  private readonly conns = new Set<Conn>();
  private connectionTotal = 0;
  private snapshot: FakeTickerRow[];
  private waiters: { check: () => boolean; resolve: () => void }[] = [];

  private constructor(
    private readonly wss: WebSocketServer,
    readonly url: string,
    private readonly options: FakeKrakenWsOptions,
  ) {
    this.snapshot = options.snapshot ?? [
      { symbol: 'BTC/AUD', last: '150000.10' },
      { symbol: 'BTC/USD', last: '97500.5' },
    ];
    wss.on('connection', (socket) => this.onConnection(socket));
  }

  static async start(options: FakeKrakenWsOptions = {}): Promise<FakeKrakenWsServer> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve, reject) => {
      wss.once('listening', resolve);
      wss.once('error', reject);
    });
    const { port } = wss.address() as AddressInfo;
    return new FakeKrakenWsServer(wss, `ws://127.0.0.1:${port}`, options);
  }

  /** Connections accepted so far (including closed ones). */
  get connectionCount(): number {
    return this.connectionTotal;
  }

  get openConnections(): number {
    return this.conns.size;
  }

  setSnapshot(rows: FakeTickerRow[]): void {
    this.snapshot = rows;
  }

  /** Sends an update to every subscribed, non-silent connection. */
  sendUpdate(rows: FakeTickerRow[]): void {
    for (const c of this.conns) {
      const mine = rows.filter((r) => c.subscribed.has(r.symbol));
      if (mine.length > 0) this.send(c, tickerFrame('update', mine));
    }
  }

  sendRaw(text: string): void {
    for (const c of this.conns) this.send(c, text);
  }

  /** Abruptly kills every connection (no close frame), like a network drop. */
  dropAll(): void {
    for (const c of this.conns) c.socket.terminate();
  }

  /** Silent connections keep the TCP link open but send nothing, heartbeats included. */
  setSilent(silent: boolean): void {
    for (const c of this.conns) c.silent = silent;
  }

  waitForConnections(n: number, timeoutMs = 5_000): Promise<void> {
    return this.waitFor(() => this.connectionTotal >= n, timeoutMs, `${n} connections`);
  }

  waitForSubscriptions(n: number, timeoutMs = 5_000): Promise<void> {
    return this.waitFor(() => this.requests.filter((r) => isSubscribe(r)).length >= n, timeoutMs, `${n} subscribe requests`);
  }

  async close(): Promise<void> {
    for (const c of this.conns) {
      for (const t of c.timers) clearTimeout(t);
      c.socket.terminate();
    }
    this.conns.clear();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`fake kraken: timed out waiting for ${what}`));
      }, timeoutMs);
      const waiter = {
        check,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      this.waiters.push(waiter);
    });
  }

  private notify(): void {
    const ready = this.waiters.filter((w) => w.check());
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve();
  }

  private onConnection(socket: WebSocket): void {
    const conn: Conn = { socket, index: this.connectionTotal++, subscribed: new Set(), silent: false, timers: new Set() };
    this.conns.add(conn);
    socket.on('close', () => {
      for (const t of conn.timers) clearTimeout(t);
      this.conns.delete(conn);
    });
    socket.on('error', () => undefined);
    socket.on('message', (data) => this.onRequest(conn, rawText(data)));
    this.send(conn, '{"channel":"status","type":"update","data":[{"version":"2.0.0","system":"online","api_version":"v2","connection_id":1}]}');
    this.notify();
  }

  private onRequest(conn: Conn, text: string): void {
    let req: unknown;
    try {
      req = JSON.parse(text);
    } catch {
      this.send(conn, `{"error":"Malformed request","success":false,"time_in":"${isoNow()}","time_out":"${isoNow()}"}`);
      return;
    }
    this.requests.push(req);
    if (isPing(req)) this.send(conn, `{"method":"pong","time_in":"${isoNow()}","time_out":"${isoNow()}"}`);
    if (isSubscribe(req)) this.onSubscribe(conn, req.params.symbol);
    this.notify();
  }

  private onSubscribe(conn: Conn, symbols: string[]): void {
    const listed = this.options.symbols ?? ['BTC/AUD', 'BTC/USD'];
    for (const symbol of symbols) {
      if (listed.includes(symbol)) {
        conn.subscribed.add(symbol);
        this.send(
          conn,
          `{"method":"subscribe","result":{"channel":"ticker","event_trigger":"trades","snapshot":true,"symbol":${JSON.stringify(symbol)}},` +
            `"success":true,"time_in":"${isoNow()}","time_out":"${isoNow()}"}`,
        );
      } else {
        this.send(
          conn,
          `{"error":"Currency pair not supported ${symbol}","method":"subscribe","success":false,"symbol":${JSON.stringify(symbol)},` +
            `"time_in":"${isoNow()}","time_out":"${isoNow()}"}`,
        );
      }
    }
    const rows = this.snapshot.filter((r) => conn.subscribed.has(r.symbol));
    if (rows.length > 0) this.send(conn, tickerFrame('snapshot', rows));
    this.startHeartbeat(conn);
    const script = typeof this.options.script === 'function' ? this.options.script(conn.index) : (this.options.script ?? []);
    this.playScript(conn, script);
  }

  private startHeartbeat(conn: Conn): void {
    const every = this.options.heartbeatMs ?? 100;
    if (every <= 0) return;
    const beat = (): void => {
      const t = setTimeout(() => {
        conn.timers.delete(t);
        this.send(conn, '{"channel":"heartbeat"}');
        beat();
      }, every);
      conn.timers.add(t);
    };
    beat();
  }

  private playScript(conn: Conn, steps: FakeKrakenStep[]): void {
    const [step, ...rest] = steps;
    if (!step) return;
    const t = setTimeout(() => {
      conn.timers.delete(t);
      switch (step.action) {
        case 'update':
          this.send(conn, tickerFrame('update', step.rows));
          break;
        case 'raw':
          this.send(conn, step.text);
          break;
        case 'malformed':
          this.send(conn, step.text ?? DEFAULT_MALFORMED_FRAME);
          break;
        case 'drop':
          conn.socket.terminate();
          return;
        case 'silent':
          conn.silent = true;
          break;
      }
      this.playScript(conn, rest);
    }, step.delayMs);
    conn.timers.add(t);
  }

  private send(conn: Conn, text: string): void {
    if (conn.silent || conn.socket.readyState !== WebSocket.OPEN) return;
    conn.socket.send(text);
  }
}

function isSubscribe(req: unknown): req is { method: 'subscribe'; params: { channel: string; symbol: string[] } } {
  if (typeof req !== 'object' || req === null) return false;
  const r = req as { method?: unknown; params?: { channel?: unknown; symbol?: unknown } };
  return r.method === 'subscribe' && r.params?.channel === 'ticker' && Array.isArray(r.params.symbol) && r.params.symbol.every((s) => typeof s === 'string');
}

function isPing(req: unknown): boolean {
  return typeof req === 'object' && req !== null && (req as { method?: unknown }).method === 'ping';
}
