import type { EntityManager } from '@mikro-orm/postgresql';
import type { EventBus } from '../../../lib/bus';
import { AppError, ErrorCode, badInput, notFound } from '../../../lib/errors';
import { isUuid } from '../../../lib/db/tenant-context';
import { kickOutbox } from '../../../lib/outbox';
import type { Scope } from '../../../lib/access';
import { EXCHANGE_NAMES, type ExchangeName } from '../exchanges/exchange.types';
import { ExchangeAttemptRecord, Holding, Purchase, PurchaseFunding, PurchaseStatus, PurchaseTransition } from './purchase.entity';
import { apportionWholeCents, e4ToCentsDecimal, publishAfterCommit, returnUnspent, transitionPurchase, type TreasuryEngine } from './treasury-engine';
import { recordAudit } from '../../../lib/audit';

export type TreasurySettingsView = { primaryExchange: string; failoverExchanges: string[]; cutoffLocalTime: string };
export type SettingsPatch = { primaryExchange?: string | null; failoverExchanges?: string[] | null; cutoffLocalTime?: string | null };

const MAX_PAGE = 200;

/** The tenant's routing and cut-off (in the caller's tenant transaction); the defaults until it sets them. */
export async function readTreasurySettings(em: EntityManager): Promise<TreasurySettingsView> {
  const [r] = await em.execute<{ primary_exchange: string; failover_exchanges: string[]; cutoff_local_time: string }[]>(
    `select primary_exchange, failover_exchanges, cutoff_local_time from treasury_settings`,
  );
  return r
    ? { primaryExchange: r.primary_exchange, failoverExchanges: r.failover_exchanges, cutoffLocalTime: r.cutoff_local_time }
    : { primaryExchange: 'paper', failoverExchanges: [], cutoffLocalTime: '17:00' };
}

/** Purchase use cases for the treasury subgraph: read, request (idempotent), cancel, settings. */
export class PurchaseService {
  constructor(
    private readonly engine: TreasuryEngine,
    private readonly bus: EventBus,
  ) {}

  list(scope: Scope, status: PurchaseStatus | null, limit: number): Promise<Purchase[]> {
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw badInput(`limit must be between 1 and ${MAX_PAGE}`, 'limit');
    return scope.tx(({ em }) =>
      em.find(Purchase, { tenantId: scope.tenantId, ...(status ? { status } : {}) }, { orderBy: { createdAt: 'desc', id: 'desc' }, limit }),
    );
  }

  get(scope: Scope, id: string): Promise<Purchase | null> {
    if (!isUuid(id)) return Promise.resolve(null);
    return scope.tx(({ em }) => em.findOne(Purchase, { tenantId: scope.tenantId, id }));
  }

  transitions(scope: Scope, purchaseId: string): Promise<PurchaseTransition[]> {
    return scope.tx(({ em }) => em.find(PurchaseTransition, { tenantId: scope.tenantId, purchaseId }, { orderBy: { at: 'asc', id: 'asc' } }));
  }

  attempts(scope: Scope, purchaseId: string): Promise<ExchangeAttemptRecord[]> {
    return scope.tx(({ em }) => em.find(ExchangeAttemptRecord, { tenantId: scope.tenantId, purchaseId }, { orderBy: { at: 'asc', id: 'asc' } }));
  }

  /**
   * What a purchase took from its rule's accrual, per payment (oldest first): what it consumed less
   * what it returned unspent. The exact shares sum to the purchase's net take; so do the whole cents.
   */
  async funding(scope: Scope, purchaseId: string): Promise<PurchaseFunding[]> {
    if (!isUuid(purchaseId)) return [];
    const rows = await scope.tx(({ em }) =>
      em.execute<{ origin: string | null; kind: string | null; taken: string; returned: string }[]>(
        `select a.origin_payment_event_id as origin, p.kind, (-sum(a.amount_e4))::text as taken,
           coalesce(sum(a.amount_e4) filter (where a.kind = 'RETURN'), 0)::text as returned
         from accrual_entry a
         left join payment_accrual p on p.tenant_id = a.tenant_id and p.rule_id = a.rule_id and p.payment_event_id = a.origin_payment_event_id
         where a.purchase_id = ? and a.kind in ('PURCHASE', 'RETURN')
         group by a.origin_payment_event_id, p.kind, p.first_at
         having sum(a.amount_e4) <> 0
         order by p.first_at nulls last, a.origin_payment_event_id`,
        [purchaseId],
      ),
    );
    const cents = apportionWholeCents(rows.map((r) => BigInt(r.taken)));
    return rows.map((r, i) => {
      const returned = BigInt(r.returned);
      return {
        kind: r.kind ?? 'UNTRACED',
        paymentEventId: r.origin,
        amountAudCents: cents[i],
        exactAudCents: e4ToCentsDecimal(BigInt(r.taken)),
        note: returned > 0n ? `${e4ToCentsDecimal(BigInt(r.taken) + returned)} cents consumed, ${e4ToCentsDecimal(returned)} returned unspent` : null,
      };
    });
  }

