import { BigIntType, Entity, PrimaryKey, Property } from '@mikro-orm/core';
import { Field, Int, ObjectType, registerEnumType } from 'type-graphql';
import { DecimalScalar } from '../../lib/money';

export enum Currency {
  AUD = 'AUD',
  USD = 'USD',
}
registerEnumType(Currency, { name: 'Currency' });

/** Market data is platform data (public schema), the same for every tenant. */
@Entity({ tableName: 'price_tick', schema: 'public' })
export class PriceTick {
  @PrimaryKey({ type: new BigIntType('bigint'), autoincrement: true })
  id!: bigint;

  @Property({ type: 'text' })
  currency!: Currency;

  @Property({ type: 'decimal', columnType: 'numeric(20,2)' })
  price!: string;

  @Property({ type: 'text' })
  source!: string;

  @Property({ type: 'datetime', columnType: 'timestamptz' })
  at!: Date;
}

@ObjectType('BtcPrice', { description: 'The price of one bitcoin.' })
export class BtcPrice {
  @Field(() => Currency) currency!: Currency;
  @Field(() => DecimalScalar, { description: 'Exact decimal, e.g. "152345.67".' }) price!: string;
  @Field(() => String, {
    description:
      'Where it came from: the sources of the median joined by "+" (e.g. "BTC_MARKETS+INDEPENDENT_RESERVE+KRAKEN"). SIMULATED is a seeded simulation, not a market.',
  })
  source!: string;
  @Field(() => [String], { description: 'The sources this price is the median of (stale and outlying quotes excluded), sorted.' })
  sources!: string[];
  @Field(() => Date, { description: 'When the price was aggregated.' }) at!: Date;
}

/** Candle widths. Buckets are UTC: a day runs from 00:00Z. */
export enum CandleIntervalEnum {
  ONE_MINUTE = '1m',
  ONE_HOUR = '1h',
  ONE_DAY = '1d',
}
registerEnumType(CandleIntervalEnum, { name: 'CandleInterval', description: 'Candle width; buckets start on UTC boundaries.' });

@ObjectType('PriceCandle', { description: 'Open/high/low/close of the BTC price over one interval, from the platform’s published ticks.' })
export class PriceCandle {
  @Field(() => Currency) currency!: Currency;
  @Field(() => CandleIntervalEnum) interval!: CandleIntervalEnum;
  @Field(() => Date, { description: 'Start of the bucket (inclusive); it ends one interval later (exclusive).' }) bucketStart!: Date;
  @Field(() => DecimalScalar) open!: string;
  @Field(() => DecimalScalar) high!: string;
  @Field(() => DecimalScalar) low!: string;
  @Field(() => DecimalScalar) close!: string;
  @Field(() => Int, { description: 'How many ticks the candle is made of.' }) ticks!: number;
}
