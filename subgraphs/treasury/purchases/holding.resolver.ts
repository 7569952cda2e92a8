import { Ctx, FieldResolver, Query, Resolver, Root } from 'type-graphql';
import { DecimalScalar, averagePriceAudPerBtc } from '../../../lib/money';
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
