import DataLoader from 'dataloader';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Ctx, Directive, Field, FieldResolver, ID, ObjectType, Resolver, Root } from 'type-graphql';
import type { Scope } from '../../lib/access';
import { isUuid } from '../../lib/db/tenant-context';
import { DecimalScalar } from '../../lib/money';
import { treasuryLoaders } from './loaders';
import { Purchase } from './purchases/purchase.entity';
import type { TreasuryContext } from './treasury.context';

type Ctx = TreasuryContext;

/**
 * Treasury's view of a payment event (owned by the tenant subgraph): what it did here, read from
 * treasury's own ledger. The gateway brings `tenantId` from the tenant subgraph (@requires), and
 * the gate checks it; the rows themselves are read under the caller's row-level security.
 */
@ObjectType('PaymentEvent')
@Directive('@key(fields: "id")')
export class PaymentEventEffects {
  @Field(() => ID) id!: string;
  @Field(() => ID) @Directive('@external') tenantId!: string;
}

@ObjectType('PaymentEventAccrual', { description: 'One ledger entry a payment event made for one rule.' })
export class PaymentEventAccrual {
  @Field(() => ID) id!: string;
  @Field(() => ID) ruleId!: string;
  @Field(() => String, { description: 'REVENUE, REFUND or BALANCE.' }) kind!: string;
  @Field(() => DecimalScalar, { description: 'The rule’s share in AUD cents, exact (a fraction of a cent carries over); negative for a refund.' })
  amountAudCents!: string;
  @Field(() => ID, { nullable: true, description: 'The first purchase its share went into (a share can be split across purchases by caps; see PaymentEvent.purchases); null while it waits.' })
  purchaseId!: string | null;
  @Field(() => String, { nullable: true }) note!: string | null;
  @Field(() => Date) at!: Date;
}

type AccrualRow = {
  id: string;
  payment_event_id: string;
  rule_id: string;
  kind: string;
  amount_e4: string;
  purchase_id: string | null;
  note: string | null;
  /** Raw queries on the ORM's connection return timestamps as text. */
  created_at: Date | string;
};

/** Ledger amounts are AUD cents × 10⁴: as an exact decimal of cents ("1234.5"). */
export function e4ToCents(e4: bigint): string {
  const sign = e4 < 0n ? '-' : '';
  const abs = e4 < 0n ? -e4 : e4;
  const frac = (abs % 10_000n).toString().padStart(4, '0').replace(/0+$/, '');
  return `${sign}${abs / 10_000n}${frac ? `.${frac}` : ''}`;
}

type ConsumptionRow = { origin_payment_event_id: string; rule_id: string; purchase_id: string };

/**
 * The ledger entries of these payment events, and the purchases that consumed their shares (PURCHASE
 * entries name the payment they drew from as their origin), in two queries in the caller's tenant transaction.
 */
export async function accrualsOf(
  em: EntityManager,
  paymentEventIds: readonly string[],
): Promise<{ accruals: Map<string, PaymentEventAccrual[]>; purchases: Map<string, string[]> }> {
  const ids = `{${paymentEventIds.join(',')}}`;
  const rows = await em.execute<AccrualRow[]>(
    `select id, payment_event_id, rule_id, kind, amount_e4::text as amount_e4, purchase_id, note, created_at
     from accrual_entry where payment_event_id = any(?::uuid[]) order by created_at, id`,
    [ids],
  );
  const consumed = await em.execute<ConsumptionRow[]>(
    `select origin_payment_event_id, rule_id, purchase_id from accrual_entry
     where kind = 'PURCHASE' and purchase_id is not null and origin_payment_event_id = any(?::uuid[])
     group by origin_payment_event_id, rule_id, purchase_id order by min(created_at), purchase_id`,
    [ids],
  );
  const purchases = new Map<string, string[]>();
  const firstByRule = new Map<string, string>();
  for (const c of consumed) {
    const list = purchases.get(c.origin_payment_event_id) ?? [];
    if (!list.includes(c.purchase_id)) list.push(c.purchase_id);
    purchases.set(c.origin_payment_event_id, list);
    const key = `${c.origin_payment_event_id}:${c.rule_id}`;
    if (!firstByRule.has(key)) firstByRule.set(key, c.purchase_id);
  }
  const accruals = new Map<string, PaymentEventAccrual[]>();
  for (const r of rows) {
    const list = accruals.get(r.payment_event_id) ?? [];
    const purchaseId = r.purchase_id ?? firstByRule.get(`${r.payment_event_id}:${r.rule_id}`) ?? null;
    list.push({ id: r.id, ruleId: r.rule_id, kind: r.kind, amountAudCents: e4ToCents(BigInt(r.amount_e4)), purchaseId, note: r.note, at: new Date(r.created_at) });
    accruals.set(r.payment_event_id, list);
  }
  return { accruals, purchases };
}

