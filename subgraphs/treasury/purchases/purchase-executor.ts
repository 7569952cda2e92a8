import { randomUUID } from 'node:crypto';
import type { TenantTransactions, TenantTx } from '../../../lib/db/tenant-tx';
import { log } from '../../../lib/logger';
import {
  ExchangeRouter,
  RoutingError,
  type AttemptOperation,
  type AttemptOutcome,
  type ExchangeRouterOptions,
  type RoutingAttempt,
  type RoutingPolicy,
} from '../exchanges/exchange-router';
import type { ExchangeAdapter, ExchangeName, ExchangeOrder } from '../exchanges/exchange.types';
import { exchangesThatMayHold, routeFailureVerdict } from '../exchanges/order-presence';
import { returnUnspent } from '../ledger/accrual-ledger';
import { readTreasurySettings } from '../settings/treasury-settings';
import { AmlReason, amlReasonOf } from '../../compliance/aml/errors';
import { assertRouteAllowed } from '../kyb/kyb-gate';
import { LeaseLost, PurchaseStatus, TERMINAL, transitionPurchase } from './purchase-state';
import { recordAcquisitionFact } from './tax-facts';
import { recordPurchaseNotice } from './purchase-notices';
import { lockPurchase, parkWorkingOrder, releaseLease, takeLease, type PurchaseRow } from './purchase.repository';

export type ExecutorOptions = {
  /** The one way into a tenant: each step of an execution is its own committed tenant transaction. */
  tenants: TenantTransactions;
  /** The exchanges this worker can reach; paper is the default route. */
  adapters: Partial<Record<ExchangeName, ExchangeAdapter>>;
  breaker?: ExchangeRouterOptions['breaker'];
  /** How long one worker owns a purchase while it talks to exchanges (database clock); a crashed worker's lease lapses. */
  leaseMs: number;
  /** The clock of breakers and attempt times (never of leases: those are the database's). */
  now?: () => Date;
};

/** A claimed purchase: the row and this worker's fencing token. */
type Claimed = PurchaseRow & { owner: string };

/** Thrown to have the job retried later (the purchase is not finished and nothing is lost). */
export class RetryLater extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RetryLater';
  }
}

export type ExecuteResult = { status: PurchaseStatus; reconciled?: boolean };

/**
 * Runs one purchase to a final state, exactly once at the exchange:
 *   claim (lease) → PENDING→SUBMITTED committed → router (lookup by clientOrderId, in-doubt intent
 *   committed, then place) → FILLED | PARTIALLY_FILLED | FAILED committed with holdings, fees, audit
 *   and a live event. If the process dies anywhere, the next attempt reconciles by clientOrderId
 *   before placing; a purchase whose order may exist is never FAILED (order-presence.ts).
 */
export class PurchaseExecutor {
  private readonly leaseMs: number;
  private readonly now: () => Date;
  readonly router: ExchangeRouter;
  /** clientOrderId → the purchase being routed, so each attempt is stored in its tenant's trail. */
  private readonly routing = new Map<string, { tenantId: string; purchaseId: string }>();

  constructor(private readonly opts: ExecutorOptions) {
    this.leaseMs = opts.leaseMs;
    this.now = opts.now ?? (() => new Date());
    this.router = new ExchangeRouter({ adapters: opts.adapters, breaker: opts.breaker, recorder: (a) => this.record(a), now: () => this.now().getTime() });
  }

  private tx<T>(tenantId: string, fn: (tx: TenantTx) => Promise<T>): Promise<T> {
    return this.opts.tenants.run(tenantId, fn);
  }

  /**
   * `finalAttempt`: when the exchanges still cannot take the order, fail the purchase (returning
   * its amount to the rule's accrual) instead of asking for another retry.
   */
  async execute(tenantId: string, purchaseId: string, finalAttempt: boolean): Promise<ExecuteResult> {
    const claim = await this.tx(tenantId, (tx) => this.claim(tx, purchaseId));
    if (claim.kind === 'done') return { status: claim.status };
    if (claim.kind === 'busy') throw new RetryLater(`purchase ${purchaseId} is being executed by another worker`);

    const { purchase, policy, prior } = claim;
    if (claim.kybRefusal !== null) {
      // KYB gate (#11): nothing was sent anywhere; the purchase fails with the gate's reason.
      try {
        await this.finish(tenantId, purchase, PurchaseStatus.FAILED, claim.kybRefusal, null);
      } catch (e) {
        if (e instanceof LeaseLost) throw new RetryLater(e.message);
        throw e;
      }
      return { status: PurchaseStatus.FAILED };
    }
    this.routing.set(purchase.client_order_id, { tenantId, purchaseId });
    try {
      const result = await this.router.placeMarketBuy({
        clientOrderId: purchase.client_order_id,
        audCents: BigInt(purchase.amount_aud_cents),
        policy,
        priorExchanges: prior,
      });
      return await this.settle(tenantId, purchase, result.order, result.reconciled);
    } catch (err) {
      if (err instanceof RetryLater) throw err;
      // Another worker owns it now: this one changes nothing and lets the queue look again later.
      if (err instanceof LeaseLost) throw new RetryLater(err.message);
      const routing = err instanceof RoutingError ? err : null;
      const verdict = routeFailureVerdict({
        kind: routing?.kind ?? null,
        // A failure outside the router (kind null: e.g. while settling) is always retried.
        mayHold: routing ? routing.mayHold : prior,
        finalAttempt,
      });
      const reason = routing ? `${routing.kind}: ${routing.message}` : `unexpected: ${(err as Error).message}`;
      if (verdict.action === 'fail') {
        try {
          await this.finish(tenantId, purchase, PurchaseStatus.FAILED, reason, null);
        } catch (e) {
          if (e instanceof LeaseLost) throw new RetryLater(e.message);
          throw e;
        }
        return { status: PurchaseStatus.FAILED };
      }
      await this.release(tenantId, purchase);
      throw new RetryLater(`${reason} (${verdict.why})`);
    } finally {
      this.routing.delete(purchase.client_order_id);
    }
  }

