import { AppError, ErrorCode, badInput, notFound } from '../../../lib/errors';
import { isUuid } from '../../../lib/db/tenant-context';
import type { Scope } from '../../../lib/access';
import { EXCHANGE_NAMES, type ExchangeName } from '../exchanges/exchange.types';
import { returnUnspent } from '../ledger/accrual-ledger';
import { fundingOf } from '../ledger/funding';
import type { RuleEngine } from '../rules/rule-engine';
import { readTreasurySettings, writeTreasurySettings, type TreasurySettingsView } from '../settings/treasury-settings';
import { ExchangeAttemptRecord, Holding, Purchase, PurchaseFunding, PurchaseTransition } from './purchase.entity';
import { PurchaseStatus, transitionPurchase } from './purchase-state';

export type { TreasurySettingsView } from '../settings/treasury-settings';
export type SettingsPatch = { primaryExchange?: string | null; failoverExchanges?: string[] | null; cutoffLocalTime?: string | null };

const MAX_PAGE = 200;

/** Purchase use cases for the treasury subgraph: read, request (idempotent), cancel, settings. */
export class PurchaseService {
  constructor(private readonly engine: RuleEngine) {}

  // Reads below run in the request's shared read transaction (Scope.read) and return unmanaged rows
  // (no identity map): nothing a resolver does to them later can be flushed.
  list(scope: Scope, status: PurchaseStatus | null, limit: number): Promise<Purchase[]> {
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw badInput(`limit must be between 1 and ${MAX_PAGE}`, 'limit');
    return scope.read(({ em }) =>
      em.find(Purchase, { tenantId: scope.tenantId, ...(status ? { status } : {}) }, { orderBy: { createdAt: 'desc', id: 'desc' }, limit, disableIdentityMap: true }),
    );
  }

  /** The stored transitions of each purchase, oldest first: one query for a batch. */
  async transitionsOf(scope: Scope, purchaseIds: readonly string[]): Promise<Map<string, PurchaseTransition[]>> {
    const rows = await scope.read(({ em }) =>
      em.find(PurchaseTransition, { tenantId: scope.tenantId, purchaseId: { $in: [...purchaseIds] } }, { orderBy: { at: 'asc', id: 'asc' }, disableIdentityMap: true }),
    );
    return groupBy(purchaseIds, rows);
  }

  /** Every exchange call of each purchase, in order: one query for a batch. */
  async attemptsOf(scope: Scope, purchaseIds: readonly string[]): Promise<Map<string, ExchangeAttemptRecord[]>> {
    const rows = await scope.read(({ em }) =>
      em.find(ExchangeAttemptRecord, { tenantId: scope.tenantId, purchaseId: { $in: [...purchaseIds] } }, { orderBy: { at: 'asc', id: 'asc' }, disableIdentityMap: true }),
    );
    return groupBy(purchaseIds, rows);
  }

  /**
   * What a purchase took from its rule's accrual, per payment (oldest first): what it consumed less
   * what it returned unspent. The exact shares sum to the purchase's net take; so do the whole cents.
   */
  async funding(scope: Scope, purchaseId: string): Promise<PurchaseFunding[]> {
    return (await this.fundingOf(scope, [purchaseId])).get(purchaseId) ?? [];
  }

  /** Funding of a batch of purchases in one query. */
  fundingOf(scope: Scope, purchaseIds: readonly string[]): Promise<Map<string, PurchaseFunding[]>> {
    const valid = purchaseIds.filter(isUuid);
    return scope.read(({ em }) => fundingOf(em, valid));
  }

  holdings(scope: Scope): Promise<Holding[]> {
    return scope.read(({ em }) => em.find(Holding, { tenantId: scope.tenantId }, { orderBy: { exchange: 'asc' }, disableIdentityMap: true }));
  }

  async request(scope: Scope, amountCents: bigint, idempotencyKey: string): Promise<Purchase> {
    return scope.tx(async (tx) => {
      const r = await this.engine.requestPurchase(tx, scope.userId, amountCents, idempotencyKey);
      return tx.em.findOneOrFail(Purchase, { tenantId: scope.tenantId, id: r.id });
    });
  }

  /** Only a purchase nobody has sent to an exchange yet can be cancelled. */
  async cancel(scope: Scope, id: string): Promise<Purchase> {
    if (!isUuid(id)) throw notFound('purchase');
    return scope.tx(async (tx) => {
      const { em } = tx;
      const [locked] = await em.execute<{ id: string; status: PurchaseStatus; leased: boolean; rule_id: string | null; amount: string }[]>(
        `select id, status, coalesce(lease_until > now(), false) as leased, rule_id, amount_aud_cents::text as amount from purchase where id = ? for update`,
        [id],
      );
      if (!locked) throw notFound('purchase');
      if (locked.status !== PurchaseStatus.PENDING || locked.leased) {
        throw new AppError(ErrorCode.CONFLICT, `only a PENDING purchase can be cancelled; this one is ${locked.status}`);
      }
      await transitionPurchase(tx, locked, PurchaseStatus.CANCELLED, { reason: 'cancelled by a user', actorId: scope.userId });
      await returnUnspent(em, { id, ruleId: locked.rule_id, unspentCents: BigInt(locked.amount) });
      return em.findOneOrFail(Purchase, { tenantId: scope.tenantId, id });
    });
  }

  async settings(scope: Scope): Promise<TreasurySettingsView> {
    const { primaryExchange, failoverExchanges, cutoffLocalTime } = await scope.tx(({ em }) => readTreasurySettings(em));
    return { primaryExchange, failoverExchanges, cutoffLocalTime };
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
    await scope.tx(async (tx) => {
      await writeTreasurySettings(tx.em, next);
      await tx.audit({ eventType: 'treasury_settings.updated', actorId: scope.userId, subjectType: 'TreasurySettings', subjectId: scope.tenantId, data: next });
    });
    return next;
  }
}

function groupBy<T extends { purchaseId: string }>(ids: readonly string[], rows: readonly T[]): Map<string, T[]> {
  const out = new Map<string, T[]>(ids.map((id) => [id, []]));
  for (const r of rows) out.get(r.purchaseId)?.push(r);
  return out;
}
