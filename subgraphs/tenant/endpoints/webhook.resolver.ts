import { Arg, Ctx, Field, ID, InputType, Int, Mutation, ObjectType, Query, Resolver } from 'type-graphql';
import type { SubgraphContext } from '../../../lib/subgraph';
import type { AttemptView, DeliveryView, EndpointView, WebhookEndpointService } from './webhook-endpoint.service';

@ObjectType('WebhookEndpoint', { description: 'A URL of the tenant’s own systems that receives signed notices. Its secret is never returned after create/rotate.' })
export class WebhookEndpointObject implements EndpointView {
  @Field(() => ID) id!: string;
  @Field(() => String) url!: string;
  @Field(() => String) description!: string;
  @Field(() => [String], { description: 'Notice types delivered, e.g. purchase.filled, purchase.failed.' }) eventTypes!: EndpointView['eventTypes'];
  @Field(() => Boolean) enabled!: boolean;
  @Field(() => Date) createdAt!: Date;
  @Field(() => Date, { nullable: true, description: 'Set during a secret rotation: until then the previous secret also signs (a second v1=).' })
  previousSecretUntil!: Date | null;
}

@ObjectType('WebhookEndpointWithSecret', { description: 'Returned once, by create and rotate: store the secret now, it is not shown again.' })
export class WebhookEndpointWithSecret {
  @Field(() => WebhookEndpointObject) endpoint!: WebhookEndpointObject;
  @Field(() => String, { description: 'whsec_…: verify Liquid-Signature with it (docs/webhooks-outbound.md).' }) secret!: string;
}

@ObjectType('WebhookAttempt', { description: 'One HTTP attempt of a delivery.' })
export class WebhookAttemptObject implements AttemptView {
  @Field(() => Int) attempt!: number;
  @Field(() => Int, { nullable: true, description: 'Null when no response came (timeout, connection refused).' }) statusCode!: number | null;
  @Field(() => Int) latencyMs!: number;
  @Field(() => String, { nullable: true }) error!: string | null;
  @Field(() => Date) attemptedAt!: Date;
}

@ObjectType('WebhookDelivery', { description: 'One event sent (or being sent) to one endpoint, with its attempts.' })
export class WebhookDeliveryObject implements DeliveryView {
  @Field(() => ID) id!: string;
  @Field(() => ID) endpointId!: string;
  @Field(() => ID, { description: 'Liquid-Event-Id: the same for retries and replays.' }) eventId!: string;
  @Field(() => String) eventType!: string;
  @Field(() => String, { description: 'PENDING, RETRYING, SUCCEEDED or FAILED (gave up after 3 days, or the endpoint was disabled).' }) status!: string;
  @Field(() => Int) attempts!: number;
  @Field(() => Date, { nullable: true }) nextAttemptAt!: Date | null;
  @Field(() => ID, { nullable: true }) replayOf!: string | null;
  @Field(() => Date) createdAt!: Date;
  @Field(() => [WebhookAttemptObject]) attemptLog!: WebhookAttemptObject[];
}

@InputType('CreateWebhookEndpointInput')
export class CreateWebhookEndpointInput {
  @Field(() => String, { description: 'https://…; http://localhost only outside production.' }) url!: string;
  @Field(() => String, { nullable: true }) description?: string | null;
  @Field(() => [String]) eventTypes!: string[];
}

export type WebhookServices = { webhooks: WebhookEndpointService };
type Ctx = SubgraphContext<WebhookServices>;

@Resolver()
export class WebhookEndpointResolver {
  @Query(() => [WebhookEndpointObject], { description: 'The tenant’s outbound webhook endpoints.' })
  webhookEndpoints(@Ctx() ctx: Ctx): Promise<EndpointView[]> {
    return ctx.services.webhooks.list(ctx.gate.require(ctx, 'webhook:manage'));
  }

  @Query(() => [WebhookDeliveryObject], { description: 'An endpoint’s deliveries, newest first, with every attempt.' })
  webhookDeliveries(@Ctx() ctx: Ctx, @Arg('endpointId', () => ID) endpointId: string, @Arg('limit', () => Int, { defaultValue: 50 }) limit: number): Promise<DeliveryView[]> {
    return ctx.services.webhooks.deliveries(ctx.gate.require(ctx, 'webhook:manage'), endpointId, limit);
  }

  @Mutation(() => WebhookEndpointWithSecret, { description: 'Registers an endpoint; the signing secret is in the answer, once.' })
  createWebhookEndpoint(@Ctx() ctx: Ctx, @Arg('input', () => CreateWebhookEndpointInput) input: CreateWebhookEndpointInput): Promise<{ endpoint: EndpointView; secret: string }> {
    return ctx.services.webhooks.create(ctx.gate.require(ctx, 'webhook:manage'), input);
  }

  @Mutation(() => WebhookEndpointObject)
  setWebhookEndpointEnabled(@Ctx() ctx: Ctx, @Arg('id', () => ID) id: string, @Arg('enabled', () => Boolean) enabled: boolean): Promise<EndpointView> {
    return ctx.services.webhooks.setEnabled(ctx.gate.require(ctx, 'webhook:manage'), id, enabled);
  }

  @Mutation(() => Boolean, { description: 'Deletes an endpoint and its delivery log.' })
  deleteWebhookEndpoint(@Ctx() ctx: Ctx, @Arg('id', () => ID) id: string): Promise<boolean> {
    return ctx.services.webhooks.delete(ctx.gate.require(ctx, 'webhook:manage'), id);
  }

  @Mutation(() => WebhookEndpointWithSecret, { description: 'A new signing secret (shown once); the old one also signs for 24 h.' })
  rotateWebhookEndpointSecret(@Ctx() ctx: Ctx, @Arg('id', () => ID) id: string): Promise<{ endpoint: EndpointView; secret: string }> {
    return ctx.services.webhooks.rotateSecret(ctx.gate.require(ctx, 'webhook:manage'), id);
  }

  @Mutation(() => WebhookDeliveryObject, { description: 'Sends a past delivery again, as a new delivery of the same event.' })
  replayWebhookDelivery(@Ctx() ctx: Ctx, @Arg('id', () => ID) id: string): Promise<DeliveryView> {
    return ctx.services.webhooks.replay(ctx.gate.require(ctx, 'webhook:manage'), id);
  }
}
