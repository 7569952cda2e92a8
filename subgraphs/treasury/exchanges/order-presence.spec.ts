import type { ExchangeName } from './exchange.types';
import { exchangesThatMayHold, routeFailureVerdict, type AttemptEvidence } from './order-presence';

const a = (spec: string): AttemptEvidence => {
  const [exchange, operation, outcome, unknown] = spec.split(':');
  return { exchange, operation, outcome, outcomeUnknown: unknown === 'unknown' } as AttemptEvidence;
};
const mayHold = (specs: string[], prior: ExchangeName[] = []): ExchangeName[] => exchangesThatMayHold(specs.map(a), prior);

describe('exchangesThatMayHold', () => {
  it('an intent alone (the worker died before the answer) leaves the exchange in doubt', () => {
    expect(mayHold(['kraken:lookup:NOT_FOUND', 'kraken:place:IN_DOUBT:unknown'])).toEqual(['kraken']);
  });

  it('placed or found: in doubt (it holds the order) until settled', () => {
    expect(mayHold(['kraken:place:IN_DOUBT:unknown', 'kraken:place:PLACED'])).toEqual(['kraken']);
    expect(mayHold(['swyftx:lookup:FOUND_EXISTING'])).toEqual(['swyftx']);
  });

  it('a definite refusal undoes its own intent, and nothing more', () => {
    expect(mayHold(['kraken:lookup:NOT_FOUND', 'kraken:place:IN_DOUBT:unknown', 'kraken:place:FAILED'])).toEqual([]);
    // Already in doubt from an earlier run (and not cleared by a recorded lookup): a refusal now proves nothing about then.
    expect(mayHold(['kraken:place:IN_DOUBT:unknown', 'kraken:place:FAILED'], ['kraken'])).toEqual(['kraken']);
  });

  it('an ambiguous failure (502, timeout) keeps the doubt; only a reconcile that said NOT_FOUND clears it', () => {
    expect(mayHold(['kraken:place:IN_DOUBT:unknown', 'kraken:place:FAILED:unknown'])).toEqual(['kraken']);
    expect(mayHold(['kraken:place:IN_DOUBT:unknown', 'kraken:place:FAILED:unknown', 'kraken:reconcile:FAILED'])).toEqual(['kraken']);
    expect(mayHold(['kraken:place:IN_DOUBT:unknown', 'kraken:place:FAILED:unknown', 'kraken:reconcile:NOT_FOUND'])).toEqual([]);
  });

  it('an open breaker, a missing adapter or a failed lookup are not answers', () => {
    expect(mayHold(['kraken:lookup:SKIPPED_CIRCUIT_OPEN'], ['kraken'])).toEqual(['kraken']);
    expect(mayHold(['kraken:lookup:SKIPPED_NOT_CONFIGURED'], ['kraken'])).toEqual(['kraken']);
    expect(mayHold(['kraken:lookup:FAILED'], ['kraken'])).toEqual(['kraken']);
    expect(mayHold(['kraken:lookup:NOT_FOUND'], ['kraken'])).toEqual([]);
  });

  it('reads a whole trail across runs: a crash, then a retry that confirmed nothing, then one that did', () => {
    const crashed = ['kraken:lookup:NOT_FOUND', 'kraken:place:IN_DOUBT:unknown'];
    const breakerOpen = ['kraken:lookup:SKIPPED_CIRCUIT_OPEN'];
    expect(mayHold([...crashed, ...breakerOpen])).toEqual(['kraken']);
    expect(mayHold([...crashed, ...breakerOpen, 'kraken:lookup:NOT_FOUND'])).toEqual([]);
  });

  it('legacy rows (no intent before the outcome) keep their meaning', () => {
    expect(mayHold(['zerocap:place:PLACED'])).toEqual(['zerocap']);
    expect(mayHold(['zerocap:place:FAILED:unknown'])).toEqual(['zerocap']);
    expect(mayHold(['zerocap:place:FAILED'])).toEqual([]);
  });
});

describe('routeFailureVerdict', () => {
  it('never gives up while an order may exist, whatever the kind, even on the last attempt', () => {
    for (const kind of ['REJECTED', 'AUTH', 'UNAVAILABLE', 'NO_ROUTE', 'CIRCUIT_OPEN', 'OUTCOME_UNKNOWN'] as const) {
      expect(routeFailureVerdict({ kind, mayHold: ['kraken'], finalAttempt: true }).action).toBe('retry');
    }
  });

  it('a definite rejection with nothing placed anywhere fails at once', () => {
    expect(routeFailureVerdict({ kind: 'REJECTED', mayHold: [], finalAttempt: false }).action).toBe('fail');
    expect(routeFailureVerdict({ kind: 'AUTH', mayHold: [], finalAttempt: false }).action).toBe('fail');
  });

  it('an open breaker (or an intent that could not be written) means later, never FAILED', () => {
    expect(routeFailureVerdict({ kind: 'CIRCUIT_OPEN', mayHold: [], finalAttempt: true }).action).toBe('retry');
    expect(routeFailureVerdict({ kind: 'INTENT_NOT_RECORDED', mayHold: [], finalAttempt: true }).action).toBe('retry');
  });

  it('an exchange that answered "unavailable": retry with backoff, FAILED only on the last attempt', () => {
    expect(routeFailureVerdict({ kind: 'UNAVAILABLE', mayHold: [], finalAttempt: false }).action).toBe('retry');
    expect(routeFailureVerdict({ kind: 'UNAVAILABLE', mayHold: [], finalAttempt: true }).action).toBe('fail');
    expect(routeFailureVerdict({ kind: 'NO_ROUTE', mayHold: [], finalAttempt: true }).action).toBe('fail');
  });

  it('a failure outside the router is retried', () => {
    expect(routeFailureVerdict({ kind: null, mayHold: [], finalAttempt: true }).action).toBe('retry');
  });
});
