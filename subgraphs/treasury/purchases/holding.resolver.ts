import { Ctx, FieldResolver, Query, Resolver, Root } from 'type-graphql';
import { DecimalScalar } from '../../../lib/money';
import type { TreasuryContext } from '../treasury.context';
import { Holding } from './purchase.entity';

type Ctx = TreasuryContext;

@Resolver(() => Holding)
export class HoldingResolver {
  @Query(() => [Holding], { description: 'Bitcoin held per exchange, with cost base and fees.' })
  holdings(@Ctx() ctx: Ctx): Promise<Holding[]> {
    return ctx.services.purchases.holdings(ctx.gate.require(ctx, 'purchase:read'));
  }

  @FieldResolver(() => DecimalScalar, { nullable: true, description: 'Average price paid, fees included: AUD per BTC, to the cent (half up).' })
  averagePrice(@Root() h: Holding): string | null {
    return averagePriceAudPerBtc(h.costBaseAudCents, h.sats);
  }
}

/** AUD cents spent for `sats` satoshis → AUD per BTC with two decimals, rounded half up; exact integer arithmetic. */
export function averagePriceAudPerBtc(costCents: bigint, sats: bigint): string | null {
  if (sats <= 0n) return null;
  const centsPerBtc = (costCents * 100_000_000n * 2n + sats) / (2n * sats);
  return `${centsPerBtc / 100n}.${(centsPerBtc % 100n).toString().padStart(2, '0')}`;
}
