/**
 * The exactly-once rule, in one place for the router and the purchase executor: which exchanges
 * may hold an order under a clientOrderId, and whether a purchase whose route failed may be given
 * up (FAILED, its money back) or must be tried again later.
 *
 * An exchange may hold the order from the moment a placement is about to be sent (the in-doubt
 * intent, written before the request leaves), once it was placed, and once a lookup found it. Only
 * an answer from that exchange clears it: a lookup that ran and said NOT_FOUND, or a placement the
 * exchange definitely refused (which undoes its own intent, nothing more). An open breaker, an
 * exchange this worker has no credentials for, or a lookup that failed are not answers.
 */
import type { ExchangeName } from './exchange.types';
import type { AttemptOperation, AttemptOutcome, RoutingErrorKind } from './exchange-router';

/** What one recorded attempt says; the executor reads these back from `exchange_attempt`, in order. */
export type AttemptEvidence = {
  exchange: ExchangeName;
  operation: AttemptOperation;
  outcome: AttemptOutcome;
  outcomeUnknown?: boolean;
};

/**
 * Exchanges that may hold the order after `attempts` (oldest first), starting from `prior` (the
 * exchanges earlier attempts left in doubt). Order of the result: first time each was in doubt.
 */
export function exchangesThatMayHold(attempts: readonly AttemptEvidence[], prior: readonly ExchangeName[] = []): ExchangeName[] {
  const may = new Set<ExchangeName>(prior);
  // Whether the exchange was already in doubt when its latest intent was written.
  const beforeIntent = new Map<ExchangeName, boolean>();
  for (const a of attempts) {
    const x = a.exchange;
    if (a.operation === 'lookup' || a.operation === 'reconcile') {
      if (a.outcome === 'NOT_FOUND') may.delete(x);
      else if (a.outcome === 'FOUND_EXISTING') may.add(x);
      continue;
    }
    // operation === 'place'
    if (a.outcome === 'IN_DOUBT') {
      beforeIntent.set(x, may.has(x));
      may.add(x);
    } else if (a.outcome === 'PLACED' || (a.outcome === 'FAILED' && a.outcomeUnknown === true)) {
      may.add(x);
      beforeIntent.delete(x);
    } else if (a.outcome === 'FAILED') {
      // A definite refusal created nothing: the exchange is back where it was before this placement.
      const was = beforeIntent.get(x);
      if (was === false) may.delete(x);
      beforeIntent.delete(x);
    }
  }
  return [...may];
}

export type RouteFailure = {
  /** The router's kind, or null when the failure was not a routing error (a crash, a database error). */
  kind: RoutingErrorKind | null;
  /** Exchanges that may hold the order now (exchangesThatMayHold over everything recorded). */
  mayHold: readonly ExchangeName[];
  /** The queue's last try for this job. */
  finalAttempt: boolean;
};

export type Verdict = { action: 'fail'; why: string } | { action: 'retry'; why: string };

/** Kinds where the exchange answered "no" to a well-formed request: nothing to wait for. */
const DEFINITE: ReadonlySet<RoutingErrorKind> = new Set<RoutingErrorKind>(['REJECTED', 'AUTH']);
/** Kinds where no exchange was asked at all (an open breaker, no durable intent): always later. */
const NOT_ASKED: ReadonlySet<RoutingErrorKind> = new Set<RoutingErrorKind>(['CIRCUIT_OPEN', 'INTENT_NOT_RECORDED']);

/**
 * Whether a purchase whose route failed may become FAILED (money back to its rule) or must wait:
 * never while any exchange may hold its order; at once for a definite rejection; after an exchange
 * actually refused on the last attempt; never because of an open breaker alone.
 */
export function routeFailureVerdict(f: RouteFailure): Verdict {
  if (f.mayHold.length > 0) return { action: 'retry', why: `an order may exist on ${f.mayHold.join(', ')}: waiting for its answer` };
  if (f.kind === null) return { action: 'retry', why: 'unexpected failure: retrying' };
  if (DEFINITE.has(f.kind)) return { action: 'fail', why: `${f.kind}: nothing was placed` };
  if (NOT_ASKED.has(f.kind)) return { action: 'retry', why: `${f.kind}: no exchange was asked, trying later` };
  return f.finalAttempt ? { action: 'fail', why: `${f.kind} on the last attempt, nothing placed` } : { action: 'retry', why: `${f.kind}: retrying with backoff` };
}
