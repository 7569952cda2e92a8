import { Arg, Ctx, Int, Query, Resolver, Root, Subscription } from 'type-graphql';
import { AppError, ErrorCode } from '../../lib/errors';
import type { SubgraphContext } from '../../lib/subgraph';
import { BtcPrice, Currency } from './price-tick.entity';
import type { PriceService } from './price.service';

export type MarketPriceServices = { prices: PriceService };
type Ctx = SubgraphContext<MarketPriceServices>;

/**
 * Subscription fields are declared here, by the subgraph that owns the data, so they are part of
 * this subgraph's SDL and of the supergraph. They are *served* by the gateway (graphql-ws on its
 * `/graphql`, fed by the `price.btc.<ccy>` bus channel); a subgraph never streams to clients.
 */
function servedByGateway(): never {
  throw new AppError(ErrorCode.BAD_USER_INPUT, 'subscriptions are served by the gateway over graphql-ws, not by a subgraph');
}

@Resolver()
export class PriceResolver {
  @Query(() => BtcPrice, { nullable: true, description: 'The latest BTC price; null before the first tick.' })
  btcPrice(@Ctx() ctx: Ctx, @Arg('currency', () => Currency, { defaultValue: Currency.AUD }) currency: Currency): Promise<BtcPrice | null> {
    ctx.gate.allowPublic(ctx, 'price:read');
    return ctx.services.prices.current(currency);
  }

  @Subscription(() => BtcPrice, {
    name: 'btcPrice',
    description:
      'Every BTC price tick in one currency, as it is recorded (channel `price.btc.<ccy>`). Public. ' +
      'minIntervalMs thins the stream: a tick is skipped when the last one sent on this subscription is younger than that.',
    subscribe: servedByGateway,
  })
  btcPriceTicks(
    @Root() tick: BtcPrice,
    // type-graphql lists arguments last-first in the SDL: this order prints `btcPrice(currency, minIntervalMs)`.
    @Arg('minIntervalMs', () => Int, { nullable: true }) _minIntervalMs: number | null,
    @Arg('currency', () => Currency, { defaultValue: Currency.AUD }) _currency: Currency,
  ): BtcPrice {
    return tick;
  }
}
