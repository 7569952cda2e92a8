export type CircuitState = 'CLOSED' | 'OPEN' | 'HALF_OPEN';

export type CircuitBreakerOptions = {
  /** Consecutive failures that open the circuit. */
  failureThreshold: number;
  /** How long the circuit stays open before one trial call is let through. */
  coolDownMs: number;
  /** Milliseconds clock; injected so tests can move time. */
  now?: () => number;
};

/**
 * Closed → (failureThreshold consecutive failures) → open → (coolDownMs) → half-open, where a
 * single trial call decides: success closes, failure re-opens for another cool-down.
 */
export class CircuitBreaker {
  private current: CircuitState = 'CLOSED';
  private failures = 0;
  private openedAt = 0;
  private trialInFlight = false;
  private readonly now: () => number;

  constructor(private readonly opts: CircuitBreakerOptions) {
    if (!Number.isInteger(opts.failureThreshold) || opts.failureThreshold < 1) throw new RangeError('failureThreshold must be >= 1');
    if (!(opts.coolDownMs >= 0)) throw new RangeError('coolDownMs must be >= 0');
    this.now = opts.now ?? Date.now;
  }

  /** The state as of now (an open circuit past its cool-down reads as half-open). */
  get state(): CircuitState {
    if (this.current === 'OPEN' && this.now() - this.openedAt >= this.opts.coolDownMs) return 'HALF_OPEN';
    return this.current;
  }

  /** Asks to make a call. In half-open only one caller gets a yes until it reports back. */
  tryAcquire(): boolean {
    const state = this.state;
    if (state === 'CLOSED') return true;
    if (state === 'OPEN') return false;
    if (this.trialInFlight) return false;
    this.current = 'HALF_OPEN';
    this.trialInFlight = true;
    return true;
  }

  /** Gives back a call that was acquired but never made (nothing learnt about the exchange). */
  release(): void {
    this.trialInFlight = false;
  }

  recordSuccess(): void {
    this.current = 'CLOSED';
    this.failures = 0;
    this.trialInFlight = false;
  }

  recordFailure(): void {
    this.trialInFlight = false;
    if (this.current === 'HALF_OPEN') {
      this.open();
      return;
    }
    this.failures += 1;
    if (this.failures >= this.opts.failureThreshold) this.open();
  }

  private open(): void {
    this.current = 'OPEN';
    this.openedAt = this.now();
    this.failures = 0;
  }
}
