import { Arg, Ctx, Field, ID, InputType, Mutation, Resolver } from 'type-graphql';
import type { SubgraphContext } from '../../../lib/subgraph';
import { AuthPayload, LoginPayload, MfaConfirmation, MfaEnrollment } from './tenant.entity';
import type { TenantServices } from './tenant.resolver';

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