type Effects = { accruals: PaymentEventAccrual[]; purchaseIds: string[] };
type Loaders = { effects: DataLoader<string, Effects>; purchases: DataLoader<string, Purchase | null> };

/** Per request (context) and tenant: a page of events costs one ledger query and one purchase query. */
const loaders = new WeakMap<object, Map<string, DataLoader<string, Effects>>>();

function loadersFor(ctx: Ctx, scope: Scope): Loaders {
  let byTenant = loaders.get(ctx);
  if (!byTenant) {
    byTenant = new Map();
    loaders.set(ctx, byTenant);
  }
  let effects = byTenant.get(scope.tenantId);
  if (!effects) {
    effects = new DataLoader(async (ids: readonly string[]) => {
      const found = await scope.tx(({ em }) => accrualsOf(em, ids));
      return ids.map((id) => ({ accruals: found.accruals.get(id) ?? [], purchaseIds: found.purchases.get(id) ?? [] }));
    });
    byTenant.set(scope.tenantId, effects);
  }
  return { effects, purchases: treasuryLoaders(ctx, scope).purchase };
}

@Resolver(() => PaymentEventEffects)
export class PaymentEventEffectsResolver {
  @FieldResolver(() => [PaymentEventAccrual], { description: 'What it added to (or took from) each rule’s accrual.' })
  @Directive('@requires(fields: "tenantId")')
  async accruals(@Root() e: PaymentEventEffects, @Ctx() ctx: Ctx): Promise<PaymentEventAccrual[]> {
    const scope = ctx.gate.require(ctx, 'integration:read', e.tenantId);
    return (await loadersFor(ctx, scope).effects.load(e.id)).accruals;
  }

  @FieldResolver(() => [Purchase], { description: 'The purchases its accruals went into, oldest first.' })
  @Directive('@requires(fields: "tenantId")')
  async purchases(@Root() e: PaymentEventEffects, @Ctx() ctx: Ctx): Promise<Purchase[]> {
    const scope = ctx.gate.require(ctx, 'integration:read', e.tenantId);
    ctx.gate.require(ctx, 'purchase:read', e.tenantId);
    const l = loadersFor(ctx, scope);
    const ids = (await l.effects.load(e.id)).purchaseIds;
    const found = await l.purchases.loadMany(ids);
    return found.filter((p): p is Purchase => p instanceof Purchase);
  }
}

export const paymentEventEffectsReferences = {
  PaymentEvent: {
    /** The representation carries the tenant's `tenantId`; the gate decides whether it is the caller's. */
    __resolveReference(ref: { id: string; tenantId?: string }, ctx: Ctx): PaymentEventEffects | null {
      if (typeof ref.id !== 'string' || !isUuid(ref.id) || typeof ref.tenantId !== 'string') return null;
      if (!ctx.gate.forReference(ctx, 'integration:read', ref.tenantId)) return null;
      return { id: ref.id.toLowerCase(), tenantId: ref.tenantId.toLowerCase() };
    },
  },
};
