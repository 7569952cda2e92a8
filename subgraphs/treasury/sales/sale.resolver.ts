import { Arg, Ctx, Directive, Field, ID, Int, Mutation, ObjectType, Query, Resolver, Root, Subscription } from 'type-graphql';
import type { Scope } from '../../../lib/access';
import { isUuid } from '../../../lib/db/tenant-context';
import type { TenantTx } from '../../../lib/db/tenant-tx';
import { badInput } from '../../../lib/errors';
import { AudCentsScalar, SatoshisScalar } from '../../../lib/money';
import { servedByGateway } from '../../../lib/subgraph';
import { PurchaseStatus } from '../purchases/purchase-state';
import type { TreasuryContext } from '../treasury.context';
import { requestSale } from './sale-requests';

type Ctx = TreasuryContext;

@Directive('@key(fields: "id")')
@ObjectType('BitcoinSale', { description: 'Bitcoin sold from the tenant’s holdings on its exchange for AUD (a CGT event).' })
export class BitcoinSale {
  @Field(() => ID) id!: string;
  @Field(() => PurchaseStatus, { description: 'The purchases’ states: PENDING → SUBMITTED → FILLED | PARTIALLY_FILLED | FAILED | CANCELLED.' })
  status!: PurchaseStatus;
  @Field(() => SatoshisScalar, { description: 'The sats requested for sale.' }) satoshis!: bigint;
  @Field(() => AudCentsScalar, { nullable: true, description: 'AUD proceeds before the fee, once filled.' }) grossAudCents!: bigint | null;
  @Field(() => AudCentsScalar, { nullable: true, description: 'The exchange fee, once filled.' }) feeAudCents!: bigint | null;
  @Field(() => AudCentsScalar, { nullable: true, description: 'gross − fee, once filled.' }) netAudCents!: bigint | null;
  @Field(() => String, { nullable: true, description: 'The exchange the sale was sent to.' }) exchange!: string | null;
  @Field(() => Date) createdAt!: Date;
  @Field(() => Date) updatedAt!: Date;
  @Field(() => String, { nullable: true }) failureReason!: string | null;
}

/** A change of one of the caller's tenant's sales (the `tenant.<tid>.sale` event). */
@ObjectType('SaleEvent', { description: 'A status change of one of your tenant’s sales.' })
export class SaleEvent {
  @Field(() => ID) saleId!: string;
  @Field(() => PurchaseStatus) status!: PurchaseStatus;
  @Field(() => PurchaseStatus, { nullable: true }) previousStatus?: PurchaseStatus | null;
  @Field(() => Date) at!: Date;
  @Field(() => BitcoinSale, { nullable: true, description: 'The sale as it is when the event is delivered.' })
  sale?: BitcoinSale | null;
}

type SaleRow = {
  id: string;
  status: PurchaseStatus;
  sats: string;
  filled_sats: string;
  proceeds_aud_cents: string;
  fee_aud_cents: string;
  exchange: string | null;
  failure_reason: string | null;
  created_at: Date;
  updated_at: Date;
};

const COLUMNS = 'id, status, sats::text, filled_sats::text, proceeds_aud_cents::text, fee_aud_cents::text, exchange, failure_reason, created_at, updated_at';
const FILLED = new Set<PurchaseStatus>([PurchaseStatus.FILLED, PurchaseStatus.PARTIALLY_FILLED]);

function saleOf(r: SaleRow): BitcoinSale {
  const filled = FILLED.has(r.status);
  const gross = filled ? BigInt(r.proceeds_aud_cents) : null;
  const fee = filled ? BigInt(r.fee_aud_cents) : null;
  return {
    id: r.id,
    status: r.status,
    satoshis: BigInt(r.sats),
    grossAudCents: gross,
    feeAudCents: fee,
    netAudCents: gross !== null && fee !== null ? gross - fee : null,
    exchange: r.exchange,
    createdAt: new Date(r.created_at),
    updatedAt: new Date(r.updated_at),
    failureReason: r.failure_reason,
  };
}

async function saleById(tx: TenantTx, id: string): Promise<BitcoinSale | null> {
  const [row] = await tx.em.execute<SaleRow[]>(`select ${COLUMNS} from sale where id = ?::uuid`, [id]);
  return row ? saleOf(row) : null;
}

/** One of the caller's tenant's sales, under its row-level security; null for another tenant's or a malformed id. */
export function loadSale(scope: Scope, id: string): Promise<BitcoinSale | null> {
  return isUuid(id) ? scope.tx((tx) => saleById(tx, id.toLowerCase())) : Promise.resolve(null);
}

@Resolver(() => BitcoinSale)
export class SaleResolver {
  @Subscription(() => SaleEvent, {
    name: 'saleUpdated',
    description: 'Status changes of one sale of the caller’s tenant, or of all of them when no id is given.',
    subscribe: servedByGateway,
  })
  saleUpdated(@Root() event: SaleEvent, @Arg('saleId', () => ID, { nullable: true }) _saleId?: string): SaleEvent {
    return event;
  }

  @Query(() => [BitcoinSale], { description: 'The caller’s tenant’s sales, newest first.' })
  sales(
    @Ctx() ctx: Ctx,
    @Arg('status', () => PurchaseStatus, { nullable: true }) status?: PurchaseStatus | null,
    @Arg('limit', () => Int, { defaultValue: 50 }) limit = 50,
  ): Promise<BitcoinSale[]> {
    const scope = ctx.gate.require(ctx, 'purchase:read');
    if (!Number.isInteger(limit) || limit < 1 || limit > 200) throw badInput('limit must be between 1 and 200', 'limit');
    return scope.tx(async ({ em }) => {
      const rows = status
        ? await em.execute<SaleRow[]>(`select ${COLUMNS} from sale where status = ? order by created_at desc, id limit ?`, [status, limit])
        : await em.execute<SaleRow[]>(`select ${COLUMNS} from sale order by created_at desc, id limit ?`, [limit]);
      return rows.map(saleOf);
    });
  }

  @Query(() => BitcoinSale, { nullable: true })
  sale(@Ctx() ctx: Ctx, @Arg('id', () => ID) id: string): Promise<BitcoinSale | null> {
    return loadSale(ctx.gate.require(ctx, 'purchase:read'), id);
  }

  @Mutation(() => BitcoinSale, {
    description:
      'Sells satoshis of the treasury’s holdings now. Idempotent per tenant: the same key and amount return the same sale; the same key with another amount is refused. Above the holdings not already sold: BAD_USER_INPUT INSUFFICIENT_HOLDINGS.',
  })
  requestSale(
    @Ctx() ctx: Ctx,
    @Arg('satoshis', () => SatoshisScalar) satoshis: bigint,
    @Arg('idempotencyKey', () => String) idempotencyKey: string,
  ): Promise<BitcoinSale> {
    const scope = ctx.gate.require(ctx, 'sale:request');
    return scope.tx(async (tx) => {
      const { id } = await requestSale(tx, { userId: scope.userId, sats: satoshis, idempotencyKey, at: new Date() });
      const sale = await saleById(tx, id);
      if (!sale) throw new Error(`sale ${id} vanished in its own transaction`);
      return sale;
    });
  }
}
