import { Arg, Ctx, Field, InputType, Mutation, ObjectType, Query, Resolver } from 'type-graphql';
import type { TreasuryContext } from '../treasury.context';

type Ctx = TreasuryContext;

@ObjectType('TreasurySettings', { description: 'Where a tenant’s purchases are routed, and its daily cut-off.' })
export class TreasurySettings {
  @Field(() => String, { description: 'paper (default, simulated), kraken, swyftx or zerocap.' }) primaryExchange!: string;
  @Field(() => [String]) failoverExchanges!: string[];
  @Field(() => String, { description: 'Local time (tenant timezone) when small accruals are flushed, HH:MM.' }) cutoffLocalTime!: string;
}

@InputType('TreasurySettingsPatch')
export class TreasurySettingsPatch {
  @Field(() => String, { nullable: true }) primaryExchange?: string | null;
  @Field(() => [String], { nullable: true }) failoverExchanges?: string[] | null;
  @Field(() => String, { nullable: true }) cutoffLocalTime?: string | null;
}

@Resolver(() => TreasurySettings)
export class TreasurySettingsResolver {
  @Query(() => TreasurySettings)
  treasurySettings(@Ctx() ctx: Ctx): Promise<TreasurySettings> {
    return ctx.services.purchases.settings(ctx.gate.require(ctx, 'rule:read'));
  }

  @Mutation(() => TreasurySettings)
  updateTreasurySettings(@Ctx() ctx: Ctx, @Arg('patch', () => TreasurySettingsPatch) patch: TreasurySettingsPatch): Promise<TreasurySettings> {
    // Where the money goes is sensitive: a second factor where the tenant requires MFA.
    return ctx.services.purchases.updateSettings(ctx.gate.requireSensitive(ctx, 'rule:write'), patch);
  }
}
