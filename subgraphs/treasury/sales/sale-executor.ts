import { randomUUID } from 'node:crypto';
import type { TenantTx } from '../../../lib/db/tenant-tx';
import { amlOperationMessage } from '../../../lib/events/aml-facts';
import { TAX_DISPOSAL_JOB, TAX_QUEUE, TaxDisposalFactV1, taxFactJobId } from '../../../lib/events/tax-facts';
import { ExchangeRouter, RoutingError, type AttemptOperation, type AttemptOutcome, type RoutingAttempt, type RoutingPolicy } from '../exchanges/exchange-router';
import type { ExchangeName, ExchangeOrder } from '../exchanges/exchange.types';
import { exchangesThatMayHold, routeFailureVerdict } from '../exchanges/order-presence';
import { RetryLater, type ExecutorOptions } from '../purchases/purchase-executor';
import { canTransition, LeaseLost, PurchaseStatus, TERMINAL } from '../purchases/purchase-state';
import { readTreasurySettings } from '../settings/treasury-settings';
import { saleEvent } from './sale-requests';

type SaleRow = { id: string; status: PurchaseStatus; sats: string; client_order_id: string; leased: boolean };
type Claimed = SaleRow & { owner: string };

/**
 * Runs one sale to a final state, exactly once at the exchange, with the purchases' machinery: a
 * lease with a fencing token, PENDING → SUBMITTED committed before any exchange call, the shared
 * ExchangeRouter (lookup by the sale's client order id on every exchange that may hold it, durable
 * in-doubt intent, place, reconcile), and the purchase state machine's legal moves. Attempts go to
 * `exchange_attempt` keyed by the sale id (its `purchase_id` column holds the order's owner id), so
 * a retry after a crash reconciles instead of selling twice. Settlement writes the proceeds and the
 * TaxDisposalFactV1 and the AML operation fact in one transaction.
 */
export class SaleExecutor {
  readonly router: ExchangeRouter;
  private readonly routing = new Map<string, { tenantId: string; saleId: string }>();

  constructor(private readonly opts: ExecutorOptions) {
    const now = opts.now ?? (() => new Date());
    this.router = new ExchangeRouter({ adapters: opts.adapters, breaker: opts.breaker, recorder: (a) => this.record(a), now: () => now().getTime() });
  }

  private tx<T>(tenantId: string, fn: (tx: TenantTx) => Promise<T>): Promise<T> {
    return this.opts.tenants.run(tenantId, fn);
  }

  async execute(tenantId: string, saleId: string, finalAttempt: boolean): Promise<{ status: PurchaseStatus; reconciled?: boolean }> {
    const claim = await this.tx(tenantId, (tx) => this.claim(tx, saleId));
    if (claim.kind === 'done') return { status: claim.status };
    if (claim.kind === 'busy') throw new RetryLater(`sale ${saleId} is being executed by another worker`);
    const { sale, policy, prior } = claim;
    this.routing.set(sale.client_order_id, { tenantId, saleId });
    try {
      const result = await this.router.placeMarketSell({ clientOrderId: sale.client_order_id, sats: BigInt(sale.sats), policy, priorExchanges: prior });
      return await this.settle(tenantId, sale, result.order, result.reconciled);
    } catch (err) {
      if (err instanceof RetryLater) throw err;
      if (err instanceof LeaseLost) throw new RetryLater(err.message);
      const routing = err instanceof RoutingError ? err : null;
      const verdict = routeFailureVerdict({ kind: routing?.kind ?? null, mayHold: routing ? routing.mayHold : prior, finalAttempt });
      const reason = routing ? `${routing.kind}: ${routing.message}` : `unexpected: ${(err as Error).message}`;
      if (verdict.action === 'fail') {
        await this.finish(tenantId, sale, PurchaseStatus.FAILED, reason, null);
        return { status: PurchaseStatus.FAILED };
      }
      await this.tx(tenantId, ({ em }) => em.execute(`update sale set lease_until = null, lease_owner = null where id = ? and lease_owner = ?`, [sale.id, sale.owner]));
      throw new RetryLater(`${reason} (${verdict.why})`);
    } finally {
      this.routing.delete(sale.client_order_id);
    }
  }