  private async claim(
    tx: TenantTx,
    purchaseId: string,
  ): Promise<
    | { kind: 'done'; status: PurchaseStatus }
    | { kind: 'busy' }
    | { kind: 'go'; purchase: Claimed; policy: Partial<RoutingPolicy>; prior: ExchangeName[]; kybRefusal: string | null }
  > {
    const { em } = tx;
    const p = await lockPurchase(em, purchaseId);
    if (!p) return { kind: 'done', status: PurchaseStatus.CANCELLED };
    if (TERMINAL.has(p.status)) return { kind: 'done', status: p.status };
    if (p.leased) return { kind: 'busy' };
    const purchase: Claimed = { ...p, owner: await takeLease(em, p.id, this.leaseMs) };
    if (p.status === PurchaseStatus.PENDING) {
      // Committed before any exchange call: from here on a restart reconciles instead of assuming nothing happened.
      await this.transition(tx, purchase, PurchaseStatus.SUBMITTED, 'sent to the exchange router');
    }
    // Settings only ever hold exchange names (validated when written).
    const settings = await readTreasurySettings(em);
    const policy: Partial<RoutingPolicy> = {
      primary: settings.primaryExchange as ExchangeName,
      failover: settings.failoverExchanges as ExchangeName[],
    };
    // Exchanges that may hold this order, by the one rule the router also applies, over every attempt in the order recorded.
    const trail = await em.execute<{ exchange: ExchangeName; operation: AttemptOperation; outcome: AttemptOutcome; outcome_unknown: boolean }[]>(
      `select exchange, operation, outcome, outcome_unknown from exchange_attempt where purchase_id = ? order by seq`,
      [p.id],
    );
    const prior = exchangesThatMayHold(trail.map((r) => ({ exchange: r.exchange, operation: r.operation, outcome: r.outcome, outcomeUnknown: r.outcome_unknown })));
    // The KYB gate (#11) over the route chosen above; an order that may already exist is reconciled, never refused.
    const kybRefusal = prior.length > 0 ? null : await assertRouteAllowed(em, policy, 'PURCHASE').then(
      () => null,
      (err: unknown) => {
        if (amlReasonOf(err) !== AmlReason.KYB_NOT_VERIFIED) throw err;
        return `${AmlReason.KYB_NOT_VERIFIED}: ${(err as Error).message}`;
      },
    );
    return { kind: 'go', purchase, policy, prior, kybRefusal };
  }

  /** A move of the state machine by this worker: only while it still holds the lease (else LeaseLost). */
  private transition(tx: TenantTx, p: Claimed, to: PurchaseStatus, reason: string | null): Promise<void> {
    return transitionPurchase(tx, p, to, { reason, actorId: null, leaseOwner: p.owner });
  }

