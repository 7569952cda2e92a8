import { Arg, Ctx, Field, FieldResolver, ID, InputType, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { SubgraphContext } from '../../../lib/subgraph';
import { PaymentConnection, PaymentIntegration, PaymentProvider } from './integration.entity';
import type { TenantServices } from '../identity/tenant.resolver';

type Ctx = SubgraphContext<TenantServices>;

@InputType('ConnectPaymentIntegrationInput', { description: 'Secrets are sealed at rest and never returned.' })
class ConnectPaymentIntegrationInput {
  @Field(() => PaymentProvider) provider!: PaymentProvider;
  @Field(() => String) name!: string;
  @Field(() => String, { nullable: true, description: 'Stripe endpoint signing secret (whsec_…).' }) stripeWebhookSecret?: string | null;
  @Field(() => String, { nullable: true, description: 'Square webhook subscription signature key.' }) squareSignatureKey?: string | null;
  @Field(() => String, { nullable: true }) paypalClientId?: string | null;
  @Field(() => String, { nullable: true }) paypalClientSecret?: string | null;
  @Field(() => String, { nullable: true, description: 'The id PayPal gave this webhook subscription.' }) paypalWebhookId?: string | null;
}

@Resolver(() => PaymentIntegration)
export class IntegrationResolver {
  @Query(() => [PaymentIntegration])
  paymentIntegrations(@Ctx() ctx: Ctx): Promise<PaymentIntegration[]> {
    return ctx.services.integrations.list(ctx.gate.require(ctx, 'integration:read'));
  }

  @Mutation(() => PaymentIntegration, { description: 'Connects a processor; point its webhooks at the returned webhookUrl.' })
  connectPaymentIntegration(
    @Ctx() ctx: Ctx,
    @Arg('input', () => ConnectPaymentIntegrationInput) input: ConnectPaymentIntegrationInput,
  ): Promise<PaymentIntegration> {
    return ctx.services.integrations.connect(ctx.gate.require(ctx, 'integration:write'), input);
  }

  @Mutation(() => PaymentIntegration)
  disconnectPaymentIntegration(@Ctx() ctx: Ctx, @Arg('id', () => ID) id: string): Promise<PaymentIntegration> {
    // One connected by OAuth is also revoked at the provider; a pasted secret is simply disconnected.
    return ctx.services.paymentOAuth.disconnect(ctx.gate.require(ctx, 'integration:write'), id);
  }

  @FieldResolver(() => String, { description: 'The URL to register with the provider.' })
  webhookUrl(@Root() i: PaymentIntegration, @Ctx() ctx: Ctx): string {
    ctx.gate.require(ctx, 'integration:read', i.tenantId);
    // Connected by OAuth: the provider delivers to the app's one endpoint, routed by the account id.
    return i.connection === PaymentConnection.OAUTH ? ctx.services.integrations.connectWebhookUrl(i.provider) : ctx.services.integrations.webhookUrl(i);
  }
}
