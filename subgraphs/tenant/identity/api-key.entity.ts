import { ArrayType, Entity, PrimaryKey, Property, type Opt } from '@mikro-orm/core';
import { Field, ID, ObjectType } from 'type-graphql';

@ObjectType('ApiKey', { description: 'A tenant-bound, scoped key for partners. The secret is shown once, at creation.' })
@Entity({ tableName: 'api_key', schema: 'public' })
export class ApiKey {
  @Field(() => ID)
  @PrimaryKey({ type: 'uuid' })
  id!: string;

  @Property({ type: 'uuid' })
  tenantId!: string;

  @Field(() => String)
  @Property({ type: 'text' })
  name!: string;

  /** The 12-character lookup part; `abt_live_<lookup>` identifies the key (and is what the gateway rate-limits on). */
  @Property({ type: 'text' })
  lookup!: string;

  @Property({ type: 'text', hidden: true, lazy: true })
  secretHash!: string;

  @Field(() => [String], { description: 'e.g. read:treasury, write:purchases, read:compliance, read:market.' })
  @Property({ type: ArrayType, columnType: 'text[]' })
  scopes!: string[];

  @Property({ type: 'uuid' })
  createdBy!: string;

  @Field(() => Date, { nullable: true })
  @Property({ type: 'datetime', columnType: 'timestamptz', nullable: true })
  expiresAt: Opt<Date> | null = null;

  @Field(() => Date, { nullable: true, description: 'Updated at most once a minute.' })
  @Property({ type: 'datetime', columnType: 'timestamptz', nullable: true })
  lastUsedAt: Opt<Date> | null = null;

  @Field(() => Date, { nullable: true })
  @Property({ type: 'datetime', columnType: 'timestamptz', nullable: true })
  revokedAt: Opt<Date> | null = null;

  @Field(() => Date)
  @Property({ type: 'datetime', columnType: 'timestamptz' })
  createdAt!: Date;

  @Field(() => String, { description: 'The key’s public identifier, `abt_live_<lookup>`; never the secret.' })
  get prefix(): Opt<string> {
    return `abt_live_${this.lookup}`;
  }
}
