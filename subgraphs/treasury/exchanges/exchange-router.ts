/**
 * Routes a tenant's market buy to an exchange: primary first, then the failover list, skipping
 * exchanges whose circuit is open. Exactly-once: before placing anywhere it asks every exchange in
 * the route (and any the caller says may hold it) whether an order with this clientOrderId
 * already exists, and returns that order instead of buying twice. Before a placement request
 * leaves, its intent is recorded as in doubt; if that record cannot be written, nothing is sent.
 *
 * Only UNAVAILABLE and RATE_LIMITED move on to the next exchange. REJECTED, AUTH and
 * INVALID_RESPONSE stop the route: money never silently goes elsewhere because of a bad request or
 * bad credentials. A placement whose outcome is unknown (timeout, 502) is reconciled on the same
 * exchange before failing over; if that cannot be confirmed, routing stops. Which exchanges may
 * hold the order is decided by one rule shared with the executor (`order-presence.ts`).
 */
import { log } from '../../../lib/logger';
import { CircuitBreaker, type CircuitBreakerOptions } from './circuit-breaker';
import {
  FAILOVER_KINDS,
  isExchangeError,
  type ExchangeAdapter,
  type ExchangeErrorKind,
  type ExchangeName,
  type ExchangeOrder,
} from './exchange.types';
import { exchangesThatMayHold } from './order-presence';

export type RoutingPolicy = { primary: ExchangeName; failover: ExchangeName[] };

/** Platform default: ZeroCap, then Swyftx. */
export const PLATFORM_DEFAULT_POLICY: RoutingPolicy = { primary: 'zerocap', failover: ['swyftx'] };

/** A tenant's (possibly partial) policy → the ordered, de-duplicated list of exchanges to try. */
export function resolveRoute(tenantPolicy?: Partial<RoutingPolicy> | null): ExchangeName[] {
  const primary = tenantPolicy?.primary ?? PLATFORM_DEFAULT_POLICY.primary;
  const failover = tenantPolicy?.failover ?? [PLATFORM_DEFAULT_POLICY.primary, ...PLATFORM_DEFAULT_POLICY.failover];
  return [...new Set([primary, ...failover])];
}

export type AttemptOperation = 'lookup' | 'place' | 'reconcile';
/** IN_DOUBT: a placement about to be sent (recorded before the request leaves; outcomeUnknown until answered). */
export type AttemptOutcome = 'FOUND_EXISTING' | 'NOT_FOUND' | 'IN_DOUBT' | 'PLACED' | 'FAILED' | 'SKIPPED_CIRCUIT_OPEN' | 'SKIPPED_NOT_CONFIGURED';

export type RoutingAttempt = {
  exchange: ExchangeName;
  clientOrderId: string;
  operation: AttemptOperation;
  outcome: AttemptOutcome;
  errorKind: ExchangeErrorKind | null;
  at: Date;
  /** Short, secret-free note: the order status when placed, or the error message. */
  detail?: string;
  /** A placement that may have executed although no good answer came (timeout, 502): reconcile there first. */
  outcomeUnknown?: boolean;
};

/**
 * Persists each attempt, durably before it resolves. An error recording an IN_DOUBT intent stops
 * that placement (it is never sent); errors recording anything else are logged, not propagated.
 */
export type AttemptRecorder = (attempt: RoutingAttempt) => void | Promise<void>;

/**
 * CIRCUIT_OPEN: every exchange that could take the order was skipped for an open breaker (try later).
 * INTENT_NOT_RECORDED: the in-doubt record could not be written, so nothing was sent (try later).
 * NO_ROUTE: no exchange in the route is configured or confirmed clean.
 */
export type RoutingErrorKind = ExchangeErrorKind | 'OUTCOME_UNKNOWN' | 'NO_ROUTE' | 'CIRCUIT_OPEN' | 'INTENT_NOT_RECORDED' | 'UNEXPECTED';

export class RoutingError extends Error {
  readonly kind: RoutingErrorKind;
  readonly attempts: RoutingAttempt[];
  /** Exchanges that may hold the order (order-presence rule over the prior ones and these attempts). */
  readonly mayHold: ExchangeName[];
  /** True when an order may exist somewhere; reconcile (retry with the same id) before anything else. */
  readonly outcomeUnknown: boolean;

  constructor(kind: RoutingErrorKind, message: string, attempts: RoutingAttempt[], mayHold: ExchangeName[], cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'RoutingError';
    this.kind = kind;
    this.attempts = attempts;
    this.mayHold = mayHold;
    this.outcomeUnknown = mayHold.length > 0;
  }
}

export type MarketBuyRequest = {
  clientOrderId: string;
  audCents: bigint;
  /** The tenant's policy; missing parts fall back to the platform default. */
  policy?: Partial<RoutingPolicy> | null;
  /** Exchanges that may hold this clientOrderId (exchangesThatMayHold over the attempt log). Any of them not confirmed clean blocks placement. */
  priorExchanges?: ExchangeName[];
};

