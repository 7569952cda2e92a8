import { Field, InputType, Int } from 'type-graphql';
import { AudCentsScalar } from '../../../lib/money';
import { RuleType } from './rule.entity';

@InputType('TreasuryRuleInput')
export class TreasuryRuleInput {
  @Field(() => String) name!: string;
  @Field(() => RuleType) type!: RuleType;
  @Field(() => Boolean, { defaultValue: true }) enabled!: boolean;
  @Field(() => Int, { nullable: true }) percentageBps?: number | null;
  @Field(() => AudCentsScalar, { nullable: true }) amountAudCents?: bigint | null;
  @Field(() => String, { nullable: true }) schedule?: string | null;
  @Field(() => AudCentsScalar, { nullable: true }) minOrderAudCents?: bigint | null;
  @Field(() => AudCentsScalar, { nullable: true }) maxPerPurchaseAudCents?: bigint | null;
  @Field(() => AudCentsScalar, { nullable: true }) dailyCapAudCents?: bigint | null;
  @Field(() => AudCentsScalar, { nullable: true }) monthlyCapAudCents?: bigint | null;
  @Field(() => String, { nullable: true }) provider?: string | null;
  @Field(() => Int, { nullable: true }) lookbackDays?: number | null;
  @Field(() => Int, { nullable: true }) cooldownMinutes?: number | null;
}

@InputType('TreasuryRulePatch', { description: 'Fields to change; omitted fields stay as they are.' })
export class TreasuryRulePatch {
  @Field(() => String, { nullable: true }) name?: string;
  @Field(() => Int, { nullable: true }) percentageBps?: number | null;
  @Field(() => AudCentsScalar, { nullable: true }) amountAudCents?: bigint | null;
  @Field(() => String, { nullable: true }) schedule?: string | null;
  @Field(() => AudCentsScalar, { nullable: true }) minOrderAudCents?: bigint | null;
  @Field(() => AudCentsScalar, { nullable: true }) maxPerPurchaseAudCents?: bigint | null;
  @Field(() => AudCentsScalar, { nullable: true }) dailyCapAudCents?: bigint | null;
  @Field(() => AudCentsScalar, { nullable: true }) monthlyCapAudCents?: bigint | null;
  @Field(() => String, { nullable: true }) provider?: string | null;
  @Field(() => Int, { nullable: true }) lookbackDays?: number | null;
  @Field(() => Int, { nullable: true }) cooldownMinutes?: number | null;
  @Field(() => Int, { nullable: true, description: 'Optimistic lock: the version you read.' }) expectedVersion?: number;
}
