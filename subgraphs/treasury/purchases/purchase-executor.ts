import { randomUUID } from 'node:crypto';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { recordAudit } from '../../../lib/audit';
import type { EventBus } from '../../../lib/bus';
import { TenantDirectory, withTenant } from '../../../lib/db/tenant-context';
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
import { publishAfterCommit, returnUnspent, transitionPurchase, type Publication } from './treasury-engine';
import { PurchaseStatus, TERMINAL } from './purchase.entity';
import { readTreasurySettings } from './purchase.service';

type PurchaseRow = {
  id: string;
  rule_id: string | null;
  status: PurchaseStatus;
  amount_aud_cents: string;
  client_order_id: string;
  /** Another worker holds a live lease on it. */
  leased: boolean;
};

const PURCHASE_COLUMNS = `id, rule_id, status, amount_aud_cents::text, client_order_id, coalesce(lease_until > ?, false) as leased`;

export type ExecutorOptions = {
  orm: MikroORM;
  directory: TenantDirectory;
  /** The exchanges this worker can reach; paper is the default route. */
  adapters: Partial<Record<ExchangeName, ExchangeAdapter>>;
  breaker?: ExchangeRouterOptions['breaker'];
  bus: EventBus;
  /** How long one worker owns a purchase while it talks to exchanges; a crashed worker's lease lapses. */
  leaseMs: number;
  /** The clock of leases, breakers and attempt times. */
  now?: () => Date;
};

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

  private tx<T>(tenantId: string, fn: (em: EntityManager) => Promise<T>): Promise<T> {
    return withTenant(this.opts.orm, this.opts.directory, tenantId, fn);
  }

  /**
   * `finalAttempt`: when the exchanges still cannot take the order, fail the purchase (returning
   * its amount to the rule's accrual) instead of asking for another retry.
   */
  async execute(tenantId: string, purchaseId: string, finalAttempt: boolean): Promise<ExecuteResult> {
    const claim = await this.tx(tenantId, (em) => this.claim(em, tenantId, purchaseId));
    await publishAfterCommit(this.opts.bus, claim.publications);
    if (claim.kind === 'done') return { status: claim.status };
    if (claim.kind === 'busy') throw new RetryLater(`purchase ${purchaseId} is being executed by another worker`);

    const { purchase, policy, prior } = claim;
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
      const routing = err instanceof RoutingError ? err : null;
      const verdict = routeFailureVerdict({
        kind: routing?.kind ?? null,
        // A failure outside the router (kind null: e.g. while settling) is always retried.
        mayHold: routing ? routing.mayHold : prior,
        finalAttempt,
      });
      const reason = routing ? `${routing.kind}: ${routing.message}` : `unexpected: ${(err as Error).message}`;
      if (verdict.action === 'fail') {
        await this.finish(tenantId, purchase, PurchaseStatus.FAILED, reason, null);
        return { status: PurchaseStatus.FAILED };
      }
      await this.release(tenantId, purchase.id);
      throw new RetryLater(`${reason} (${verdict.why})`);
    } finally {
      this.routing.delete(purchase.client_order_id);
    }
  }

  private async claim(
    em: EntityManager,
    tenantId: string,
    purchaseId: string,
  ): Promise<
    | { kind: 'done'; status: PurchaseStatus; publications: Publication[] }
    | { kind: 'busy'; publications: Publication[] }
    | { kind: 'go'; purchase: PurchaseRow; policy: Partial<RoutingPolicy>; prior: ExchangeName[]; publications: Publication[] }
  > {
    const now = this.now();
    const rows = await em.execute<PurchaseRow[]>(`select ${PURCHASE_COLUMNS} from purchase where id = ? for update`, [now, purchaseId]);
    const p = rows[0];
    if (!p) return { kind: 'done', status: PurchaseStatus.CANCELLED, publications: [] };
    if (TERMINAL.has(p.status)) return { kind: 'done', status: p.status, publications: [] };
    if (p.leased) return { kind: 'busy', publications: [] };
    await em.execute(`update purchase set lease_until = ? where id = ?`, [new Date(now.getTime() + this.leaseMs), p.id]);
    const publications: Publication[] = [];
    if (p.status === PurchaseStatus.PENDING) {
      // Committed before any exchange call: from here on a restart reconciles instead of assuming nothing happened.
      publications.push(await this.transition(em, tenantId, p, PurchaseStatus.SUBMITTED, 'sent to the exchange router'));
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
    return { kind: 'go', purchase: p, policy, prior, publications };
  }

  private transition(em: EntityManager, tenantId: string, p: PurchaseRow, to: PurchaseStatus, reason: string | null): Promise<Publication> {
    return transitionPurchase(em, tenantId, p, to, { reason, actorId: null, at: this.now() });
  }

  /** Persists one routing attempt in its own committed transaction, so the trail (the intent above all) survives a crash mid-route. */
  private async record(a: RoutingAttempt): Promise<void> {
    const target = this.routing.get(a.clientOrderId);
    if (!target) throw new Error(`no purchase is being routed under ${a.clientOrderId}`);
    await this.tx(target.tenantId, (em) =>
      em.execute(
        `insert into exchange_attempt (id, purchase_id, exchange, operation, outcome, error_kind, detail, at, outcome_unknown) values (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [randomUUID(), target.purchaseId, a.exchange, a.operation, a.outcome, a.errorKind, a.detail ?? null, a.at, a.outcomeUnknown === true],
      ),
    );
  }

  private async settle(tenantId: string, p: PurchaseRow, order: ExchangeOrder, reconciled: boolean): Promise<ExecuteResult> {
    if (order.status === 'OPEN' || order.open === true) {
      await this.tx(tenantId, (em) =>
        em.execute(`update purchase set exchange = ?, exchange_order_id = ?, lease_until = null where id = ?`, [
          order.exchange,
          order.exchangeOrderId,
          p.id,
        ]),
      );
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
  private async finish(tenantId: string, p: PurchaseRow, to: PurchaseStatus, reason: string | null, order: ExchangeOrder | null): Promise<void> {
    const publications = await this.tx(tenantId, async (em) => {
      const current = (await em.execute<PurchaseRow[]>(`select ${PURCHASE_COLUMNS} from purchase where id = ? for update`, [this.now(), p.id]))[0];
      if (!current || TERMINAL.has(current.status)) return [];
      if (order) {
        await em.execute(
          `update purchase set exchange = ?, exchange_order_id = ?, filled_sats = ?, spent_aud_cents = ?, fee_aud_cents = ?, average_price = ?::numeric, lease_until = null where id = ?`,
          [order.exchange, order.exchangeOrderId, order.filledSats.toString(), order.spentAudCents.toString(), order.feeAudCents.toString(), order.averagePrice, p.id],
        );
      }
      if (to === PurchaseStatus.FAILED) await em.execute(`update purchase set failure_reason = ?, lease_until = null where id = ?`, [reason, p.id]);
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
      const pub = await this.transition(em, tenantId, current, to, reason);
      if (order) {
        await recordAudit(em, {
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
      }
      return [pub];
    });
    await publishAfterCommit(this.opts.bus, publications);
  }

  private async release(tenantId: string, purchaseId: string): Promise<void> {
    await this.tx(tenantId, (em) => em.execute(`update purchase set lease_until = null where id = ?`, [purchaseId])).catch((err: Error) =>
      log().warn({ purchaseId, err: err.message }, 'could not release purchase lease'),
    );
  }
}