  private async claim(
    tx: TenantTx,
    saleId: string,
  ): Promise<{ kind: 'done'; status: PurchaseStatus } | { kind: 'busy' } | { kind: 'go'; sale: Claimed; policy: Partial<RoutingPolicy>; prior: ExchangeName[] }> {
    const { em } = tx;
    const [s] = await em.execute<SaleRow[]>(
      `select id, status, sats::text as sats, client_order_id, coalesce(lease_until > now(), false) as leased from sale where id = ? for update`,
      [saleId],
    );
    if (!s) return { kind: 'done', status: PurchaseStatus.CANCELLED };
    if (TERMINAL.has(s.status)) return { kind: 'done', status: s.status };
    if (s.leased) return { kind: 'busy' };
    const owner = randomUUID();
    await em.execute(`update sale set lease_owner = ?, lease_until = now() + (? * interval '1 millisecond') where id = ?`, [owner, this.opts.leaseMs, saleId]);
    const sale: Claimed = { ...s, owner };
    if (s.status === PurchaseStatus.PENDING) await this.transition(tx, sale, PurchaseStatus.SUBMITTED, 'sent to the exchange router');
    const settings = await readTreasurySettings(em);
    const policy: Partial<RoutingPolicy> = { primary: settings.primaryExchange as ExchangeName, failover: settings.failoverExchanges as ExchangeName[] };
    const trail = await em.execute<{ exchange: ExchangeName; operation: AttemptOperation; outcome: AttemptOutcome; outcome_unknown: boolean }[]>(
      `select exchange, operation, outcome, outcome_unknown from exchange_attempt where purchase_id = ? order by seq`,
      [saleId],
    );
    const prior = exchangesThatMayHold(trail.map((r) => ({ exchange: r.exchange, operation: r.operation, outcome: r.outcome, outcomeUnknown: r.outcome_unknown })));
    return { kind: 'go', sale, policy, prior };
  }

  /** A fenced move of the purchases' state machine on a sale: status, stored transition, audit, live event. */
  private async transition(tx: TenantTx, s: Claimed, to: PurchaseStatus, reason: string | null): Promise<void> {
    if (!canTransition(s.status, to)) throw new Error(`sale ${s.id}: ${s.status} → ${to} is not allowed`);
    const moved = await tx.em.execute<{ id: string }[]>(`update sale set status = ?, updated_at = ? where id = ? and status = ? and lease_owner = ? returning id`, [
      to,
      tx.now,
      s.id,
      s.status,
      s.owner,
    ]);
    if (moved.length === 0) throw new LeaseLost(s.id);
    await tx.em.execute(`insert into sale_transition (id, sale_id, from_status, to_status, reason, at) values (?, ?, ?, ?, ?, ?)`, [randomUUID(), s.id, s.status, to, reason, tx.now]);
    await tx.audit({ eventType: `sale.${to.toLowerCase()}`, actorId: null, subjectType: 'BitcoinSale', subjectId: s.id, data: { from: s.status, to, reason } });
    const from = s.status;
    s.status = to;
    tx.publish('sale', saleEvent(s.id, to, from, tx.now));
  }

