import { averagePriceAudPerBtc, ceilFeeCents, centsForSats, centsToAud, floorSats, parseDecimal, unitsToText } from '../../../lib/money';
import { sleep } from './exchange-http';
import {
  assertClientOrderId,
  assertPositiveAudCents,
  assertPositiveSats,
  ExchangeError,
  type ExchangeAdapter,
  type ExchangeOrder,
  type HealthStatus,
  type Quote,
} from './exchange.types';

export type PaperExchangeOptions = {
  /** Where fills are priced: returns AUD per BTC as an exact decimal string. */
  priceSource: () => Promise<string>;
  /** Simulated round-trip time per call. */
  latencyMs?: number;
  /** Probability in [0, 1] that a call fails with UNAVAILABLE. */
  failureRate?: number;
  /** Injected randomness so failure simulation is deterministic in tests. */
  rng?: () => number;
  /** Fee in basis points charged on top of the AUD spent (like Kraken's fee-in-quote). */
  feeBps?: number;
  now?: () => Date;
  sleep?: (ms: number) => Promise<void>;
};

/**
 * The default exchange: fills market buys and sells instantly at the injected price, charging
 * `feeBps` in AUD. No real money moves. A sell of `sats` receives floor(sats × price) cents.
 */
export class PaperExchange implements ExchangeAdapter {
  readonly name = 'paper' as const;
  private readonly orders = new Map<string, ExchangeOrder>();
  // Concurrent calls with the same id share one fill instead of racing to create two.
  private readonly inFlight = new Map<string, Promise<ExchangeOrder>>();
  private sequence = 0;
  private readonly latencyMs: number;
  private readonly failureRate: number;
  private readonly rng: () => number;
  private readonly feeBps: number;
  private readonly now: () => Date;
  private readonly wait: (ms: number) => Promise<void>;

  constructor(private readonly opts: PaperExchangeOptions) {
    this.latencyMs = opts.latencyMs ?? 0;
    this.failureRate = opts.failureRate ?? 0;
    this.rng = opts.rng ?? Math.random;
    this.feeBps = opts.feeBps ?? 0;
    this.now = opts.now ?? (() => new Date());
    this.wait = opts.sleep ?? sleep;
    if (!(this.failureRate >= 0 && this.failureRate <= 1)) throw new RangeError('failureRate must be within [0, 1]');
    if (!Number.isInteger(this.feeBps) || this.feeBps < 0) throw new RangeError('feeBps must be a non-negative integer');
  }

  async quote(): Promise<Quote> {
    await this.simulateNetwork();
    const price = await this.price();
    return { exchange: 'paper', priceAudPerBtc: price, at: this.now() };
  }

  async placeMarketBuy(clientOrderId: string, audCents: bigint): Promise<ExchangeOrder> {
    assertClientOrderId('paper', clientOrderId);
    assertPositiveAudCents('paper', audCents);
    const existing = this.orders.get(clientOrderId);
    if (existing) return { ...existing };
    const pending = this.inFlight.get(clientOrderId);
    if (pending) return pending.then((o) => ({ ...o }));
    const fill = this.fill(clientOrderId, audCents).finally(() => this.inFlight.delete(clientOrderId));
    this.inFlight.set(clientOrderId, fill);
    return fill.then((o) => ({ ...o }));
  }

  async placeMarketSell(clientOrderId: string, sats: bigint): Promise<ExchangeOrder> {
    assertClientOrderId('paper', clientOrderId);
    assertPositiveSats('paper', sats);
    const existing = this.orders.get(clientOrderId);
    if (existing) return { ...existing };
    const pending = this.inFlight.get(clientOrderId);
    if (pending) return pending.then((o) => ({ ...o }));
    const fill = this.fillSell(clientOrderId, sats).finally(() => this.inFlight.delete(clientOrderId));
    this.inFlight.set(clientOrderId, fill);
    return fill.then((o) => ({ ...o }));
  }

