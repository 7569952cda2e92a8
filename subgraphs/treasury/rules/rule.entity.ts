import { BigIntType, Entity, PrimaryKey, PrimaryKeyProp, Property } from '@mikro-orm/core';
import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { Directive } from 'type-graphql';
import { AudCentsScalar } from '../../../lib/money';

export enum RuleType {
  PERCENTAGE_OF_REVENUE = 'PERCENTAGE_OF_REVENUE',
  FIXED_DCA = 'FIXED_DCA',
  PRICE_DROP = 'PRICE_DROP',
  BALANCE_THRESHOLD = 'BALANCE_THRESHOLD',
}
registerEnumType(RuleType, { name: 'TreasuryRuleType' });

const money = () => new BigIntType('bigint');

@ObjectType('TreasuryRule', { description: 'A tenant’s rule for turning revenue or cash into bitcoin.' })
@Directive('@key(fields: "id")')
@Entity({ tableName: 'treasury_rule' })
export class TreasuryRule {
  [PrimaryKeyProp]?: ['tenantId', 'id'];

  @PrimaryKey({ type: 'uuid' })
  tenantId!: string;

  @Field(() => ID)
  @PrimaryKey({ type: 'uuid' })
  id!: string;

  @Field(() => String)
  @Property({ type: 'text' })
  name!: string;

  @Field(() => RuleType)
  @Property({ type: 'text' })
  type!: RuleType;

  @Field(() => Boolean)
  @Property({ type: 'boolean' })
  enabled!: boolean;

  @Field(() => Int, { nullable: true, description: 'Share in basis points (1000 = 10%): of revenue, or the price drop.' })
  @Property({ type: 'integer', nullable: true })
  percentageBps!: number | null;

  @Field(() => AudCentsScalar, { nullable: true, description: 'Fixed amount (DCA, price drop) or threshold (balance).' })
  @Property({ type: money(), nullable: true })
  amountAudCents!: bigint | null;

  @Field(() => String, { nullable: true, description: 'DAILY, WEEKLY, MONTHLY or a 5-field cron expression.' })
  @Property({ type: 'text', nullable: true })
  schedule!: string | null;

  @Field(() => AudCentsScalar)
  @Property({ type: money() })
  minOrderAudCents!: bigint;

  @Field(() => AudCentsScalar, { nullable: true })
  @Property({ type: money(), nullable: true })
  maxPerPurchaseAudCents!: bigint | null;

  @Field(() => AudCentsScalar, { nullable: true })
  @Property({ type: money(), nullable: true })
  dailyCapAudCents!: bigint | null;

  @Field(() => AudCentsScalar, { nullable: true })
  @Property({ type: money(), nullable: true })
  monthlyCapAudCents!: bigint | null;

  @Field(() => String, { nullable: true, description: 'PERCENTAGE_OF_REVENUE only: count revenue from this provider alone (stripe, square, paypal).' })
  @Property({ type: 'text', nullable: true })
  provider!: string | null;

  @Field(() => Int, { nullable: true, description: 'PRICE_DROP: days in the moving average (default 7).' })
  @Property({ type: 'integer', nullable: true })
  lookbackDays!: number | null;

  @Field(() => Int, { nullable: true, description: 'PRICE_DROP: minutes to wait after firing before firing again (default 1440).' })
  @Property({ type: 'integer', nullable: true })
  cooldownMinutes!: number | null;

  @Field(() => Date, { nullable: true, description: 'When the rule last created a purchase.' })
  @Property({ type: 'datetime', columnType: 'timestamptz', nullable: true })
  lastFiredAt!: Date | null;

  @Field(() => Date, { nullable: true, description: 'FIXED_DCA: the next scheduled purchase.' })
  @Property({ type: 'datetime', columnType: 'timestamptz', nullable: true })
  nextRunAt!: Date | null;

  @Field(() => Int)
  @Property({ type: 'integer', version: true })
  version!: number;

  @Field(() => Date)
  @Property({ type: 'datetime', columnType: 'timestamptz' })
  createdAt!: Date;

  @Field(() => Date)
  @Property({ type: 'datetime', columnType: 'timestamptz' })
  updatedAt!: Date;
}
