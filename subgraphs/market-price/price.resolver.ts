import { Arg, Ctx, Query, Resolver } from 'type-graphql';
import type { SubgraphContext } from '../../lib/subgraph';
import { BtcPrice, Currency } from './price-tick.entity';
import type { PriceService } from './price.service';

export type MarketPriceServices = { prices: PriceService };
type Ctx = SubgraphContext<MarketPriceServices>;

@Resolver()
export class PriceResolver {
  @Query(() => BtcPrice, { nullable: true, description: 'The latest BTC price; null before the first tick.' })
  btcPrice(@Ctx() ctx: Ctx, @Arg('currency', () => Currency, { defaultValue: Currency.AUD }) currency: Currency): Promise<BtcPrice | null> {
    ctx.gate.allowPublic(ctx, 'price:read');
    return ctx.services.prices.current(currency);
  }
}
