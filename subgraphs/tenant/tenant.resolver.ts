import { Arg, Ctx, Field, FieldResolver, ID, InputType, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { SubgraphContext } from '../../lib/subgraph';
import { notFound } from '../../lib/errors';
import { AuthPayload, Tenant, User } from './tenant.entity';
import type { AuthService } from './auth.service';
import type { IntegrationService } from './integration.service';

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

@Resolver()
export class AuthResolver {
  @Mutation(() => AuthPayload, { description: 'Creates a tenant and its OWNER, and signs them in.' })
  signUp(@Ctx() ctx: Ctx, @Arg('input', () => SignUpInput) input: SignUpInput): Promise<AuthPayload> {
    return ctx.services.auth.signUp(input);
  }

  @Mutation(() => AuthPayload)
  login(@Ctx() ctx: Ctx, @Arg('input', () => LoginInput) input: LoginInput): Promise<AuthPayload> {
    return ctx.services.auth.login(input);
  }

  @Mutation(() => AuthPayload, { description: 'Exchanges a refresh token for new tokens; the old one stops working.' })
  refreshSession(@Ctx() ctx: Ctx, @Arg('refreshToken', () => String) refreshToken: string): Promise<AuthPayload> {
    return ctx.services.auth.refresh(refreshToken);
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
  @Query(() => Tenant, { description: 'The tenant the caller’s token is for.' })
  async tenant(@Ctx() ctx: Ctx): Promise<Tenant> {
    const scope = ctx.gate.require(ctx, 'tenant:read');
    const tenant = await ctx.services.auth.tenant(scope.tenantId);
    if (!tenant) throw notFound('tenant');
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
      const scope = p.kind === 'user' ? ctx.gate.forReference(ctx, 'user:read-self', p.tenantId) : null;
      return scope ? ctx.services.auth.user(scope.tenantId, ref.id) : null;
    },
  },
};
