import { log } from '../../../lib/logger';
import { multiplyDecimal, textToUnits, unitsToText } from '../../../lib/money';
import type { PriceFeed, SourceQuote } from './price-feed.types';

export type SimulatedFeedOptions = {
  seed: number;
  intervalMs: number;
  /** Starting BTC/AUD price, at most 2 decimals. */
  startPriceAud?: string;
  /** USD per 1 AUD, exact decimal string; USD quotes are AUD × rate rounded half-even to cents. */
  audUsdRate?: string;
  /** Largest move per tick, in basis points. */
  maxStepBps?: number;
  now?: () => Date;
};

/** mulberry32: tiny seeded PRNG returning uint32s; deterministic for a given seed on every platform. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** A deterministic random walk in integer cents: same seed, same prices, so demos and tests are reproducible. */
export class SimulatedFeed implements PriceFeed {
  readonly source = 'SIMULATED' as const;
  private readonly next: () => number;
  private readonly maxStepBps: number;
  private readonly audUsdRate: string;
  private readonly now: () => Date;
  private cents: bigint;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: SimulatedFeedOptions) {
    if (!(options.intervalMs > 0)) throw new RangeError('intervalMs must be positive');
    this.next = mulberry32(options.seed);
    this.maxStepBps = options.maxStepBps ?? 25;
    if (!Number.isInteger(this.maxStepBps) || this.maxStepBps < 0 || this.maxStepBps > 10_000) throw new RangeError('maxStepBps must be 0..10000');
    this.audUsdRate = options.audUsdRate ?? '0.65';
    this.cents = textToUnits(options.startPriceAud ?? '150000.00', 2, 'exact');
    if (this.cents <= 0n) throw new RangeError('startPriceAud must be positive');
    textToUnits(this.audUsdRate, 12, 'exact'); // validates the rate up front
    this.now = options.now ?? (() => new Date());
  }

  /** Current AUD and USD quotes without advancing the walk. */
  current(at: Date = this.now()): SourceQuote[] {
    const aud = unitsToText(this.cents, 2);
    return [
      { source: this.source, currency: 'AUD', price: aud, at },
      { source: this.source, currency: 'USD', price: multiplyDecimal(aud, this.audUsdRate, 2), at },
    ];
  }

  /** Advances one step: a uniform move of −maxStepBps..+maxStepBps, truncated to whole cents, floored at 1 cent. */
  step(at: Date = this.now()): SourceQuote[] {
    const span = 2 * this.maxStepBps + 1;
    const bps = BigInt((this.next() % span) - this.maxStepBps);
    const moved = this.cents + (this.cents * bps) / 10_000n;
    this.cents = moved < 1n ? 1n : moved;
    return this.current(at);
  }

  /** Emits the starting price at once, then one step every intervalMs. */
  async start(onQuote: (q: SourceQuote) => void): Promise<void> {
    if (this.timer) throw new Error('SIMULATED feed already started');
    const emit = (quotes: SourceQuote[]): void => {
      for (const q of quotes) {
        try {
          onQuote(q);
        } catch (err) {
          log().error({ err, source: this.source }, 'price quote handler threw');
        }
      }
    };
    this.timer = setInterval(() => emit(this.step()), this.options.intervalMs);
    emit(this.current());
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