  async getOrder(clientOrderId: string): Promise<ExchangeOrder | null> {
    await this.simulateNetwork();
    const order = this.orders.get(clientOrderId);
    return order ? { ...order } : null;
  }

  async health(): Promise<HealthStatus> {
    try {
      await this.price();
      return { ok: true };
    } catch (err) {
      return { ok: false, detail: err instanceof ExchangeError ? err.kind : 'price source failed' };
    }
  }

  /** Every order held, for tests and the paper-trading UI. */
  allOrders(): ExchangeOrder[] {
    return [...this.orders.values()].map((o) => ({ ...o }));
  }

  private async fill(clientOrderId: string, audCents: bigint): Promise<ExchangeOrder> {
    await this.simulateNetwork();
    const priceText = await this.price();
    const price = parseDecimal(priceText);
    if (!price || price.coef <= 0n) {
      throw new ExchangeError({ exchange: 'paper', kind: 'INVALID_RESPONSE', message: 'price source returned a non-positive price' });
    }
    const sats = floorSats(audCents, price);
    this.sequence += 1;
    const order: ExchangeOrder = {
      exchange: 'paper',
      clientOrderId,
      exchangeOrderId: `paper-${this.sequence}`,
      status: 'FILLED',
      requestedAudCents: audCents,
      filledSats: sats,
      spentAudCents: audCents,
      feeAudCents: ceilFeeCents(audCents, this.feeBps),
      averagePrice: averagePriceAudPerBtc(audCents, sats),
      raw: { priceAudPerBtc: priceText, spentAud: centsToAud(audCents), filledAt: this.now().toISOString() },
    };
    this.orders.set(clientOrderId, order);
    return order;
  }

  private async fillSell(clientOrderId: string, sats: bigint): Promise<ExchangeOrder> {
    await this.simulateNetwork();
    const priceText = await this.price();
    const price = parseDecimal(priceText);
    if (!price || price.coef <= 0n) {
      throw new ExchangeError({ exchange: 'paper', kind: 'INVALID_RESPONSE', message: 'price source returned a non-positive price' });
    }
    // Paid out: rounded down to the cent; the fee (rounded up) comes off the proceeds.
    const gross = centsForSats(sats, price, 'floor');
    this.sequence += 1;
    const order: ExchangeOrder = {
      exchange: 'paper',
      side: 'sell',
      clientOrderId,
      exchangeOrderId: `paper-${this.sequence}`,
      status: 'FILLED',
      requestedAudCents: 0n,
      requestedSats: sats,
      filledSats: sats,
      spentAudCents: gross,
      feeAudCents: ceilFeeCents(gross, this.feeBps),
      averagePrice: averagePriceAudPerBtc(gross, sats),
      raw: { priceAudPerBtc: priceText, soldBtc: unitsToText(sats, 8), receivedAud: centsToAud(gross), filledAt: this.now().toISOString() },
    };
    this.orders.set(clientOrderId, order);
    return order;
  }

  private async price(): Promise<string> {
    let text: string;
    try {
      text = await this.opts.priceSource();
    } catch (err) {
      throw new ExchangeError({ exchange: 'paper', kind: 'UNAVAILABLE', message: 'price source failed', cause: err });
    }
    if (typeof text !== 'string' || !/^(0|[1-9]\d*)(\.\d+)?$/.test(text) || /^0(\.0+)?$/.test(text)) {
      throw new ExchangeError({ exchange: 'paper', kind: 'INVALID_RESPONSE', message: 'price source returned a non-decimal price' });
    }
    return text;
  }

  private async simulateNetwork(): Promise<void> {
    if (this.latencyMs > 0) await this.wait(this.latencyMs);
    // Strict "<" so failureRate 0 never fails and 1 always does.
    if (this.failureRate > 0 && this.rng() < this.failureRate) {
      throw new ExchangeError({ exchange: 'paper', kind: 'UNAVAILABLE', message: 'simulated outage' });
    }
  }
}
