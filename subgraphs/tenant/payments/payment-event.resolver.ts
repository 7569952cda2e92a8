import { GraphQLScalarType } from 'graphql';
import { Arg, Ctx, Directive, Field, ID, Int, ObjectType, Query, registerEnumType, Resolver } from 'type-graphql';
import { isUuid } from '../../../lib/db/tenant-context';
import { badInput } from '../../../lib/errors';
import type { SubgraphContext } from '../../../lib/subgraph';
import { PaymentProvider } from './integration.entity';
import { listPaymentEvents, type PaymentEventCursor, type PaymentEventRecord } from './payment-events';
import type { TenantServices } from '../identity/tenant.resolver';

export type Ctx = SubgraphContext<TenantServices>;

export const PaymentEventStatus = { RECEIVED: 'RECEIVED', IGNORED: 'IGNORED', PROCESSED: 'PROCESSED', SKIPPED: 'SKIPPED' } as const;
registerEnumType(PaymentEventStatus, {
  name: 'PaymentEventStatus',
  valuesConfig: {
    RECEIVED: { description: 'Stored and queued; the treasury has not acted on it yet.' },
    IGNORED: { description: 'Verified but of a kind the treasury never acts on (see reason); acknowledged so the provider stops.' },
    PROCESSED: { description: 'Applied to the tenant’s rules (see accruals and purchases).' },
    SKIPPED: { description: 'Looked at and deliberately not applied (see reason), e.g. not in AUD or no rule applies.' },
  },
});

export const PaymentEventKind = { REVENUE: 'REVENUE', REFUND: 'REFUND', BALANCE: 'BALANCE', IGNORED: 'IGNORED' } as const;
registerEnumType(PaymentEventKind, { name: 'PaymentEventKind' });

const PROVIDERS: Record<PaymentEventRecord['provider'], PaymentProvider> = {
  stripe: PaymentProvider.STRIPE,
  square: PaymentProvider.SQUARE,
  paypal: PaymentProvider.PAYPAL,
};

/** An amount in its own currency's minor units: not necessarily AUD, so not AudCents. */
export const MinorUnitsScalar = new GraphQLScalarType<bigint, string>({
  name: 'MinorUnits',
  description: 'An amount in the minor units of its currency (cents for AUD, yen for JPY), as a string. Never a float.',
  serialize(value: unknown): string {
    if (typeof value === 'bigint') return value.toString();
    throw new TypeError('MinorUnits cannot serialize a non-bigint value');
  },
  parseValue(): never {
    throw badInput('MinorUnits is only ever returned, never accepted');
  },
  parseLiteral(): never {
    throw badInput('MinorUnits is only ever returned, never accepted');
  },
});

@ObjectType('PaymentEvent', { description: 'One verified delivery from a payment processor, and what the treasury made of it.' })
@Directive('@key(fields: "id")')
export class PaymentEventNode {
  @Field(() => ID) id!: string;
  @Field(() => ID, { description: 'The tenant it belongs to (always the caller’s).' }) tenantId!: string;
  @Field(() => ID) integrationId!: string;
  @Field(() => PaymentProvider) provider!: PaymentProvider;
  @Field(() => String, { description: 'The processor’s own event id (evt_…, a Square event_id, WH-…).' }) providerEventId!: string;
  @Field(() => String, { description: 'The processor’s event type, e.g. payment_intent.succeeded.' }) eventType!: string;
  @Field(() => PaymentEventKind) kind!: keyof typeof PaymentEventKind;
  @Field(() => MinorUnitsScalar, { nullable: true, description: 'In `currency`’s minor units; null for IGNORED events.' }) amount!: bigint | null;
  @Field(() => String, { nullable: true, description: 'ISO 4217, as the processor reported it (never converted).' }) currency!: string | null;
  @Field(() => String, { nullable: true, description: 'The payment, refund or payout it is about.' }) providerObjectId!: string | null;
  @Field(() => String, { nullable: true, description: 'For a refund: the payment it reverses.' }) relatedPaymentId!: string | null;
  @Field(() => Date, { nullable: true, description: 'When the processor says it happened.' }) occurredAt!: Date | null;
  @Field(() => Date) receivedAt!: Date;
  @Field(() => PaymentEventStatus) status!: keyof typeof PaymentEventStatus;
  @Field(() => String, { nullable: true, description: 'Why it was SKIPPED or IGNORED, or a note on what PROCESSED did.' }) reason!: string | null;
  @Field(() => Boolean, {
    description: 'The delivery held U+0000 or an unpaired surrogate, stored as U+FFFD (the exact bytes are kept for audit).',
  })
  sanitized!: boolean;
}

