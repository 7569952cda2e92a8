import { Arg, Ctx, Field, Mutation, ObjectType, Query, Resolver, registerEnumType } from 'type-graphql';
import type { SubgraphContext } from '../../../lib/subgraph';
import type { NotificationPreferenceService } from './notification-preferences';

/** The notice types a member may choose email for (values are the notice contract's types). */
export enum NotificationType {
  PURCHASE_FILLED = 'purchase.filled',
  PURCHASE_FAILED = 'purchase.failed',
}
registerEnumType(NotificationType, { name: 'NotificationType', description: 'What a notification is about.' });

@ObjectType('NotificationPreference', { description: 'Whether the signed-in member gets one kind of notification by email.' })
export class NotificationPreference {
  @Field(() => NotificationType)
  type!: NotificationType;

  @Field(() => Boolean)
  email!: boolean;

  @Field(() => Boolean, { description: 'False: no choice made yet, `email` is the default for the member’s role (on for OWNER and ADMIN).' })
  explicit!: boolean;
}

export type NotificationServices = { notifications: NotificationPreferenceService };
type Ctx = SubgraphContext<NotificationServices>;

const view = (p: { type: string; email: boolean; explicit: boolean }): NotificationPreference => ({ type: p.type as NotificationType, email: p.email, explicit: p.explicit });

@Resolver()
export class NotificationResolver {
  @Query(() => [NotificationPreference], { description: 'The signed-in member’s notification choices in this tenant, one per type.' })
  async notificationPreferences(@Ctx() ctx: Ctx): Promise<NotificationPreference[]> {
    return (await ctx.services.notifications.list(ctx.gate.require(ctx, 'user:read-self'))).map(view);
  }

  @Mutation(() => NotificationPreference, { description: 'Turns email for one kind of notification on or off, for the signed-in member in this tenant.' })
  async setNotificationPreference(
    @Ctx() ctx: Ctx,
    @Arg('type', () => NotificationType) type: NotificationType,
    @Arg('email', () => Boolean) email: boolean,
  ): Promise<NotificationPreference> {
    return view(await ctx.services.notifications.set(ctx.gate.require(ctx, 'user:read-self'), type, email));
  }
}
