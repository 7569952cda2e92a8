import { Arg, Ctx, Field, Mutation, ObjectType, Resolver } from 'type-graphql';
import type { SubgraphContext } from '../../../../lib/subgraph';
import { PaymentProvider } from '../integration.entity';
import type { PaymentOAuthService } from './oauth.service';

export type PaymentOAuthServices = { paymentOAuth: PaymentOAuthService };
type Ctx = SubgraphContext<PaymentOAuthServices>;

@ObjectType('PaymentOAuthStart', { description: "Send the browser to authorizationUrl; the provider redirects back to the platform's callback, which lands on the dashboard." })
class PaymentOAuthStart {
  @Field(() => String) authorizationUrl!: string;
  @Field(() => Date, { description: 'The connection attempt is refused after this.' }) expiresAt!: Date;
}

@Resolver()
export class PaymentOAuthResolver {
  @Mutation(() => PaymentOAuthStart, { description: 'Starts connecting a processor by OAuth (Square; Stripe Connect for existing Standard accounts). Tokens are sealed at rest and never returned.' })
  startPaymentOAuth(
    @Ctx() ctx: Ctx,
    @Arg('provider', () => PaymentProvider) provider: PaymentProvider,
    @Arg('name', () => String, { nullable: true }) name?: string | null,
  ): Promise<PaymentOAuthStart> {
    return ctx.services.paymentOAuth.start(ctx.gate.require(ctx, 'integration:write'), provider, name);
  }
}