@ObjectType('PaymentEventEdge')
class PaymentEventEdge {
  @Field(() => String) cursor!: string;
  @Field(() => PaymentEventNode) node!: PaymentEventNode;
}

@ObjectType('PaymentEventConnection')
class PaymentEventConnection {
  @Field(() => [PaymentEventEdge]) edges!: PaymentEventEdge[];
  @Field(() => Boolean) hasNextPage!: boolean;
  @Field(() => String, { nullable: true, description: 'Pass as `after` for the next page.' }) endCursor!: string | null;
}

const MAX_PAGE = 200;
const CURSOR = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z)\|([0-9a-f-]{36})$/i;

const encodeCursor = (e: PaymentEventRecord): string => Buffer.from(`${e.receivedAtExact}|${e.id}`, 'utf8').toString('base64url');

function decodeCursor(after: string): PaymentEventCursor {
  const m = /^[A-Za-z0-9_-]{1,200}$/.test(after) ? CURSOR.exec(Buffer.from(after, 'base64url').toString('utf8')) : null;
  // A real calendar date PostgreSQL accepts: JavaScript rolls 30 February over and reads year 0000, PostgreSQL refuses both.
  const [, receivedAt, id] = m ?? [];
  if (receivedAt === undefined || id === undefined) throw badInput('after is not a cursor from this query', 'after');
  const ms = Date.parse(receivedAt);
  const real = ms >= 0 && new Date(ms).toISOString().slice(0, 23) === receivedAt.slice(0, 23);
  if (!real || !isUuid(id)) throw badInput('after is not a cursor from this query', 'after');
  return { receivedAt, id: id.toLowerCase() };
}

export function toNode(e: PaymentEventRecord): PaymentEventNode {
  return {
    id: e.id,
    tenantId: e.tenantId,
    integrationId: e.integrationId,
    provider: PROVIDERS[e.provider],
    providerEventId: e.providerEventId,
    eventType: e.eventType,
    kind: e.kind,
    amount: e.amountCents,
    currency: e.currency,
    providerObjectId: e.providerObjectId,
    relatedPaymentId: e.relatedPaymentId,
    occurredAt: e.occurredAt,
    receivedAt: e.receivedAt,
    status: e.status,
    reason: e.reason,
    sanitized: e.sanitized,
  };
}

@Resolver(() => PaymentEventNode)
export class PaymentEventResolver {
  @Query(() => PaymentEventConnection, {
    description: 'Deliveries from the tenant’s payment processors, newest first: what arrived, whether it was acted on, and why not.',
  })
  async paymentEvents(
    @Ctx() ctx: Ctx,
    @Arg('first', () => Int, { defaultValue: 50, description: `1 to ${MAX_PAGE}.` }) first: number,
    @Arg('after', () => String, { nullable: true, description: 'The endCursor of the previous page.' }) after?: string | null,
    @Arg('status', () => PaymentEventStatus, { nullable: true }) status?: keyof typeof PaymentEventStatus | null,
    @Arg('integrationId', () => ID, { nullable: true }) integrationId?: string | null,
  ): Promise<PaymentEventConnection> {
    const scope = ctx.gate.require(ctx, 'integration:read');
    if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE) throw badInput(`first must be between 1 and ${MAX_PAGE}`, 'first');
    const cursor = after === undefined || after === null ? null : decodeCursor(after);
    if (integrationId !== undefined && integrationId !== null && !isUuid(integrationId)) throw badInput('integrationId is not an id', 'integrationId');
    const page = await scope.tx(({ em }) => listPaymentEvents(em, { status, integrationId: integrationId?.toLowerCase() }, first, cursor));
    const edges = page.events.map((e) => ({ cursor: encodeCursor(e), node: toNode(e) }));
    return { edges, hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null };
  }
}