  holdings(scope: Scope): Promise<Holding[]> {
    return scope.tx(({ em }) => em.find(Holding, { tenantId: scope.tenantId }, { orderBy: { exchange: 'asc' } }));
  }

  async request(scope: Scope, amountCents: bigint, idempotencyKey: string): Promise<Purchase> {
    const result = await scope.tx(async ({ em }) => {
      const r = await this.engine.requestPurchase(em, scope.tenantId, scope.userId, amountCents, idempotencyKey);
      const p = await em.findOneOrFail(Purchase, { tenantId: scope.tenantId, id: r.id });
      return { purchase: p, publications: r.publications };
    });
    await publishAfterCommit(this.bus, result.publications);
    return result.purchase;
  }

  /** Only a purchase nobody has sent to an exchange yet can be cancelled. */
  async cancel(scope: Scope, id: string): Promise<Purchase> {
    if (!isUuid(id)) throw notFound('purchase');
    const result = await scope.tx(async ({ em }) => {
      const [locked] = await em.execute<{ id: string; status: PurchaseStatus; leased: boolean; rule_id: string | null; amount: string }[]>(
        `select id, status, coalesce(lease_until > now(), false) as leased, rule_id, amount_aud_cents::text as amount from purchase where id = ? for update`,
        [id],
      );
      if (!locked) throw notFound('purchase');
      if (locked.status !== PurchaseStatus.PENDING || locked.leased) {
        throw new AppError(ErrorCode.CONFLICT, `only a PENDING purchase can be cancelled; this one is ${locked.status}`);
      }
      const event = await transitionPurchase(em, scope.tenantId, locked, PurchaseStatus.CANCELLED, {
        reason: 'cancelled by a user',
        actorId: scope.userId,
        at: new Date(),
      });
      await returnUnspent(em, { id, ruleId: locked.rule_id, unspentCents: BigInt(locked.amount) });
      return { purchase: await em.findOneOrFail(Purchase, { tenantId: scope.tenantId, id }), publications: [event] };
    });
    await publishAfterCommit(this.bus, result.publications);
    return result.purchase;
  }

  settings(scope: Scope): Promise<TreasurySettingsView> {
    return scope.tx(({ em }) => readTreasurySettings(em));
  }

  async updateSettings(scope: Scope, patch: SettingsPatch): Promise<TreasurySettingsView> {
    const current = await this.settings(scope);
    const next: TreasurySettingsView = {
      primaryExchange: patch.primaryExchange ?? current.primaryExchange,
      failoverExchanges: patch.failoverExchanges ?? current.failoverExchanges,
      cutoffLocalTime: patch.cutoffLocalTime ?? current.cutoffLocalTime,
    };
    const valid = (e: string): e is ExchangeName => (EXCHANGE_NAMES as readonly string[]).includes(e);
    if (!valid(next.primaryExchange)) throw badInput(`primaryExchange must be one of ${EXCHANGE_NAMES.join(', ')}`, 'primaryExchange');
    if (next.failoverExchanges.length > 3 || !next.failoverExchanges.every(valid)) {
      throw badInput(`failoverExchanges must list up to 3 of ${EXCHANGE_NAMES.join(', ')}`, 'failoverExchanges');
    }
    if (!/^([01]\d|2[0-3]):[0-5]\d$/.test(next.cutoffLocalTime)) throw badInput('cutoffLocalTime must be HH:MM (24 h)', 'cutoffLocalTime');
    await scope.tx(async ({ em }) => {
      await em.execute(
        `insert into treasury_settings (primary_exchange, failover_exchanges, cutoff_local_time, updated_at) values (?, ?::text[], ?, now())
         on conflict (tenant_id) do update set primary_exchange = excluded.primary_exchange, failover_exchanges = excluded.failover_exchanges,
           cutoff_local_time = excluded.cutoff_local_time, updated_at = now()`,
        [next.primaryExchange, `{${next.failoverExchanges.join(',')}}`, next.cutoffLocalTime],
      );
      await recordAudit(em, { eventType: 'treasury_settings.updated', actorId: scope.userId, subjectType: 'TreasurySettings', subjectId: scope.tenantId, data: next });
    });
    await kickOutbox(this.bus);
    return next;
  }
}
