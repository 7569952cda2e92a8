import { Arg, Ctx, Field, FieldResolver, ID, InputType, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { SubgraphContext } from '../../../lib/subgraph';
import { AppError, ErrorCode, notFound } from '../../../lib/errors';
import {
  ApiKey,
  ApiKeyCreated,
  AuthPayload,
  Invitation,
  InvitationCreated,
  LoginPayload,
  Member,
  MfaConfirmation,
  MfaEnrollment,
  RoleEnum,
  Tenant,
  TenantMembership,
  User,
} from './tenant.entity';
import type { AuthService } from './auth.service';
import type { IntegrationService } from '../payments/integration.service';
import { assertRole, type RequireOwner } from './member.service';
import type { Role } from '../../../lib/auth/tokens';

export type TenantServices = { auth: AuthService; integrations: IntegrationService };
type Ctx = SubgraphContext<TenantServices>;

@InputType('SignUpInput')
class SignUpInput {
  @Field(() => String) tenantName!: string;
  @Field(() => String) email!: string;
  @Field(() => String) password!: string;
  @Field(() => String, { nullable: true, description: 'IANA zone; default Australia/Sydney.' }) timezone?: string | null;
}

@InputType('LoginInput')
class LoginInput {
  @Field(() => String) email!: string;
  @Field(() => String) password!: string;
  @Field(() => ID, { nullable: true, description: 'Which of your tenants to enter; default the first you joined.' })
  tenantId?: string | null;
}

@InputType('CreateApiKeyInput')
class CreateApiKeyInput {
  @Field(() => String) name!: string;
  @Field(() => [String], { description: 'read:treasury, write:purchases, read:compliance, read:market.' }) scopes!: string[];
  @Field(() => Date, { nullable: true }) expiresAt?: Date | null;
}

/** Asks the gate for `owner:manage` when an action touches the OWNER role. */
const ownerCheck =
  (ctx: Ctx): RequireOwner =>
  () =>
    void ctx.gate.require(ctx, 'owner:manage');

@Resolver()
export class AuthResolver {
  @Mutation(() => AuthPayload, { description: 'Creates a tenant and its OWNER, and signs them in.' })
  signUp(@Ctx() ctx: Ctx, @Arg('input', () => SignUpInput) input: SignUpInput): Promise<AuthPayload> {
    return ctx.services.auth.signUp(input);
  }

  @Mutation(() => LoginPayload, {
    description:
      'Password step. Without MFA: tokens. With MFA enrolled: mfaRequired and a challenge for verifyMfa. Repeated failures lock the account for a while (ACCOUNT_LOCKED).',
  })
  login(@Ctx() ctx: Ctx, @Arg('input', () => LoginInput) input: LoginInput): Promise<LoginPayload> {
    return ctx.services.auth.login(input, { clientIp: ctx.clientIp });
  }

  @Mutation(() => AuthPayload, { description: 'Second login step: a TOTP code or an unused recovery code. Tokens record amr [pwd, otp].' })
  verifyMfa(@Ctx() ctx: Ctx, @Arg('challenge', () => String) challenge: string, @Arg('code', () => String) code: string): Promise<AuthPayload> {
    return ctx.services.auth.verifyMfa(challenge, code, { clientIp: ctx.clientIp });
  }

  @Mutation(() => AuthPayload, { description: 'Exchanges a refresh token for new tokens; the old one stops working.' })
  refreshSession(@Ctx() ctx: Ctx, @Arg('refreshToken', () => String) refreshToken: string): Promise<AuthPayload> {
    return ctx.services.auth.refresh(refreshToken);
  }

  @Mutation(() => Boolean, { description: 'Ends the session of this refresh token (its whole family and its access tokens).' })
  logout(@Ctx() ctx: Ctx, @Arg('refreshToken', () => String) refreshToken: string): Promise<boolean> {
    return ctx.services.auth.logout(refreshToken);
  }

  @Mutation(() => Boolean, { description: 'Ends every session of the signed-in user, in every tenant; access tokens issued before now stop working.' })
  logoutEverywhere(@Ctx() ctx: Ctx): Promise<boolean> {
    return ctx.services.auth.logoutEverywhere(ctx.gate.require(ctx, 'user:read-self'));
  }

  @Mutation(() => AuthPayload, { description: 'New tokens for another tenant you belong to.' })
  switchTenant(@Ctx() ctx: Ctx, @Arg('tenantId', () => ID) tenantId: string): Promise<AuthPayload> {
    ctx.gate.require(ctx, 'user:read-self');
    return ctx.services.auth.switchTenant(ctx.principal, tenantId);
  }

  @Mutation(() => AuthPayload, {
    description:
      'Accepts an invitation. New email: give a password, an account is created. Existing account: be signed in as it (or give its password).',
  })
  acceptInvite(
    @Ctx() ctx: Ctx,
    @Arg('token', () => String) token: string,
    @Arg('password', () => String, { nullable: true }) password?: string | null,
  ): Promise<AuthPayload> {
    return ctx.services.auth.members.accept(ctx.principal, token, password);
  }
}

@Resolver()
export class MemberResolver {
  @Query(() => [Member], { description: 'Members of the caller’s tenant and their roles.' })
  members(@Ctx() ctx: Ctx): Promise<Member[]> {
    return ctx.services.auth.members.list(ctx.gate.require(ctx, 'member:read'));
  }

  @Query(() => [Invitation], { description: 'Invitations of the caller’s tenant, newest first (OWNER, ADMIN).' })
  invitations(@Ctx() ctx: Ctx): Promise<Invitation[]> {
    return ctx.services.auth.members.invitations(ctx.gate.require(ctx, 'invitation:read'));
  }

  @Query(() => [TenantMembership], { description: 'Every tenant the signed-in user belongs to.' })
  async myTenants(@Ctx() ctx: Ctx): Promise<TenantMembership[]> {
    const scope = ctx.gate.require(ctx, 'user:read-self');
    return ctx.services.auth.myTenants(scope.userId);
  }

  @Mutation(() => InvitationCreated, { description: 'Invites an email with a role; returns the single-use token once (valid 7 days).' })
  inviteUser(@Ctx() ctx: Ctx, @Arg('email', () => String) email: string, @Arg('role', () => RoleEnum) role: Role): Promise<InvitationCreated> {
    return ctx.services.auth.members.invite(ctx.gate.require(ctx, 'user:manage'), email, assertRole(role), ownerCheck(ctx));
  }

  @Mutation(() => Invitation)
  revokeInvitation(@Ctx() ctx: Ctx, @Arg('id', () => ID) id: string): Promise<Invitation> {
    return ctx.services.auth.members.revokeInvitation(ctx.gate.require(ctx, 'user:manage'), id, ownerCheck(ctx));
  }

  @Mutation(() => Member, { description: 'Changes a member’s role. Granting or taking away OWNER needs an OWNER; the last OWNER stays.' })
  changeMemberRole(@Ctx() ctx: Ctx, @Arg('userId', () => ID) userId: string, @Arg('role', () => RoleEnum) role: Role): Promise<Member> {
    return ctx.services.auth.members.changeRole(ctx.gate.require(ctx, 'user:manage'), userId, assertRole(role), ownerCheck(ctx));
  }

  @Mutation(() => ID, { description: 'Removes a member (their sessions for this tenant end) and returns their user id.' })
  removeMember(@Ctx() ctx: Ctx, @Arg('userId', () => ID) userId: string): Promise<string> {
    return ctx.services.auth.members.remove(ctx.gate.require(ctx, 'user:manage'), userId, ownerCheck(ctx));
  }

  @Mutation(() => Member, { description: 'The caller (OWNER) makes another member OWNER and becomes ADMIN.' })
  transferOwnership(@Ctx() ctx: Ctx, @Arg('userId', () => ID) userId: string): Promise<Member> {
    return ctx.services.auth.members.transferOwnership(ctx.gate.require(ctx, 'owner:manage'), userId);
  }

  @Mutation(() => Tenant, { description: 'OWNER only: OWNERs and ADMINs need a TOTP-verified session for sensitive actions.' })
  setRequireMfaForAdmins(@Ctx() ctx: Ctx, @Arg('enabled', () => Boolean) enabled: boolean): Promise<Tenant> {
    return ctx.services.auth.members.setRequireMfaForAdmins(ctx.gate.require(ctx, 'tenant:security'), enabled);
  }
}

@Resolver()
export class MfaResolver {
  @Mutation(() => MfaEnrollment, { description: 'Starts TOTP enrolment: scan the URI, then confirmMfa with a code.' })
  enrollMfa(@Ctx() ctx: Ctx): Promise<MfaEnrollment> {
    return ctx.services.auth.mfa.enroll(ctx.gate.require(ctx, 'user:read-self'));
  }

  @Mutation(() => MfaConfirmation, { description: 'Confirms enrolment with a current code; returns 10 single-use recovery codes once.' })
  async confirmMfa(@Ctx() ctx: Ctx, @Arg('code', () => String) code: string): Promise<MfaConfirmation> {
    return { recoveryCodes: await ctx.services.auth.mfa.confirm(ctx.gate.require(ctx, 'user:read-self'), code) };
  }

  @Mutation(() => Boolean, { description: 'Turns MFA off; needs a current TOTP or recovery code.' })
  disableMfa(@Ctx() ctx: Ctx, @Arg('code', () => String) code: string): Promise<boolean> {
    return ctx.services.auth.mfa.disable(ctx.gate.require(ctx, 'user:read-self'), code);
  }
}

@Resolver()
export class ApiKeyResolver {
  @Query(() => [ApiKey], { description: 'The tenant’s API keys (never their secrets), newest first.' })
  apiKeys(@Ctx() ctx: Ctx): Promise<ApiKey[]> {
    return ctx.services.auth.apiKeys.list(ctx.gate.require(ctx, 'apikey:read'));
  }

  @Mutation(() => ApiKeyCreated, { description: 'Creates a key; the full key is in this response only.' })
  createApiKey(@Ctx() ctx: Ctx, @Arg('input', () => CreateApiKeyInput) input: CreateApiKeyInput): Promise<ApiKeyCreated> {
    return ctx.services.auth.apiKeys.create(ctx.gate.require(ctx, 'apikey:manage'), input);
  }

  @Mutation(() => ApiKey, { description: 'Revokes a key at once; requests with it are UNAUTHENTICATED.' })
  revokeApiKey(@Ctx() ctx: Ctx, @Arg('id', () => ID) id: string): Promise<ApiKey> {
    return ctx.services.auth.apiKeys.revoke(ctx.gate.require(ctx, 'apikey:manage'), id);
  }
}

@Resolver(() => User)
export class UserResolver {
  @Query(() => User, { description: 'The signed-in user, in the tenant their token is for.' })
  async me(@Ctx() ctx: Ctx): Promise<User> {
    const scope = ctx.gate.require(ctx, 'user:read-self');
    const user = await ctx.services.auth.user(scope.tenantId, scope.userId);
    if (!user) throw notFound('user');
    return user;
  }

  @FieldResolver(() => Tenant)
  async tenant(@Root() user: User, @Ctx() ctx: Ctx): Promise<Tenant> {
    const scope = ctx.gate.require(ctx, 'tenant:read', user.tenantId);
    const tenant = await ctx.services.auth.tenant(scope.tenantId);
    if (!tenant) throw notFound('tenant');
    return tenant;
  }
}

@Resolver(() => Tenant)
export class TenantResolver {
  @Query(() => Tenant, { description: 'The tenant the caller’s token (or API key) is for.' })
  async tenant(@Ctx() ctx: Ctx): Promise<Tenant> {
    const scope = ctx.gate.require(ctx, 'tenant:read');
    const tenant = await ctx.services.auth.tenant(scope.tenantId);
    if (!tenant) throw new AppError(ErrorCode.NOT_FOUND, 'tenant not found');
    return tenant;
  }
}

export const tenantReferences = {
  Tenant: {
    async __resolveReference(ref: { id: string }, ctx: Ctx): Promise<Tenant | null> {
      const scope = ctx.gate.forReference(ctx, 'tenant:read', ref.id);
      return scope ? ctx.services.auth.tenant(scope.tenantId) : null;
    },
  },
  User: {
    async __resolveReference(ref: { id: string }, ctx: Ctx): Promise<User | null> {
      const p = ctx.principal;
      const scope = p.kind === 'user' ? ctx.gate.forReference(ctx, 'member:read', p.tenantId) : null;
      return scope ? ctx.services.auth.user(scope.tenantId, ref.id) : null;
    },
  },
};
