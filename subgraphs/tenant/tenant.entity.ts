import { Entity, PrimaryKey, PrimaryKeyProp, Property } from '@mikro-orm/core';
import { Directive, Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import { ROLES, type Role } from '../../lib/auth/tokens';

export enum Plan {
  STANDARD = 'STANDARD',
  ISOLATED = 'ISOLATED',
}
registerEnumType(Plan, { name: 'Plan', description: 'STANDARD tenants share the pool schema; ISOLATED ones get their own.' });

export const RoleEnum = Object.fromEntries(ROLES.map((r) => [r, r])) as { [K in Role]: K };
registerEnumType(RoleEnum, { name: 'Role' });

@ObjectType('Tenant', { description: 'A business using Liquid ABT.' })
@Directive('@key(fields: "id")')
@Entity({ tableName: 'tenant', schema: 'public' })
export class Tenant {
  @Field(() => ID)
  @PrimaryKey({ type: 'uuid' })
  id!: string;

  @Field(() => String)
  @Property({ type: 'text' })
  name!: string;

  @Field(() => Plan)
  @Property({ type: 'text' })
  plan!: Plan;

  @Property({ type: 'text' })
  schemaName!: string;

  @Field(() => String, { description: 'IANA timezone used for daily caps and schedules.' })
  @Property({ type: 'text' })
  timezone!: string;

  @Field(() => Date)
  @Property({ type: 'datetime', columnType: 'timestamptz' })
  createdAt!: Date;
}

@Entity({ tableName: 'app_user', schema: 'public' })
export class UserRecord {
  @PrimaryKey({ type: 'uuid' })
  id!: string;

  @Property({ type: 'text' })
  email!: string;

  @Property({ type: 'text', hidden: true, lazy: true })
  passwordHash!: string;

  @Property({ type: 'datetime', columnType: 'timestamptz' })
  createdAt!: Date;
}

@Entity({ tableName: 'membership', schema: 'public' })
export class Membership {
  [PrimaryKeyProp]?: ['tenantId', 'userId'];

  @PrimaryKey({ type: 'uuid' })
  tenantId!: string;

  @PrimaryKey({ type: 'uuid' })
  userId!: string;

  @Property({ type: 'text' })
  role!: Role;

  @Property({ type: 'datetime', columnType: 'timestamptz' })
  createdAt!: Date;
}

@Entity({ tableName: 'refresh_token', schema: 'public' })
export class RefreshToken {
  @PrimaryKey({ type: 'uuid' })
  id!: string;

  @Property({ type: 'uuid' })
  familyId!: string;

  @Property({ type: 'uuid' })
  userId!: string;

  @Property({ type: 'uuid' })
  tenantId!: string;

  @Property({ type: 'text' })
  tokenHash!: string;

  @Property({ type: 'datetime', columnType: 'timestamptz' })
  expiresAt!: Date;

  @Property({ type: 'datetime', columnType: 'timestamptz', nullable: true })
  usedAt!: Date | null;

  @Property({ type: 'datetime', columnType: 'timestamptz', nullable: true })
  revokedAt!: Date | null;

  @Property({ type: 'datetime', columnType: 'timestamptz' })
  createdAt!: Date;
}

/** The signed-in user as the API shows them: within one tenant, with that tenant's role. */
@ObjectType('User')
@Directive('@key(fields: "id")')
export class User {
  @Field(() => ID) id!: string;
  @Field(() => String) email!: string;
  @Field(() => RoleEnum) role!: Role;
  @Field(() => ID) tenantId!: string;
}

@ObjectType('AuthPayload')
export class AuthPayload {
  @Field(() => String) accessToken!: string;
  @Field(() => Date) accessTokenExpiresAt!: Date;
  @Field(() => String, { description: 'Single use: each refresh returns a new one.' }) refreshToken!: string;
  @Field(() => User) user!: User;
  @Field(() => Tenant) tenant!: Tenant;
}
