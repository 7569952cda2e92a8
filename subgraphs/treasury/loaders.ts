import DataLoader from 'dataloader';
import type { Scope } from '../../lib/access';
import { isUuid } from '../../lib/db/tenant-context';
import { Purchase, type ExchangeAttemptRecord, type PurchaseFunding, type PurchaseTransition } from './purchases/purchase.entity';
import { TreasuryRule } from './rules/rule.entity';
import type { TreasuryContext } from './treasury.context';

/**
 * Per request and tenant: one batched query per kind, however many purchases a page (or an
 * `_entities` call) resolves. Each loader reads under its scope's row-level security.
 */
export type TreasuryLoaders = {
  purchase: DataLoader<string, Purchase | null>;
  rule: DataLoader<string, TreasuryRule | null>;
  transitions: DataLoader<string, PurchaseTransition[]>;
  attempts: DataLoader<string, ExchangeAttemptRecord[]>;
  funding: DataLoader<string, PurchaseFunding[]>;
};

const perRequest = new WeakMap<object, Map<string, TreasuryLoaders>>();

export function treasuryLoaders(ctx: TreasuryContext, scope: Scope): TreasuryLoaders {
  let byTenant = perRequest.get(ctx);
  if (!byTenant) {
    byTenant = new Map();
    perRequest.set(ctx, byTenant);
  }
  const existing = byTenant.get(scope.tenantId);
  if (existing) return existing;
  const { purchases } = ctx.services;
  const loaders: TreasuryLoaders = {
    purchase: new DataLoader(async (ids: readonly string[]) => {
      const valid = ids.filter(isUuid);
      const found = valid.length === 0 ? [] : await scope.read(({ em }) => em.find(Purchase, { tenantId: scope.tenantId, id: { $in: valid } }, { disableIdentityMap: true }));
      const byId = new Map(found.map((p) => [p.id, p]));
      return ids.map((id) => byId.get(id.toLowerCase()) ?? null);
    }),
    rule: new DataLoader(async (ids: readonly string[]) => {
      const valid = ids.filter(isUuid);
      const found = valid.length === 0 ? [] : await scope.read(({ em }) => em.find(TreasuryRule, { tenantId: scope.tenantId, id: { $in: valid } }, { disableIdentityMap: true }));
      const byId = new Map(found.map((r) => [r.id, r]));
      return ids.map((id) => byId.get(id.toLowerCase()) ?? null);
    }),
    transitions: new DataLoader(async (ids: readonly string[]) => {
      const found = await purchases.transitionsOf(scope, ids);
      return ids.map((id) => found.get(id) ?? []);
    }),
    attempts: new DataLoader(async (ids: readonly string[]) => {
      const found = await purchases.attemptsOf(scope, ids);
      return ids.map((id) => found.get(id) ?? []);
    }),
    funding: new DataLoader(async (ids: readonly string[]) => {
      const found = await purchases.fundingOf(scope, ids);
      return ids.map((id) => found.get(id) ?? []);
    }),
  };
  byTenant.set(scope.tenantId, loaders);
  return loaders;
}