  private async record(a: RoutingAttempt): Promise<void> {
    const target = this.routing.get(a.clientOrderId);
    if (!target) throw new Error(`no sale is being routed under ${a.clientOrderId}`);
    await this.tx(target.tenantId, ({ em }) =>
      em.execute(
        `insert into exchange_attempt (id, purchase_id, exchange, operation, outcome, error_kind, detail, at, outcome_unknown) values (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [randomUUID(), target.saleId, a.exchange, a.operation, a.outcome, a.errorKind, a.detail ?? null, a.at, a.outcomeUnknown === true],
      ),
    );
  }

  private async settle(tenantId: string, s: Claimed, order: ExchangeOrder, reconciled: boolean): Promise<{ status: PurchaseStatus; reconciled: boolean }> {
    if (order.status === 'OPEN' || order.open === true) {
      await this.tx(tenantId, ({ em }) =>
        em.execute(`update sale set exchange = ?, exchange_order_id = ?, lease_until = null, lease_owner = null where id = ? and lease_owner = ?`, [order.exchange, order.exchangeOrderId, s.id, s.owner]),
      );
      throw new RetryLater(`order ${order.exchangeOrderId} on ${order.exchange} is still working (${order.status})`);
    }
    if (order.filledSats > 0n) {
      const status = order.status === 'FILLED' ? PurchaseStatus.FILLED : PurchaseStatus.PARTIALLY_FILLED;
      await this.finish(tenantId, s, status, reconciled ? 'reconciled with the exchange after a retry' : null, order);
      return { status, reconciled };
    }
    await this.finish(tenantId, s, PurchaseStatus.FAILED, `the exchange reported the order ${order.status.toLowerCase()} with nothing filled`, order);
    return { status: PurchaseStatus.FAILED, reconciled };
  }

  /** Final state, proceeds, the holding, the audit record and the disposal fact: one transaction. */
  private async finish(tenantId: string, s: Claimed, to: PurchaseStatus, reason: string | null, order: ExchangeOrder | null): Promise<void> {
    await this.tx(tenantId, async (tx) => {
      const { em } = tx;
      const [current] = await em.execute<{ status: PurchaseStatus; lease_owner: string | null }[]>(`select status, lease_owner from sale where id = ? for update`, [s.id]);
      if (!current || TERMINAL.has(current.status)) return;
      if (current.lease_owner !== s.owner) throw new LeaseLost(s.id);
      if (order) {
        await em.execute(
          `update sale set exchange = ?, exchange_order_id = ?, filled_sats = ?, proceeds_aud_cents = ?, fee_aud_cents = ?, average_price = ?::numeric where id = ?`,
          [order.exchange, order.exchangeOrderId, order.filledSats.toString(), order.spentAudCents.toString(), order.feeAudCents.toString(), order.averagePrice, s.id],
        );
      }
      if (to === PurchaseStatus.FAILED) await em.execute(`update sale set failure_reason = ? where id = ?`, [reason, s.id]);
      await this.transition(tx, { ...s, status: current.status }, to, reason);
      await em.execute(`update sale set lease_until = null, lease_owner = null where id = ?`, [s.id]);
      if (order && order.filledSats > 0n) {
        // The exchange's holding loses what was sold (cost bases are compliance's parcels, not this summary's).
        await em.execute(`update holding set sats = greatest(sats - ?, 0), updated_at = now() where exchange = ?`, [order.filledSats.toString(), order.exchange]);
        await tx.audit({
          eventType: 'sale.fill',
          actorId: null,
          subjectType: 'BitcoinSale',
          subjectId: s.id,
          data: {
            exchange: order.exchange,
            exchangeOrderId: order.exchangeOrderId,
            clientOrderId: order.clientOrderId,
            satoshis: order.filledSats.toString(),
            proceedsAudCents: order.spentAudCents.toString(),
            feeAudCents: order.feeAudCents.toString(),
          },
        });
        const fact = TaxDisposalFactV1.parse({
          version: 1,
          kind: 'disposal',
          type: 'SALE',
          tenantId: tx.tenantId,
          id: s.id,
          saleId: s.id,
          exchange: order.exchange,
          exchangeOrderId: order.exchangeOrderId,
          at: tx.now.toISOString(),
          sats: order.filledSats.toString(),
          proceedsAudCents: order.spentAudCents.toString(),
          feeAudCents: order.feeAudCents.toString(),
        });
        await tx.outbox({ queue: TAX_QUEUE, jobName: TAX_DISPOSAL_JOB, payload: fact, id: taxFactJobId(TAX_DISPOSAL_JOB, fact.id) });
        // AML monitoring (#11): the sale at its AUD value, known only now (the request is in sats), committed with the fill.
        await tx.outbox(amlOperationMessage({ version: 1, tenantId: tx.tenantId, id: s.id, kind: 'SALE', amountAudCents: order.spentAudCents.toString(), at: tx.now.toISOString() }));
      }
    });
  }
}