export type MarketBuyResult = { order: ExchangeOrder; attempts: RoutingAttempt[]; reconciled: boolean };

/** A market sell of `sats`, routed with the same lookup-before-place and in-doubt rules as a buy. */
export type MarketSellRequest = Omit<MarketBuyRequest, 'audCents'> & { sats: bigint };
export type MarketSellResult = MarketBuyResult;

/** What one side places on an adapter once the route says the order exists nowhere. */
type Placement = { clientOrderId: string; policy?: Partial<RoutingPolicy> | null; priorExchanges?: ExchangeName[]; place: (adapter: ExchangeAdapter) => Promise<ExchangeOrder> };

export type ExchangeRouterOptions = {
  adapters: Partial<Record<ExchangeName, ExchangeAdapter>>;
  recorder: AttemptRecorder;
  /** Defaults: 3 consecutive failures open a breaker for 30 s. */
  breaker?: Partial<Omit<CircuitBreakerOptions, 'now'>>;
  /** Milliseconds clock shared by the breakers and attempt timestamps. */
  now?: () => number;
};

const DEFAULT_BREAKER = { failureThreshold: 3, coolDownMs: 30_000 };

type Lookup = 'absent' | 'unreachable';

export class ExchangeRouter {
  private readonly breakers = new Map<ExchangeName, CircuitBreaker>();
  private readonly now: () => number;
  // Concurrent requests for one clientOrderId in this process share a single route.
  private readonly inFlight = new Map<string, Promise<MarketBuyResult>>();

  constructor(private readonly opts: ExchangeRouterOptions) {
    this.now = opts.now ?? Date.now;
  }

  breakerFor(exchange: ExchangeName): CircuitBreaker {
    let b = this.breakers.get(exchange);
    if (!b) {
      b = new CircuitBreaker({ ...DEFAULT_BREAKER, ...this.opts.breaker, now: this.now });
      this.breakers.set(exchange, b);
    }
    return b;
  }

  placeMarketBuy(req: MarketBuyRequest): Promise<MarketBuyResult> {
    const { audCents } = req;
    return this.once({ ...req, place: (adapter) => adapter.placeMarketBuy(req.clientOrderId, audCents) });
  }

  /** Same machinery as a buy: a sell is looked up everywhere it may exist before it is placed once. */
  placeMarketSell(req: MarketSellRequest): Promise<MarketSellResult> {
    const { sats } = req;
    return this.once({ ...req, place: (adapter) => adapter.placeMarketSell(req.clientOrderId, sats) });
  }

  private once(req: Placement): Promise<MarketBuyResult> {
    const running = this.inFlight.get(req.clientOrderId);
    if (running) return running;
    const p = this.route(req).finally(() => this.inFlight.delete(req.clientOrderId));
    this.inFlight.set(req.clientOrderId, p);
    return p;
  }

