import { BigIntType, Entity, PrimaryKey, PrimaryKeyProp, Property } from '@mikro-orm/core';
import { Directive, Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { AudCentsScalar, DecimalScalar, SatoshisScalar } from '../../../lib/money';
import { PurchaseStatus } from './purchase-state';

export { PurchaseStatus } from './purchase-state';

export enum PurchaseSource {
  RULE = 'RULE',
  MANUAL = 'MANUAL',
  SCHEDULE = 'SCHEDULE',
  CUTOFF = 'CUTOFF',
}
registerEnumType(PurchaseSource, { name: 'PurchaseSource' });

const big = () => new BigIntType('bigint');

@ObjectType('BitcoinPurchase', { description: 'One market buy of bitcoin for a tenant, from request to fill.' })
@Directive('@key(fields: "id")')
@Entity({ tableName: 'purchase' })
export class Purchase {
  [PrimaryKeyProp]?: ['tenantId', 'id'];

  @PrimaryKey({ type: 'uuid' })
  tenantId!: string;

  @Field(() => ID)
  @PrimaryKey({ type: 'uuid' })
  id!: string;

  @Field(() => ID, { nullable: true, description: 'The rule that caused it; null for manual purchases.' })
  @Property({ type: 'uuid', nullable: true })
  ruleId!: string | null;

  @Field(() => PurchaseSource)
  @Property({ type: 'text' })
  source!: PurchaseSource;

  @Field(() => PurchaseStatus)
  @Property({ type: 'text' })
  status!: PurchaseStatus;

  @Field(() => AudCentsScalar, { description: 'AUD asked to spend, in cents.' })
  @Property({ type: big() })
  amountAudCents!: bigint;

  @Field(() => String, { description: 'Our idempotency key at the exchange, derived from the purchase id.' })
  @Property({ type: 'text' })
  clientOrderId!: string;

  @Field(() => String, { nullable: true, description: 'paper, kraken, swyftx or zerocap; paper is simulated.' })
  @Property({ type: 'text', nullable: true })
  exchange!: string | null;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  exchangeOrderId!: string | null;

  @Field(() => SatoshisScalar, { description: 'Bitcoin received, in satoshis.' })
  @Property({ type: big(), fieldName: 'filled_sats' })
  satoshis!: bigint;

  @Field(() => AudCentsScalar, { description: 'AUD exchanged for bitcoin, excluding fees.' })
  @Property({ type: big() })
  spentAudCents!: bigint;

  @Field(() => AudCentsScalar, { description: 'Exchange fees, recorded separately from the spend.' })
  @Property({ type: big() })
  feeAudCents!: bigint;

  @Field(() => DecimalScalar, { nullable: true, description: 'Average fill price, AUD per BTC.' })
  @Property({ type: 'text', nullable: true, columnType: 'numeric' })
  averagePrice!: string | null;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  failureReason!: string | null;

  @Property({ type: 'uuid', nullable: true })
  requestedBy!: string | null;

  @Property({ type: 'datetime', columnType: 'timestamptz', nullable: true })
  leaseUntil!: Date | null;

  /** The fencing token of the worker that holds the lease (random per claim). */
  @Property({ type: 'uuid', nullable: true })
  leaseOwner!: string | null;

  @Field(() => Int)
  @Property({ type: 'integer' })
  version!: number;

  @Field(() => Date)
  @Property({ type: 'datetime', columnType: 'timestamptz' })
  createdAt!: Date;

  @Field(() => Date)
  @Property({ type: 'datetime', columnType: 'timestamptz' })
  updatedAt!: Date;
}

@ObjectType('PurchaseTransition', { description: 'One stored change of a purchase’s status.' })
@Entity({ tableName: 'purchase_transition' })
export class PurchaseTransition {
  [PrimaryKeyProp]?: ['tenantId', 'id'];
  @PrimaryKey({ type: 'uuid' }) tenantId!: string;
  @Field(() => ID) @PrimaryKey({ type: 'uuid' }) id!: string;
  @Property({ type: 'uuid' }) purchaseId!: string;
  @Field(() => PurchaseStatus, { nullable: true }) @Property({ type: 'text', nullable: true }) fromStatus!: PurchaseStatus | null;
  @Field(() => PurchaseStatus) @Property({ type: 'text' }) toStatus!: PurchaseStatus;
  @Field(() => String, { nullable: true }) @Property({ type: 'text', nullable: true }) reason!: string | null;
  @Field(() => Date) @Property({ type: 'datetime', columnType: 'timestamptz' }) at!: Date;
}

@ObjectType('ExchangeAttempt', { description: 'One call the router made to an exchange for a purchase.' })
@Entity({ tableName: 'exchange_attempt' })
export class ExchangeAttemptRecord {
  [PrimaryKeyProp]?: ['tenantId', 'id'];
  @PrimaryKey({ type: 'uuid' }) tenantId!: string;
  @Field(() => ID) @PrimaryKey({ type: 'uuid' }) id!: string;
  @Property({ type: 'uuid' }) purchaseId!: string;
  @Field(() => String) @Property({ type: 'text' }) exchange!: string;
  @Field(() => String, { description: 'lookup, place or reconcile.' }) @Property({ type: 'text' }) operation!: string;
  @Field(() => String) @Property({ type: 'text' }) outcome!: string;
  @Field(() => String, { nullable: true }) @Property({ type: 'text', nullable: true }) errorKind!: string | null;
  @Field(() => String, { nullable: true }) @Property({ type: 'text', nullable: true }) detail!: string | null;
  @Field(() => Date) @Property({ type: 'datetime', columnType: 'timestamptz' }) at!: Date;
}

@ObjectType('Holding', { description: 'Bitcoin a tenant holds at one exchange, with its AUD cost base.' })
@Entity({ tableName: 'holding' })
export class Holding {
  [PrimaryKeyProp]?: ['tenantId', 'exchange'];
  @PrimaryKey({ type: 'uuid' }) tenantId!: string;
  @Field(() => String) @PrimaryKey({ type: 'text' }) exchange!: string;
  @Field(() => SatoshisScalar) @Property({ type: big() }) sats!: bigint;
  @Field(() => AudCentsScalar, { description: 'What the bitcoin cost, fees included (CGT cost base).' })
  @Property({ type: big() })
  costBaseAudCents!: bigint;
  @Field(() => AudCentsScalar) @Property({ type: big() }) feesAudCents!: bigint;
  @Field(() => Int) @Property({ type: 'integer' }) purchases!: number;
  @Field(() => Date) @Property({ type: 'datetime', columnType: 'timestamptz' }) updatedAt!: Date;
}

@ObjectType('PurchaseFunding', {
  description: 'One payment whose share of the accrual a purchase took: what it consumed of that payment, less what it returned unspent.',
})
export class PurchaseFunding {
  @Field(() => String, { description: 'REVENUE or BALANCE: the kind of payment event; UNTRACED for money recorded before payments were tracked.' })
  kind!: string;
  @Field(() => ID, { nullable: true, description: 'The payment event (tenant subgraph) whose share it is.' }) paymentEventId!: string | null;
  @Field(() => AudCentsScalar, { description: 'Whole cents; fractions are apportioned so the rows sum to what the purchase took from the accrual.' })
  amountAudCents!: bigint;
  @Field(() => DecimalScalar, { description: 'The exact share in cents, to 1/10,000 of a cent (e.g. "0.5"); the rows sum exactly to what the purchase took.' })
  exactAudCents!: string;
  @Field(() => String, { nullable: true }) note!: string | null;
}
