import { Entity, PrimaryKey, Property, type Opt } from '@mikro-orm/core';

/** Failed-login counters per account and per ip+account (keys hold a hash, never the email). */
@Entity({ tableName: 'login_throttle', schema: 'public' })
export class LoginThrottleRow {
  @PrimaryKey({ type: 'text' })
  key!: string;

  @Property({ type: 'integer' })
  failures!: number;

  @Property({ type: 'datetime', columnType: 'timestamptz', nullable: true })
  lockedUntil: Opt<Date> | null = null;

  @Property({ type: 'integer' })
  lockedAtFailures: Opt<number> = 0;

  @Property({ type: 'datetime', columnType: 'timestamptz' })
  lastFailureAt!: Date;
}
