import { CircuitBreaker } from './circuit-breaker';

describe('CircuitBreaker', () => {
  let t = 0;
  const make = () => new CircuitBreaker({ failureThreshold: 3, coolDownMs: 10_000, now: () => t });
  beforeEach(() => {
    t = 1_000;
  });

  it('stays closed below the threshold and resets on success', () => {
    const b = make();
    b.recordFailure();
    b.recordFailure();
    b.recordSuccess();
    b.recordFailure();
    b.recordFailure();
    expect(b.state).toBe('CLOSED');
    expect(b.tryAcquire()).toBe(true);
  });

  it('opens after threshold consecutive failures and refuses calls during the cool-down', () => {
    const b = make();
    for (let i = 0; i < 3; i++) b.recordFailure();
    expect(b.state).toBe('OPEN');
    expect(b.tryAcquire()).toBe(false);
    t += 9_999;
    expect(b.tryAcquire()).toBe(false);
  });

  it('half-opens after the cool-down, letting exactly one trial through; success closes it', () => {
    const b = make();
    for (let i = 0; i < 3; i++) b.recordFailure();
    t += 10_000;
    expect(b.state).toBe('HALF_OPEN');
    expect(b.tryAcquire()).toBe(true);
    expect(b.tryAcquire()).toBe(false);
    b.recordSuccess();
    expect(b.state).toBe('CLOSED');
    expect(b.tryAcquire()).toBe(true);
  });

  it('a failed trial re-opens for another full cool-down', () => {
    const b = make();
    for (let i = 0; i < 3; i++) b.recordFailure();
    t += 10_000;
    expect(b.tryAcquire()).toBe(true);
    b.recordFailure();
    expect(b.state).toBe('OPEN');
    t += 5_000;
    expect(b.tryAcquire()).toBe(false);
    t += 5_000;
    expect(b.state).toBe('HALF_OPEN');
  });

  it('validates its options', () => {
    expect(() => new CircuitBreaker({ failureThreshold: 0, coolDownMs: 1 })).toThrow(RangeError);
    expect(() => new CircuitBreaker({ failureThreshold: 1, coolDownMs: -1 })).toThrow(RangeError);
  });
});

describe('CircuitBreaker.release', () => {
  it('gives back a half-open trial that was never made, so the next caller gets it; the state is unchanged', () => {
    let t = 0;
    const b = new CircuitBreaker({ failureThreshold: 1, coolDownMs: 100, now: () => t });
    b.recordFailure();
    t = 100;
    expect(b.tryAcquire()).toBe(true);
    expect(b.tryAcquire()).toBe(false);
    b.release();
    expect(b.state).toBe('HALF_OPEN');
    expect(b.tryAcquire()).toBe(true);
  });
});
