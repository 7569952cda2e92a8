/**
 * The exchange layer's contract. Money is never a float: AUD in integer cents and BTC in satoshis
 * (bigint); prices are exact decimal strings.
 */

export type ExchangeName = 'paper' | 'kraken' | 'swyftx' | 'zerocap';

export const EXCHANGE_NAMES: readonly ExchangeName[] = ['paper', 'kraken', 'swyftx', 'zerocap'];

export type Quote = {
  exchange: ExchangeName;
  /** Price to buy 1 BTC in AUD, exact decimal (the ask where the exchange gives one). */
  priceAudPerBtc: string;
  at: Date;
};

export type OrderSide = 'buy' | 'sell';

export type OrderStatus = 'OPEN' | 'FILLED' | 'PARTIALLY_FILLED' | 'CANCELLED' | 'REJECTED';

export type ExchangeOrder = {
  exchange: ExchangeName;
  /** Our idempotency key; the same key never buys twice. */
  clientOrderId: string;
  exchangeOrderId: string;
  status: OrderStatus;
  /** 'sell' for a market sell; absent (or 'buy') for a market buy. */
  side?: OrderSide;
  /** AUD we asked to spend (buys); 0 for a sell. */
  requestedAudCents: bigint;
  /** Sats we asked to sell (sells only). */
  requestedSats?: bigint;
  /** BTC received (buy) or sold (sell) so far, in whole sats. */
  filledSats: bigint;
  /**
   * AUD exchanged for BTC so far, excluding the fee: paid for a buy, received (gross) for a sell.
   * A sell's proceeds net of fees are `spentAudCents - feeAudCents`.
   */
  spentAudCents: bigint;
  /** Fee charged in AUD (converted to cents, rounded half-up). */
  feeAudCents: bigint;
  /** Average fill price in AUD per BTC, exact decimal; null until something fills. */
  averagePrice: string | null;
  /**
   * True while the exchange may still fill more of it (open, pending, partly filled and working):
   * a purchase is only settled once its order is done.
   */
  open?: boolean;
  /** The exchange's own record, for audit. Never contains credentials. */
  raw?: unknown;
};

export type HealthStatus = { ok: boolean; detail?: string };

export interface ExchangeAdapter {
  readonly name: ExchangeName;
  quote(): Promise<Quote>;
  /** Market-buys BTC for `audCents`; `clientOrderId` is the idempotency key. */
  placeMarketBuy(clientOrderId: string, audCents: bigint): Promise<ExchangeOrder>;
  /** Market-sells `sats` of BTC for AUD; `clientOrderId` is the idempotency key (never sells twice). */
  placeMarketSell(clientOrderId: string, sats: bigint): Promise<ExchangeOrder>;
  /** The order placed under `clientOrderId`, or null if this exchange has none. */
  getOrder(clientOrderId: string): Promise<ExchangeOrder | null>;
  /** Never throws: reports reachability (and, where cheap, credentials). */
  health(): Promise<HealthStatus>;
}

export type ExchangeErrorKind = 'UNAVAILABLE' | 'RATE_LIMITED' | 'REJECTED' | 'AUTH' | 'INVALID_RESPONSE';

/** Kinds that say "this exchange can't serve you right now", so trying another is safe. */
export const FAILOVER_KINDS: ReadonlySet<ExchangeErrorKind> = new Set(['UNAVAILABLE', 'RATE_LIMITED']);

export type ExchangeErrorOptions = {
  exchange: ExchangeName;
  kind: ExchangeErrorKind;
  message: string;
  /**
   * True when a mutating request may have been executed even though we got no good answer
   * (timeout, connection reset, 502/504, unparseable body). Callers must reconcile before
   * sending the money anywhere else.
   */
  outcomeUnknown?: boolean;
  /** The exchange's own error code, e.g. "EOrder:Insufficient funds". */
  exchangeCode?: string;
  httpStatus?: number;
  cause?: unknown;
};

/** A typed exchange failure. Messages are built by us and never include credentials. */
export class ExchangeError extends Error {
  readonly exchange: ExchangeName;
  readonly kind: ExchangeErrorKind;
  readonly retryable: boolean;
  readonly outcomeUnknown: boolean;
  readonly exchangeCode?: string;
  readonly httpStatus?: number;

  constructor(opts: ExchangeErrorOptions) {
    super(`${opts.exchange}: ${opts.message}`, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'ExchangeError';
    this.exchange = opts.exchange;
    this.kind = opts.kind;
    this.retryable = FAILOVER_KINDS.has(opts.kind);
    this.outcomeUnknown = opts.outcomeUnknown ?? false;
    this.exchangeCode = opts.exchangeCode;
    this.httpStatus = opts.httpStatus;
  }
}

export function isExchangeError(e: unknown): e is ExchangeError {
  return e instanceof ExchangeError;
}

/** Removes any occurrence of the given secrets from text that came from outside (echoed bodies). */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('[redacted]');
  return out;
}

/** Keeps exchange-provided error text short and printable before it goes into a message. */
export function safeExchangeText(text: string, secrets: readonly string[]): string {
  // eslint-disable-next-line no-control-regex
  return redactSecrets(text, secrets).replace(/[\u0000-\u001f\u007f]/g, ' ').slice(0, 200);
}

export function assertPositiveAudCents(exchange: ExchangeName, audCents: bigint): void {
  if (typeof audCents !== 'bigint' || audCents <= 0n) {
    throw new ExchangeError({ exchange, kind: 'REJECTED', message: 'order amount must be a positive number of AUD cents' });
  }
}

export function assertPositiveSats(exchange: ExchangeName, sats: bigint): void {
  if (typeof sats !== 'bigint' || sats <= 0n) {
    throw new ExchangeError({ exchange, kind: 'REJECTED', message: 'sell amount must be a positive number of satoshis' });
  }
}

/** A sell's proceeds net of fees, in AUD cents (never negative). */
export function netProceedsAudCents(order: ExchangeOrder): bigint {
  const net = order.spentAudCents - order.feeAudCents;
  return net > 0n ? net : 0n;
}

export function assertClientOrderId(exchange: ExchangeName, clientOrderId: string): void {
  if (typeof clientOrderId !== 'string' || !/^[\w.:-]{1,64}$/.test(clientOrderId)) {
    throw new ExchangeError({ exchange, kind: 'REJECTED', message: 'clientOrderId must be 1-64 chars of [A-Za-z0-9_.:-]' });
  }
}
