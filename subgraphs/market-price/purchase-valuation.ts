import DataLoader from 'dataloader';
import { Ctx, Directive, Field, FieldResolver, ID, ObjectType, Resolver, Root } from 'type-graphql';
import { AudCentsScalar, centsForSats, decimalString, SatoshisScalar } from '../../lib/money';
import type { SubgraphContext } from '../../lib/subgraph';
import { Currency, type BtcPrice } from './price-tick.entity';
import type { MarketPriceServices } from './price.resolver';

export type Ctx = SubgraphContext<MarketPriceServices>;

/**
 * The market's view of a purchase (owned by treasury): what its bitcoin is worth now. The gateway
 * fetches `satoshis` and `costAudCents` from treasury first (@requires), so one query shows a
 * purchase and its value.
 */
@ObjectType('BitcoinPurchase')
@Directive('@key(fields: "id")')
export class PurchaseValuation {
  @Field(() => ID) id!: string;
  @Field(() => SatoshisScalar) @Directive('@external') satoshis!: bigint;
  @Field(() => AudCentsScalar) @Directive('@external') costAudCents!: bigint;
}

/**
 * The latest price, looked up once per request: an `_entities` batch values many purchases (two
 * fields each), and without a tick in memory each would otherwise read price_tick on its own.
 */
const loaders = new WeakMap<Ctx, DataLoader<Currency, BtcPrice | null>>();
function latestPrice(ctx: Ctx): DataLoader<Currency, BtcPrice | null> {
  let loader = loaders.get(ctx);
  if (!loader) {
    loader = new DataLoader<Currency, BtcPrice | null>((currencies) => Promise.all(currencies.map((c) => ctx.services.prices.current(c))));
    loaders.set(ctx, loader);
  }
  return loader;
}

/** AUD cents for `sats` at `price` (AUD per BTC, exact decimal string), rounded half up. No floats. */
export function valueInCents(sats: bigint, price: string): bigint {
  return centsForSats(sats, decimalString(price), 'half-up');
}

@Resolver(() => PurchaseValuation)
export class PurchaseValuationResolver {
  @FieldResolver(() => AudCentsScalar, { nullable: true, description: 'The bitcoin bought, valued at the latest AUD price (cents); null before the first tick.' })
  @Directive('@requires(fields: "satoshis costAudCents")')
  async currentValueAud(@Root() p: PurchaseValuation, @Ctx() ctx: Ctx): Promise<bigint | null> {
    ctx.gate.allowPublic(ctx, 'price:read');
    const price = await latestPrice(ctx).load(Currency.AUD);
    return price ? valueInCents(BigInt(p.satoshis), price.price) : null;
  }

  @FieldResolver(() => AudCentsScalar, { nullable: true, description: 'Current value minus what it cost, fees included (cents; negative for a loss).' })
  @Directive('@requires(fields: "satoshis costAudCents")')
  async unrealizedGainAud(@Root() p: PurchaseValuation, @Ctx() ctx: Ctx): Promise<bigint | null> {
    const value = await this.currentValueAud(p, ctx);
    return value === null ? null : value - BigInt(p.costAudCents);
  }
}
