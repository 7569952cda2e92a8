import { BigIntType, Entity, PrimaryKey, PrimaryKeyProp, Property } from '@mikro-orm/core';
import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, ID, ObjectType } from 'type-graphql';
import { Int64Scalar } from '../../lib/money';

@ObjectType('AuditEvent', { description: 'One link of the tenant’s tamper-evident audit chain.' })
@Entity({ tableName: 'audit_event' })
export class AuditEvent {
  [PrimaryKeyProp]?: ['tenantId', 'id'];

  @PrimaryKey({ type: 'uuid' })
  tenantId!: string;

  @Field(() => ID)
  @PrimaryKey({ type: 'uuid' })
  id!: string;

  @Field(() => Int64Scalar, { description: 'Position in the chain, from 1.' })
  @Property({ type: new BigIntType('bigint') })
  seq!: bigint;

  @Field(() => String)
  @Property({ type: 'text' })
  eventType!: string;

  @Field(() => ID, { nullable: true })
  @Property({ type: 'uuid', nullable: true })
  actorId!: string | null;

  @Field(() => String)
  @Property({ type: 'text' })
  subjectType!: string;

  @Field(() => String)
  @Property({ type: 'text' })
  subjectId!: string;

  @Field(() => GraphQLJSONObject)
  @Property({ type: 'jsonb' })
  payload!: Record<string, unknown>;

  @Field(() => Date)
  @Property({ type: 'datetime', columnType: 'timestamptz' })
  createdAt!: Date;

  @Field(() => String)
  @Property({ type: 'text' })
  prevHash!: string;

  @Field(() => String)
  @Property({ type: 'text' })
  hash!: string;
}

@Entity({ tableName: 'audit_head' })
export class AuditHead {
  @PrimaryKey({ type: 'uuid' })
  tenantId!: string;

  @Property({ type: new BigIntType('bigint') })
  lastSeq!: bigint;

  @Property({ type: 'text' })
  lastHash!: string;

  @Property({ type: 'datetime', columnType: 'timestamptz' })
  updatedAt!: Date;
}