  private async route(req: Placement): Promise<MarketBuyResult> {
    const { clientOrderId } = req;
    const attempts: RoutingAttempt[] = [];
    const prior = req.priorExchanges ?? [];
    // Strictly increasing within a route, so a trail listed by time shows the intent before its outcome.
    let lastAt = Number.NEGATIVE_INFINITY;
    const stamp = (a: Omit<RoutingAttempt, 'clientOrderId' | 'at'>): RoutingAttempt => {
      lastAt = Math.max(this.now(), lastAt + 1);
      return { ...a, clientOrderId, at: new Date(lastAt) };
    };
    const record = async (a: Omit<RoutingAttempt, 'clientOrderId' | 'at'>): Promise<void> => {
      const attempt = stamp(a);
      attempts.push(attempt);
      try {
        await this.opts.recorder(attempt);
      } catch (err) {
        log().error({ err, exchange: a.exchange, clientOrderId }, 'routing attempt recorder failed');
      }
    };
    /** The intent must be durable before the request leaves: false (and nothing recorded) if it is not. */
    const recordIntent = async (exchange: ExchangeName): Promise<boolean> => {
      const attempt = stamp({ exchange, operation: 'place', outcome: 'IN_DOUBT', errorKind: null, outcomeUnknown: true });
      try {
        await this.opts.recorder(attempt);
      } catch (err) {
        log().error({ err, exchange, clientOrderId }, 'could not record the placement intent; not placing');
        return false;
      }
      attempts.push(attempt);
      return true;
    };
    const mayHold = (): ExchangeName[] => exchangesThatMayHold(attempts, prior);
    const stop = (kind: RoutingErrorKind, message: string, cause?: unknown): never => {
      throw new RoutingError(kind, message, attempts, mayHold(), cause);
    };

    const route = resolveRoute(req.policy);
    const toCheck = [...new Set([...route, ...prior])];

    // Phase 1: does an order under this id already exist anywhere we might have sent it?
    const lookups = new Map<ExchangeName, Lookup>();
    let lastKind: ExchangeErrorKind | null = null;
    for (const exchange of toCheck) {
      const adapter = this.opts.adapters[exchange];
      if (!adapter) {
        await record({ exchange, operation: 'lookup', outcome: 'SKIPPED_NOT_CONFIGURED', errorKind: null });
        lookups.set(exchange, 'unreachable');
        continue;
      }
      const breaker = this.breakerFor(exchange);
      if (!breaker.tryAcquire()) {
        await record({ exchange, operation: 'lookup', outcome: 'SKIPPED_CIRCUIT_OPEN', errorKind: null });
        lookups.set(exchange, 'unreachable');
        continue;
      }
      try {
        const existing = await adapter.getOrder(clientOrderId);
        breaker.recordSuccess();
        if (existing) {
          await record({ exchange, operation: 'lookup', outcome: 'FOUND_EXISTING', errorKind: null, detail: existing.status });
          return { order: existing, attempts, reconciled: true };
        }
        await record({ exchange, operation: 'lookup', outcome: 'NOT_FOUND', errorKind: null });
        lookups.set(exchange, 'absent');
      } catch (err) {
        const kind = this.account(breaker, err);
        await record({ exchange, operation: 'lookup', outcome: 'FAILED', errorKind: kind, detail: messageOf(err) });
        if (kind === null || !FAILOVER_KINDS.has(kind)) {
          stop(kind ?? 'UNEXPECTED', `order lookup on ${exchange} failed: ${messageOf(err)}`, err);
        }
        lastKind = kind;
        lookups.set(exchange, 'unreachable');
      }
    }
    const unconfirmed = mayHold();
    if (unconfirmed.length > 0) {
      stop('OUTCOME_UNKNOWN', `cannot confirm whether ${unconfirmed.join(', ')} already holds order ${clientOrderId}`);
    }

    // Phase 2: place on the first exchange that is confirmed clean and will take it.
    for (const exchange of route) {
      const adapter = this.opts.adapters[exchange];
      if (!adapter || lookups.get(exchange) !== 'absent') continue;
      const breaker = this.breakerFor(exchange);
      if (!breaker.tryAcquire()) {
        await record({ exchange, operation: 'place', outcome: 'SKIPPED_CIRCUIT_OPEN', errorKind: null });
        continue;
      }
      if (!(await recordIntent(exchange))) {
        breaker.release();
        stop('INTENT_NOT_RECORDED', `could not record the intent to place order ${clientOrderId} on ${exchange}; nothing was sent`);
      }
      try {
        const order = await req.place(adapter);
        breaker.recordSuccess();
        await record({ exchange, operation: 'place', outcome: 'PLACED', errorKind: null, detail: order.status });
        return { order, attempts, reconciled: false };
      } catch (err) {
        const kind = this.account(breaker, err);
        // Only an exchange's own answer says whether the order was made; anything else leaves it in doubt.
        const unknown = !isExchangeError(err) || err.outcomeUnknown;
        await record({ exchange, operation: 'place', outcome: 'FAILED', errorKind: kind, detail: messageOf(err), outcomeUnknown: unknown });
        if (kind === null || !FAILOVER_KINDS.has(kind)) {
          stop(kind ?? 'UNEXPECTED', `placing on ${exchange} failed: ${messageOf(err)}`, err);
        }
        lastKind = kind;
        if (unknown) {
          // The buy may have gone through: only a confirmed "no such order" lets us go elsewhere.
          try {
            const existing = await adapter.getOrder(clientOrderId);
            if (existing) {
              await record({ exchange, operation: 'reconcile', outcome: 'FOUND_EXISTING', errorKind: null, detail: existing.status });
              return { order: existing, attempts, reconciled: true };
            }
            await record({ exchange, operation: 'reconcile', outcome: 'NOT_FOUND', errorKind: null });
          } catch (lookupErr) {
            const lk = isExchangeError(lookupErr) ? lookupErr.kind : null;
            await record({ exchange, operation: 'reconcile', outcome: 'FAILED', errorKind: lk, detail: messageOf(lookupErr) });
            stop('OUTCOME_UNKNOWN', `order ${clientOrderId} may have been placed on ${exchange}; not failing over`, lookupErr);
          }
        }
        log().warn({ exchange, clientOrderId, kind }, 'exchange unavailable, failing over');
      }
    }
    // Nothing answered "no": if an open breaker is why, that means later, not never.
    const breakerOpen = attempts.some((a) => a.outcome === 'SKIPPED_CIRCUIT_OPEN' && route.includes(a.exchange));
    return stop(lastKind ?? (breakerOpen ? 'CIRCUIT_OPEN' : 'NO_ROUTE'), `no exchange could take order ${clientOrderId}`);
  }

  /** Feeds the breaker: only health failures count against an exchange that answered. */
  private account(breaker: CircuitBreaker, err: unknown): ExchangeErrorKind | null {
    if (!isExchangeError(err)) {
      breaker.recordFailure();
      return null;
    }
    if (err.kind === 'UNAVAILABLE' || err.kind === 'RATE_LIMITED' || err.kind === 'INVALID_RESPONSE') breaker.recordFailure();
    else breaker.recordSuccess();
    return err.kind;
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message.slice(0, 200) : 'unknown error';
}
