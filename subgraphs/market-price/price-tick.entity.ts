import { BigIntType, Entity, PrimaryKey, Property } from '@mikro-orm/core';
import { Field, ObjectType, registerEnumType } from 'type-graphql';
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
  @Field(() => String, { description: 'Where it came from: SIMULATED is a seeded simulation, not a market.' }) source!: string;
  @Field(() => Date) at!: Date;
}
