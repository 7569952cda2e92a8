import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Ctx, Info, Int, Query, Resolver, Root, Subscription } from 'type-graphql';
import { servedByGateway, type SubgraphContext } from '../../lib/subgraph';
import { BtcPrice, CandleIntervalEnum, Currency, PriceCandle } from './price-tick.entity';
import type { PriceService } from './price.service';

export type MarketPriceServices = { prices: PriceService };
type Ctx = SubgraphContext<MarketPriceServices>;

/**
 * How long an answer of `btcPrice` is the same for everyone: one second, the shortest Cache-Control
 * age and the simulated feed's fastest tick (PRICE_TICK_MS, 5 s by default), so a reused answer is at
 * most a second behind what this subgraph would say. Live ticks go out on the subscription regardless.
 */
export const BTC_PRICE_MAX_AGE_S = 1;

/** Apollo Server's cache-control plugin puts `cacheControl` on `info` (it is on in every Apollo Server). */
type InfoWithCacheControl = GraphQLResolveInfo & { cacheControl?: { setCacheHint(hint: { maxAge: number; scope: 'PUBLIC' | 'PRIVATE' }): void } };

// Subscription fields are declared here, by the subgraph that owns the data (see servedByGateway).

@Resolver()
export class PriceResolver {
  @Query(() => BtcPrice, { nullable: true, description: 'The latest BTC price; null before the first tick.' })
  btcPrice(
    @Ctx() ctx: Ctx,
    @Info() info: InfoWithCacheControl,
    @Arg('currency', () => Currency, { defaultValue: Currency.AUD }) currency: Currency,
  ): Promise<BtcPrice | null> {
    ctx.gate.allowPublic(ctx, 'price:read');
    // Public data: a response of only this field says `Cache-Control: max-age=1, public`, which the
    // gateway reuses for every caller (gateway/edge/subgraph-dedupe.ts). Mixed with a private field, it says no-store.
    info.cacheControl?.setCacheHint({ maxAge: BTC_PRICE_MAX_AGE_S, scope: 'PUBLIC' });
    return ctx.services.prices.current(currency);
  }

  @Query(() => [PriceCandle], {
    description:
      'BTC price candles (open/high/low/close of the published ticks) whose bucket starts in [the bucket containing `from`, `to`), ' +
      'oldest first. `to` defaults to now. At most 1000 candles per query: a longer range is a BAD_USER_INPUT. Public.',
  })
  async priceHistory(
    @Ctx() ctx: Ctx,
    // Declared last-first: type-graphql prints `priceHistory(currency, interval, from, to)`.
    @Arg('to', () => Date, { nullable: true, description: 'End of the range (exclusive); default now.' }) to: Date | null,
    @Arg('from', () => Date, { description: 'Start of the range; the candle containing it is included.' }) from: Date,
    @Arg('interval', () => CandleIntervalEnum) interval: CandleIntervalEnum,
    @Arg('currency', () => Currency, { defaultValue: Currency.AUD }) currency: Currency,
  ): Promise<PriceCandle[]> {
    ctx.gate.allowPublic(ctx, 'price:read');
    const candles = await ctx.services.prices.history(currency, interval, from, to ?? undefined);
    return candles.map((c) => ({ ...c, currency: c.currency as Currency, interval: c.interval as CandleIntervalEnum }));
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
