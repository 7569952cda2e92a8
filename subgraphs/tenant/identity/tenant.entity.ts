import { ArrayType, Entity, PrimaryKey, PrimaryKeyProp, Property, type Opt } from '@mikro-orm/core';
import { Directive, Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import { ROLES, type Role } from '../../../lib/auth/tokens';
import { ApiKey } from './api-key.entity';

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

  @Field(() => Boolean, { description: 'OWNERs and ADMINs need a second factor (TOTP) for sensitive actions.' })
  @Property({ type: 'boolean', default: false })
  requireMfaForAdmins: Opt<boolean> = false;
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

  /** Access tokens issued before this are refused (logout everywhere). */
  @Property({ type: 'datetime', columnType: 'timestamptz', nullable: true })
  tokensValidAfter: Opt<Date> | null = null;

  @Property({ type: 'text', nullable: true, hidden: true, lazy: true })
  mfaSecretSealed: Opt<string> | null = null;

  @Property({ type: 'text', nullable: true, hidden: true, lazy: true })
  mfaPendingSecretSealed: Opt<string> | null = null;

  @Property({ type: 'datetime', columnType: 'timestamptz', nullable: true })
  mfaEnabledAt: Opt<Date> | null = null;

  @Property({ type: 'bigint', nullable: true, hidden: true })
  mfaLastTimeStep: Opt<string> | null = null;
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

  /** The authentication methods of the session this token continues. */
  @Property({ type: ArrayType, columnType: 'text[]' })
  amr: Opt<string[]> = ['pwd'];
}

@Entity({ tableName: 'mfa_recovery_code', schema: 'public' })
export class RecoveryCode {
  @PrimaryKey({ type: 'uuid' })
  id!: string;

  @Property({ type: 'uuid' })
  userId!: string;

  @Property({ type: 'text' })
  codeHash!: string;

  @Property({ type: 'datetime', columnType: 'timestamptz', nullable: true })
  usedAt: Opt<Date> | null = null;

  @Property({ type: 'datetime', columnType: 'timestamptz' })
  createdAt!: Date;
}

@ObjectType('Invitation', { description: 'An invitation to join a tenant with a role; single use, expiring.' })
@Entity({ tableName: 'invitation', schema: 'public' })
export class Invitation {
  @Field(() => ID)
  @PrimaryKey({ type: 'uuid' })
  id!: string;

  @Property({ type: 'uuid' })
  tenantId!: string;

  @Field(() => String)
  @Property({ type: 'text' })
  email!: string;

  @Field(() => RoleEnum)
  @Property({ type: 'text' })
  role!: Role;

  @Property({ type: 'text', hidden: true })
  tokenHash!: string;

  @Property({ type: 'uuid' })
  invitedBy!: string;

  @Field(() => Date)
  @Property({ type: 'datetime', columnType: 'timestamptz' })
  expiresAt!: Date;

  @Field(() => Date, { nullable: true })
  @Property({ type: 'datetime', columnType: 'timestamptz', nullable: true })
  acceptedAt: Opt<Date> | null = null;

  @Property({ type: 'uuid', nullable: true })
  acceptedBy: Opt<string> | null = null;

  @Field(() => Date, { nullable: true })
  @Property({ type: 'datetime', columnType: 'timestamptz', nullable: true })
  revokedAt: Opt<Date> | null = null;

  @Field(() => Date)
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
  @Field(() => Boolean, { description: 'Whether a TOTP second factor is enrolled and confirmed.' }) mfaEnabled!: boolean;
}

@ObjectType('Member', { description: 'A user’s membership of the caller’s tenant.' })
export class Member {
  @Field(() => ID) userId!: string;
  @Field(() => String) email!: string;
  @Field(() => RoleEnum) role!: Role;
  @Field(() => Date) joinedAt!: Date;
}

@ObjectType('TenantMembership', { description: 'One of the tenants the signed-in user belongs to.' })
export class TenantMembership {
  @Field(() => Tenant) tenant!: Tenant;
  @Field(() => RoleEnum) role!: Role;
  @Field(() => Date) joinedAt!: Date;
}

@ObjectType('InvitationCreated')
export class InvitationCreated {
  @Field(() => Invitation) invitation!: Invitation;
  @Field(() => String, { description: 'Shown once. Until a mail service exists, hand it to the invitee yourself.' }) token!: string;
}

@ObjectType('ApiKeyCreated')
export class ApiKeyCreated {
  @Field(() => ApiKey) apiKey!: ApiKey;
  @Field(() => String, { description: 'The full key `abt_live_<prefix>_<secret>`; shown this once, never again.' }) key!: string;
}

@ObjectType('MfaEnrollment')
export class MfaEnrollment {
  @Field(() => String, { description: 'Base32 TOTP secret, for manual entry.' }) secret!: string;
  @Field(() => String, { description: 'otpauth:// URI for a QR code.' }) otpauthUri!: string;
}

@ObjectType('MfaConfirmation')
export class MfaConfirmation {
  @Field(() => [String], { description: '10 single-use recovery codes, shown once.' }) recoveryCodes!: string[];
}

@ObjectType('LoginPayload', {
  description: 'Either a session, or (when the account has MFA) mfaRequired with a challenge for verifyMfa.',
})
export class LoginPayload {
  @Field(() => String, { nullable: true }) accessToken!: string | null;
  @Field(() => Date, { nullable: true }) accessTokenExpiresAt!: Date | null;
  @Field(() => String, { nullable: true }) refreshToken!: string | null;
  @Field(() => User, { nullable: true }) user!: User | null;
  @Field(() => Tenant, { nullable: true }) tenant!: Tenant | null;
  @Field(() => Boolean) mfaRequired!: boolean;
  @Field(() => String, { nullable: true, description: 'Pass to verifyMfa with a TOTP or recovery code; valid 5 minutes.' })
  mfaChallenge!: string | null;
}

@ObjectType('AuthPayload')
export class AuthPayload {
  @Field(() => String) accessToken!: string;
  @Field(() => Date) accessTokenExpiresAt!: Date;
  @Field(() => String, { description: 'Single use: each refresh returns a new one.' }) refreshToken!: string;
  @Field(() => User) user!: User;
  @Field(() => Tenant) tenant!: Tenant;
}
