import { Arg, Ctx, Field, Mutation, ObjectType, Query, Resolver, registerEnumType } from 'type-graphql';
import type { SubgraphContext } from '../../../lib/subgraph';
import type { NotificationPreferenceService, SmsNumberView } from './notification-preferences';

/** The notice types a member may choose email or SMS for (values are the notice contract's types). */
export enum NotificationType {
  PURCHASE_FILLED = 'purchase.filled',
  PURCHASE_FAILED = 'purchase.failed',
  LIMIT_REACHED = 'limit.reached',
  STATEMENT_READY = 'statement.ready',
  KYB_ACTION_NEEDED = 'kyb.action_needed',
  REPORT_READY = 'report.ready',
}
registerEnumType(NotificationType, {
  name: 'NotificationType',
  description: 'What a notification is about.',
  valuesConfig: {
    LIMIT_REACHED: { description: 'A treasury rule reached its daily or monthly cap (at most once per rule and day).' },
    STATEMENT_READY: { description: 'The monthly statement (PDF attached to the email) is ready, on the 1st of each month; on by default for OWNERs only.' },
    KYB_ACTION_NEEDED: { description: 'The business verification (KYB) needs more information or was refused; real-exchange trading waits for it.' },
    REPORT_READY: { description: 'A requested report (the tax report) is ready to download in the dashboard.' },
  },
});

@ObjectType('NotificationPreference', { description: 'Whether the signed-in member gets one kind of notification by email and by SMS.' })
export class NotificationPreference {
  @Field(() => NotificationType)
  type!: NotificationType;

  @Field(() => Boolean)
  email!: boolean;

  @Field(() => Boolean, { description: 'By SMS to the member’s number (setNotificationSmsNumber); off unless turned on.' })
  sms!: boolean;

  @Field(() => Boolean, { description: 'False: no choice made yet, `email` is the default for the member’s role (on for OWNER and ADMIN).' })
  explicit!: boolean;
}

@ObjectType('NotificationSmsNumber', { description: 'The signed-in member’s SMS number in this tenant (E.164), if set.' })
export class NotificationSmsNumber {
  @Field(() => String, { nullable: true, description: 'In E.164, e.g. +61412345678; null when none is set.' })
  number!: string | null;

  @Field(() => String, { nullable: true, description: 'The number with its middle hidden, for showing on screen.' })
  masked!: string | null;
}

export type NotificationServices = { notifications: NotificationPreferenceService };
type Ctx = SubgraphContext<NotificationServices>;

const view = (p: { type: string; email: boolean; sms: boolean; explicit: boolean }): NotificationPreference => ({
  type: p.type as NotificationType,
  email: p.email,
  sms: p.sms,
  explicit: p.explicit,
});
const numberView = (n: SmsNumberView): NotificationSmsNumber => ({ number: n.number, masked: n.masked });

@Resolver()
export class NotificationResolver {
  @Query(() => [NotificationPreference], { description: 'The signed-in member’s notification choices in this tenant, one per type.' })
  async notificationPreferences(@Ctx() ctx: Ctx): Promise<NotificationPreference[]> {
    return (await ctx.services.notifications.list(ctx.gate.require(ctx, 'user:read-self'))).map(view);
  }

  @Query(() => NotificationSmsNumber, { description: 'The signed-in member’s SMS number in this tenant.' })
  async notificationSmsNumber(@Ctx() ctx: Ctx): Promise<NotificationSmsNumber> {
    return numberView(await ctx.services.notifications.smsNumber(ctx.gate.require(ctx, 'user:read-self')));
  }

  @Mutation(() => NotificationPreference, {
    description: 'Turns email and/or SMS for one kind of notification on or off, for the signed-in member in this tenant; an omitted channel keeps its value.',
  })
  async setNotificationPreference(
    @Ctx() ctx: Ctx,
    @Arg('type', () => NotificationType) type: NotificationType,
    @Arg('email', () => Boolean, { nullable: true }) email?: boolean | null,
    @Arg('sms', () => Boolean, { nullable: true, description: 'SMS needs a number set first (BAD_USER_INPUT otherwise).' }) sms?: boolean | null,
  ): Promise<NotificationPreference> {
    return view(await ctx.services.notifications.set(ctx.gate.require(ctx, 'user:read-self'), type, { email, sms }));
  }

  @Mutation(() => NotificationSmsNumber, {
    description: 'Sets the signed-in member’s SMS number in this tenant (E.164; spaces and hyphens are dropped), or clears it with null (SMS then off). A bad number is BAD_USER_INPUT and changes nothing.',
  })
  async setNotificationSmsNumber(@Ctx() ctx: Ctx, @Arg('number', () => String, { nullable: true }) number?: string | null): Promise<NotificationSmsNumber> {
    return numberView(await ctx.services.notifications.setSmsNumber(ctx.gate.require(ctx, 'user:read-self'), number));
  }
}