  /** Persists one routing attempt in its own committed transaction, so the trail (the intent above all) survives a crash mid-route. */
  private async record(a: RoutingAttempt): Promise<void> {
    const target = this.routing.get(a.clientOrderId);
    if (!target) throw new Error(`no purchase is being routed under ${a.clientOrderId}`);
    await this.tx(target.tenantId, ({ em }) =>
      em.execute(
        `insert into exchange_attempt (id, purchase_id, exchange, operation, outcome, error_kind, detail, at, outcome_unknown) values (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [randomUUID(), target.purchaseId, a.exchange, a.operation, a.outcome, a.errorKind, a.detail ?? null, a.at, a.outcomeUnknown === true],
      ),
    );
  }

  private async settle(tenantId: string, p: Claimed, order: ExchangeOrder, reconciled: boolean): Promise<ExecuteResult> {
    if (order.status === 'OPEN' || order.open === true) {
      const parked = await this.tx(tenantId, ({ em }) => parkWorkingOrder(em, p.id, p.owner, order));
      if (!parked) throw new LeaseLost(p.id);
      throw new RetryLater(`order ${order.exchangeOrderId} on ${order.exchange} is still working (${order.status})`);
    }
    if (order.status === 'FILLED' || (order.status === 'PARTIALLY_FILLED' && order.filledSats > 0n) || (order.status === 'CANCELLED' && order.filledSats > 0n)) {
      const status = order.status === 'FILLED' ? PurchaseStatus.FILLED : PurchaseStatus.PARTIALLY_FILLED;
      await this.finish(tenantId, p, status, reconciled ? 'reconciled with the exchange after a retry' : null, order);
      return { status, reconciled };
    }
    await this.finish(tenantId, p, PurchaseStatus.FAILED, `the exchange reported the order ${order.status.toLowerCase()} with nothing filled`, order);
    return { status: PurchaseStatus.FAILED, reconciled };
  }

  /** Final state, holdings, fees, and the unspent amount back to the rule's accrual: one transaction. */
  private async finish(tenantId: string, p: Claimed, to: PurchaseStatus, reason: string | null, order: ExchangeOrder | null): Promise<void> {
    await this.tx(tenantId, async (tx) => {
      const { em } = tx;
      const current = await lockPurchase(em, p.id);
      if (!current || TERMINAL.has(current.status)) return;
      // Fenced: a worker whose lease lapsed and was taken over writes nothing (the new owner finishes it).
      if (current.lease_owner !== p.owner) throw new LeaseLost(p.id);
      if (order) {
        await em.execute(
          `update purchase set exchange = ?, exchange_order_id = ?, filled_sats = ?, spent_aud_cents = ?, fee_aud_cents = ?, average_price = ?::numeric where id = ? and lease_owner = ?`,
          [order.exchange, order.exchangeOrderId, order.filledSats.toString(), order.spentAudCents.toString(), order.feeAudCents.toString(), order.averagePrice, p.id, p.owner],
        );
      }
      if (to === PurchaseStatus.FAILED) await em.execute(`update purchase set failure_reason = ? where id = ? and lease_owner = ?`, [reason, p.id, p.owner]);
      if (order && order.filledSats > 0n) {
        await em.execute(
          `insert into holding (exchange, sats, cost_base_aud_cents, fees_aud_cents, purchases, updated_at) values (?, ?, ?, ?, 1, now())
           on conflict (tenant_id, exchange) do update set sats = holding.sats + excluded.sats,
             cost_base_aud_cents = holding.cost_base_aud_cents + excluded.cost_base_aud_cents,
             fees_aud_cents = holding.fees_aud_cents + excluded.fees_aud_cents, purchases = holding.purchases + 1, updated_at = now()`,
          [order.exchange, order.filledSats.toString(), (order.spentAudCents + order.feeAudCents).toString(), order.feeAudCents.toString()],
        );
      }
      // Whatever was not spent goes back to the payments it came from, net of refunds that arrived while it was in flight.
      // Every adapter reports what it spent on bitcoin and its fee charged on top (Kraken's cost + fee,
      // Swyftx's amount + feeAmount, paper's feeBps on top): the fee never comes out of the rule's money.
      await returnUnspent(em, { id: p.id, ruleId: current.rule_id, unspentCents: BigInt(current.amount_aud_cents) - (order?.spentAudCents ?? 0n) });
      await this.transition(tx, { ...current, owner: p.owner }, to, reason);
      // Notifications (#12): FILLED / FAILED reach the tenant's members, in this same transaction.
      await recordPurchaseNotice(tx, {
        purchaseId: p.id,
        status: to,
        amountAudCents: BigInt(current.amount_aud_cents),
        filledSats: order?.filledSats ?? 0n,
        exchange: order?.exchange ?? null,
      });
      await em.execute(`update purchase set lease_until = null, lease_owner = null where id = ? and lease_owner = ?`, [p.id, p.owner]);
      if (order) {
        await tx.audit({
          eventType: 'purchase.fill',
          actorId: null,
          subjectType: 'BitcoinPurchase',
          subjectId: p.id,
          data: {
            exchange: order.exchange,
            exchangeOrderId: order.exchangeOrderId,
            clientOrderId: order.clientOrderId,
            satoshis: order.filledSats.toString(),
            spentAudCents: order.spentAudCents.toString(),
            feeAudCents: order.feeAudCents.toString(),
            averagePrice: order.averagePrice,
          },
        });
        // The parcel for compliance's tax ledger, in this same transaction (nothing if nothing filled).
        await recordAcquisitionFact(tx, p.id, order);
      }
    });
  }

  /** Gives the lease back so a retry may start at once; a lease another worker took over is left alone. */
  private async release(tenantId: string, p: Claimed): Promise<void> {
    const released = await this.tx(tenantId, ({ em }) => releaseLease(em, p.id, p.owner)).catch((err: Error) => {
      log().warn({ purchaseId: p.id, err: err.message }, 'could not release purchase lease');
      return true;
    });
    if (!released) log().info({ purchaseId: p.id }, 'purchase lease was taken over by another worker; not released');
  }
}
