import { Ctx, FieldResolver, Query, Resolver, Root } from 'type-graphql';
import { AppError, ErrorCode, notFound } from '../../../lib/errors';
import type { SubgraphContext } from '../../../lib/subgraph';
import type { IntegrationService } from '../payments/integration.service';
import type { PaymentOAuthServices } from '../payments/oauth/oauth.resolver';
import type { WebhookServices } from '../endpoints/webhook.resolver';
import type { NotificationServices } from '../notifications/notification.resolver';
import type { AuthService } from './auth.service';
import { Tenant, User } from './tenant.entity';

export type TenantServices = { auth: AuthService; integrations: IntegrationService } & PaymentOAuthServices & NotificationServices & WebhookServices;
type Ctx = SubgraphContext<TenantServices>;

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
