import { BigIntType, Entity, PrimaryKey, PrimaryKeyProp, Property } from '@mikro-orm/core';
import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';

export enum PaymentProvider {
  STRIPE = 'stripe',
  SQUARE = 'square',
  PAYPAL = 'paypal',
}
registerEnumType(PaymentProvider, { name: 'PaymentProvider' });

/** How an integration was connected: a pasted webhook secret, or the provider's OAuth (payments/oauth/). */
export enum PaymentConnection {
  SECRET = 'SECRET',
  OAUTH = 'OAUTH',
}
registerEnumType(PaymentConnection, { name: 'PaymentConnection' });

/** A connected payment processor. Credentials are sealed (AES-256-GCM) and never leave this subgraph. */
@ObjectType('PaymentIntegration')
@Entity({ tableName: 'payment_integration' })
export class PaymentIntegration {
  [PrimaryKeyProp]?: ['tenantId', 'id'];

  @PrimaryKey({ type: 'uuid' })
  tenantId!: string;

  @Field(() => ID)
  @PrimaryKey({ type: 'uuid' })
  id!: string;

  @Field(() => PaymentProvider)
  @Property({ type: 'text' })
  provider!: PaymentProvider;

  @Field(() => String)
  @Property({ type: 'text' })
  name!: string;

  @Property({ type: 'text', hidden: true })
  credentialsSealed!: string;

  @Field(() => String)
  @Property({ type: 'text' })
  status!: 'ACTIVE' | 'DISCONNECTED';

  @Field(() => PaymentConnection)
  @Property({ type: 'text' })
  connection!: PaymentConnection;

  @Field(() => String, { nullable: true, description: "The provider's account id (Square merchant id, Stripe account id) when connected by OAuth." })
  @Property({ type: 'text', nullable: true })
  accountId!: string | null;

  /** When the sealed OAuth access token expires (refreshed before then); null for pasted secrets. */
  @Property({ type: 'datetime', columnType: 'timestamptz', nullable: true })
  tokenExpiresAt!: Date | null;

  @Field(() => Date)
  @Property({ type: 'datetime', columnType: 'timestamptz' })
  createdAt!: Date;
}

/** A connected account's owner, for app-level webhooks that name the account (Square merchant_id, Stripe `account`). */
@Entity({ tableName: 'payment_account_route', schema: 'public' })
export class PaymentAccountRoute {
  [PrimaryKeyProp]?: ['provider', 'accountId'];

  @PrimaryKey({ type: 'text' })
  provider!: PaymentProvider;

  @PrimaryKey({ type: 'text' })
  accountId!: string;

  @Property({ type: 'uuid' })
  tenantId!: string;

  @Property({ type: 'uuid' })
  integrationId!: string;

  @Property({ type: 'datetime', columnType: 'timestamptz' })
  createdAt!: Date;
}

@Entity({ tableName: 'integration_route', schema: 'public' })
export class IntegrationRoute {
  @PrimaryKey({ type: 'uuid' })
  integrationId!: string;

  @Property({ type: 'uuid' })
  tenantId!: string;

  @Property({ type: 'text' })
  provider!: PaymentProvider;

  @Property({ type: 'datetime', columnType: 'timestamptz' })
  createdAt!: Date;
}

export type PaymentEventStatus = 'RECEIVED' | 'IGNORED' | 'PROCESSED' | 'SKIPPED';

@Entity({ tableName: 'payment_event' })
export class PaymentEvent {
  [PrimaryKeyProp]?: ['tenantId', 'id'];

  @PrimaryKey({ type: 'uuid' })
  tenantId!: string;

  @PrimaryKey({ type: 'uuid' })
  id!: string;

  @Property({ type: 'uuid' })
  integrationId!: string;

  @Property({ type: 'text' })
  provider!: PaymentProvider;

  @Property({ type: 'text' })
  providerEventId!: string;

  @Property({ type: 'text' })
  eventType!: string;

  @Property({ type: 'text' })
  kind!: 'REVENUE' | 'REFUND' | 'BALANCE' | 'IGNORED';

  @Property({ type: new BigIntType('bigint'), nullable: true })
  amountCents!: bigint | null;

  @Property({ type: 'text', nullable: true })
  currency!: string | null;

  @Property({ type: 'text', nullable: true })
  providerObjectId!: string | null;

  @Property({ type: 'text', nullable: true })
  relatedPaymentId!: string | null;

  @Property({ type: 'datetime', columnType: 'timestamptz', nullable: true })
  occurredAt!: Date | null;

  @Property({ type: 'text' })
  status!: PaymentEventStatus;

  @Property({ type: 'text', nullable: true })
  statusReason!: string | null;

  @Property({ type: 'jsonb' })
  raw!: unknown;

  @Property({ type: 'datetime', columnType: 'timestamptz' })
  receivedAt!: Date;
}
