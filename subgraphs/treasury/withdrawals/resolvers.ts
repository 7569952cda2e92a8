import { Arg, Ctx, Field, FieldResolver, ID, Int, Mutation, ObjectType, Query, Resolver, Root, Subscription, registerEnumType } from 'type-graphql';
import { AudCentsScalar, SatoshisScalar } from '../../../lib/money';
import { servedByGateway } from '../../../lib/subgraph';
import type { TreasuryContext } from '../treasury.context';
import { WithdrawalStatus, type ApprovalPolicy } from './approvals';
import type { AutoWithdrawPolicy, DestinationView, WithdrawalView } from './service';

type Ctx = TreasuryContext;

registerEnumType(WithdrawalStatus, { name: 'WithdrawalStatus', description: 'REQUESTED → APPROVED → SUBMITTED → BROADCAST → CONFIRMED | FAILED (or CANCELLED / REJECTED before submission).' });

@ObjectType('WithdrawalDestination', { description: 'An address-book entry: a bitcoin address, or an extended public key from which a fresh address is derived per withdrawal.' })
export class WithdrawalDestinationType {
  @Field(() => ID) id!: string;
  @Field(() => String, { description: 'ADDRESS or XPUB.' }) kind!: string;
  @Field(() => String, { description: 'mainnet, testnet or regtest.' }) network!: string;
  @Field(() => String, { nullable: true, description: 'The canonical address (ADDRESS destinations).' }) address!: string | null;
  @Field(() => String, { nullable: true, description: 'The extended public key as given (XPUB destinations).' }) xpub!: string | null;
  @Field(() => String, { nullable: true, description: 'P2PKH, P2SH, P2WPKH, P2WSH or P2TR (ADDRESS destinations).' }) addressType!: string | null;
  @Field(() => String, { nullable: true, description: 'P2PKH, P2SH_P2WPKH or P2WPKH (XPUB destinations).' }) scriptType!: string | null;
  @Field(() => String) label!: string;
  @Field(() => String, { description: 'PENDING_CONFIRMATION, CONFIRMED or DISABLED.' }) status!: string;
  @Field(() => ID) createdBy!: string;
  @Field(() => Date) createdAt!: Date;
  @Field(() => ID, { nullable: true }) confirmedBy!: string | null;
  @Field(() => Date, { nullable: true }) confirmedAt!: Date | null;
  @Field(() => Date, { description: 'Withdrawals may go here from this time on (once confirmed by a second member).' }) coolingOffEndsAt!: Date;
  @Field(() => Boolean, { description: 'Confirmed, not disabled, and past its cooling-off now.' }) usable!: boolean;
  @Field(() => Int, { nullable: true, description: 'XPUB destinations: the derivation index the next withdrawal gets (<key>/0/<index>).' })
  nextDerivationIndex!: number | null;
  @Field(() => Boolean) disabled!: boolean;
}

export const destinationType = (d: DestinationView): WithdrawalDestinationType => ({
  id: d.id,
  kind: d.kind,
  network: d.network,
  address: d.kind === 'ADDRESS' ? d.value : null,
  xpub: d.kind === 'XPUB' ? d.value : null,
  addressType: d.addressType,
  scriptType: d.scriptType,
  label: d.label,
  status: d.status,
  createdBy: d.createdBy,
  createdAt: d.createdAt,
  confirmedBy: d.confirmedBy,
  confirmedAt: d.confirmedAt,
  coolingOffEndsAt: d.coolingOffEndsAt,
  usable: d.usable,
  nextDerivationIndex: d.derivation?.nextIndex ?? null,
  disabled: d.status === 'DISABLED',
});

@ObjectType('WithdrawalApproval')
export class WithdrawalApprovalType {
  @Field(() => ID) userId!: string;
  @Field(() => String) role!: string;
  @Field(() => Date) at!: Date;
}

@ObjectType('WithdrawalTransition')
export class WithdrawalTransitionType {
  @Field(() => WithdrawalStatus, { nullable: true }) fromStatus!: WithdrawalStatus | null;
  @Field(() => WithdrawalStatus) toStatus!: WithdrawalStatus;
  @Field(() => ID, { nullable: true }) actorId!: string | null;
  @Field(() => String, { nullable: true }) reason!: string | null;
  @Field(() => Date) at!: Date;
}

@ObjectType('Withdrawal', { description: 'Bitcoin sent from the exchange to one of the tenant’s own wallets.' })
export class WithdrawalType {
  @Field(() => ID) id!: string;
  @Field(() => WithdrawalStatus) status!: WithdrawalStatus;
  @Field(() => SatoshisScalar) satoshis!: bigint;
  @Field(() => Boolean, { description: 'Requested as ALL: the amount is the available balance at request time.' }) requestedAll!: boolean;
  @Field(() => ID) destinationId!: string;
  @Field(() => String, { description: 'The address paid: the destination’s, or the one derived for this withdrawal.' }) address!: string;
  @Field(() => Int, { nullable: true }) derivationIndex!: number | null;
  @Field(() => ID) requestedBy!: string;
  @Field(() => Int) approvalsRequired!: number;
  @Field(() => [String]) approverRoles!: string[];
  @Field(() => [WithdrawalApprovalType]) approvals!: WithdrawalApprovalType[];
  @Field(() => [WithdrawalTransitionType]) transitions!: WithdrawalTransitionType[];
  @Field(() => String, { description: 'The rail it is sent on: paper (simulated) for now.' }) rail!: string;
  @Field(() => String, { description: 'Our id for it at the rail, derived from the withdrawal id (a retry finds it instead of sending again).' }) clientId!: string;
  @Field(() => String, { nullable: true }) txid!: string | null;
  @Field(() => String, { nullable: true }) failureReason!: string | null;
  @Field(() => String, { description: 'The travel-rule record kept with the transfer, as JSON.' }) travelRule!: string;
  @Field(() => Date) createdAt!: Date;
  @Field(() => Date) updatedAt!: Date;
}

export const withdrawalType = (w: WithdrawalView): WithdrawalType => ({
  id: w.row.id,
  status: w.row.status,
  satoshis: BigInt(w.row.sats),
  requestedAll: w.row.requested_all,
  destinationId: w.row.destination_id,
  address: w.row.address,
  derivationIndex: w.row.derivation_index,
  requestedBy: w.row.requested_by,
  approvalsRequired: w.row.approvals_required,
  approverRoles: w.row.approver_roles,
  approvals: w.approvals.map((a) => ({ userId: a.user_id, role: a.role, at: new Date(a.at) })),
  transitions: w.transitions.map((t) => ({ fromStatus: t.from_status, toStatus: t.to_status, actorId: t.actor_id, reason: t.reason, at: new Date(t.at) })),
  rail: w.row.rail,
  clientId: w.row.client_id,
  txid: w.row.txid,
  failureReason: w.row.failure_reason,
  travelRule: JSON.stringify(w.row.travel_rule),
  createdAt: new Date(w.row.created_at),
  updatedAt: new Date(w.row.updated_at),
});

@ObjectType('WithdrawalApprovalTier')
export class WithdrawalApprovalTierType {
  @Field(() => AudCentsScalar, { description: 'Withdrawals worth more than this need the approvals below.' }) thresholdAudCents!: bigint;
  @Field(() => Int) approvalsRequired!: number;
  @Field(() => [String]) roles!: string[];
}

@ObjectType('WithdrawalPolicy')
export class WithdrawalPolicyType {
  @Field(() => [WithdrawalApprovalTierType]) tiers!: WithdrawalApprovalTierType[];
}

const policyType = (p: ApprovalPolicy): WithdrawalPolicyType => ({
  tiers: p.tiers.map((t) => ({ thresholdAudCents: t.aboveAudCents, approvalsRequired: t.approvals, roles: [...t.roles] })),
});

@ObjectType('AutoWithdrawPolicy', { description: 'When the available balance on the tenant’s exchange reaches thresholdSats, everything above keepSats goes to the next derived address of an XPUB destination, if the fee is at most maxFeeShareBps of it.' })
export class AutoWithdrawPolicyType {
  @Field(() => Boolean) enabled!: boolean;
  @Field(() => ID) destinationId!: string;
  @Field(() => SatoshisScalar) thresholdSats!: bigint;
  @Field(() => SatoshisScalar) keepSats!: bigint;
  @Field(() => Int, { description: 'Largest fee as a share of what leaves the exchange, in basis points (100 = 1%).' }) maxFeeShareBps!: number;
  @Field(() => String, { description: 'The fee rate assumed, in sat per 1000 vbytes (decimal string).' }) feeSatPerKvB!: string;
  @Field(() => ID) updatedBy!: string;
  @Field(() => Date) updatedAt!: Date;
}

const autoPolicyType = (p: AutoWithdrawPolicy): AutoWithdrawPolicyType => ({ ...p, feeSatPerKvB: p.feeSatPerKvB.toString() });

/** A status change of one of the caller's tenant's withdrawals (the `tenant.<tid>.withdrawal` event). */
@ObjectType('WithdrawalEvent', { description: 'A status change of one of your tenant’s withdrawals.' })
export class WithdrawalEvent {
  @Field(() => ID) withdrawalId!: string;
  @Field(() => WithdrawalStatus) status!: WithdrawalStatus;
  @Field(() => WithdrawalStatus, { nullable: true }) previousStatus?: WithdrawalStatus | null;
  @Field(() => Date) at!: Date;
  @Field(() => WithdrawalType, { nullable: true, description: 'The withdrawal as it is when the event is delivered.' }) withdrawal?: WithdrawalType | null;
}

@Resolver(() => WithdrawalType)
export class WithdrawalResolver {
  @Subscription(() => WithdrawalEvent, {
    name: 'withdrawalUpdated',
    description: 'Status changes of one withdrawal of the caller’s tenant, or of all of them when no id is given.',
    subscribe: servedByGateway,
  })
  withdrawalUpdated(@Root() event: WithdrawalEvent, @Arg('withdrawalId', () => ID, { nullable: true }) _withdrawalId?: string): WithdrawalEvent {
    return event;
  }

  @Query(() => [WithdrawalDestinationType], { description: 'The tenant’s withdrawal address book, newest first.' })
  async withdrawalDestinations(@Ctx() ctx: Ctx): Promise<WithdrawalDestinationType[]> {
    return (await ctx.services.withdrawals.destinations(ctx.gate.require(ctx, 'withdrawal:read'))).map(destinationType);
  }

  @Query(() => WithdrawalPolicyType, { description: 'Who must approve withdrawals of which value.' })
  async withdrawalPolicy(@Ctx() ctx: Ctx): Promise<WithdrawalPolicyType> {
    return policyType(await ctx.services.withdrawals.approvalPolicy(ctx.gate.require(ctx, 'withdrawal:read')));
  }

  @Query(() => [WithdrawalType], { description: 'The tenant’s withdrawals, newest first.' })
  async withdrawals(@Ctx() ctx: Ctx, @Arg('limit', () => Int, { defaultValue: 50 }) limit = 50): Promise<WithdrawalType[]> {
    return (await ctx.services.withdrawals.list(ctx.gate.require(ctx, 'withdrawal:read'), limit)).map(withdrawalType);
  }

  @Query(() => WithdrawalType, { nullable: true })
  async withdrawal(@Ctx() ctx: Ctx, @Arg('id', () => ID) id: string): Promise<WithdrawalType | null> {
    const w = await ctx.services.withdrawals.get(ctx.gate.require(ctx, 'withdrawal:read'), id);
    return w ? withdrawalType(w) : null;
  }

  @FieldResolver(() => WithdrawalDestinationType, { nullable: true })
  async destination(@Ctx() ctx: Ctx, @Root() w: WithdrawalType): Promise<WithdrawalDestinationType | null> {
    const found = await ctx.services.withdrawals.destinationsById(ctx.gate.require(ctx, 'withdrawal:read'), [w.destinationId]);
    const d = found.get(w.destinationId);
    return d ? destinationType(d) : null;
  }

  @Mutation(() => WithdrawalDestinationType, {
    description: 'Adds an address or an extended public key (xpub/ypub/zpub…) to the address book. Usable after a 24-hour cooling-off and a confirmation by another member.',
  })
  async addWithdrawalDestination(
    @Ctx() ctx: Ctx,
    @Arg('label', () => String) label: string,
    @Arg('address', () => String, { nullable: true }) address?: string | null,
    @Arg('xpub', () => String, { nullable: true }) xpub?: string | null,
    @Arg('network', () => String, { nullable: true, description: 'mainnet (default), testnet or regtest.' }) network?: string | null,
    @Arg('scriptType', () => String, { nullable: true, description: 'For an xpub exported for BIP 84 (P2WPKH) or BIP 49 (P2SH_P2WPKH).' }) scriptType?: string | null,
  ): Promise<WithdrawalDestinationType> {
    const scope = ctx.gate.require(ctx, 'withdrawal:manage');
    return destinationType(await ctx.services.withdrawals.addDestination(scope, { label, address, xpub, network, scriptType }));
  }

  @Mutation(() => WithdrawalDestinationType, { description: 'Confirms another member’s destination (needs a session with a second factor).' })
  async confirmWithdrawalDestination(@Ctx() ctx: Ctx, @Arg('id', () => ID) id: string): Promise<WithdrawalDestinationType> {
    return destinationType(await ctx.services.withdrawals.confirmDestination(ctx.gate.requireSensitive(ctx, 'withdrawal:approve'), id));
  }

  @Mutation(() => WithdrawalPolicyType, { description: 'Withdrawals worth more than thresholdAudCents need approvalsRequired approvals from distinct members with one of roles.' })
  async setWithdrawalPolicy(
    @Ctx() ctx: Ctx,
    @Arg('thresholdAudCents', () => AudCentsScalar) thresholdAudCents: bigint,
    @Arg('approvalsRequired', () => Int) approvalsRequired: number,
    @Arg('roles', () => [String]) roles: string[],
  ): Promise<WithdrawalPolicyType> {
    return policyType(await ctx.services.withdrawals.setPolicy(ctx.gate.require(ctx, 'withdrawal:manage'), thresholdAudCents, approvalsRequired, roles));
  }

  @Mutation(() => WithdrawalType, {
    description: 'Requests a withdrawal of satoshis ("ALL" for the whole available balance) to a usable destination. Idempotent per key like requestPurchase.',
  })
  async requestWithdrawal(
    @Ctx() ctx: Ctx,
    @Arg('satoshis', () => String) satoshis: string,
    @Arg('destinationId', () => ID) destinationId: string,
    @Arg('idempotencyKey', () => String) idempotencyKey: string,
  ): Promise<WithdrawalType> {
    return withdrawalType(await ctx.services.withdrawals.request(ctx.gate.require(ctx, 'withdrawal:manage'), satoshis, destinationId, idempotencyKey));
  }

  @Mutation(() => WithdrawalType, { description: 'Approves a withdrawal: a member other than the requester, with a role the policy allows, signed in with a second factor.' })
  async approveWithdrawal(@Ctx() ctx: Ctx, @Arg('id', () => ID) id: string): Promise<WithdrawalType> {
    return withdrawalType(await ctx.services.withdrawals.approve(ctx.gate.requireSensitive(ctx, 'withdrawal:approve'), id));
  }

  @Mutation(() => WithdrawalType, { description: 'Turns a requested withdrawal down (a member allowed to approve it, not the requester, with a second factor); needs a reason.' })
  async rejectWithdrawal(@Ctx() ctx: Ctx, @Arg('id', () => ID) id: string, @Arg('reason', () => String) reason: string): Promise<WithdrawalType> {
    return withdrawalType(await ctx.services.withdrawals.reject(ctx.gate.requireSensitive(ctx, 'withdrawal:approve'), id, reason));
  }

  @Mutation(() => WithdrawalType, { description: 'Stops a withdrawal before it reached the exchange (the requester, an OWNER or an ADMIN).' })
  async cancelWithdrawal(@Ctx() ctx: Ctx, @Arg('id', () => ID) id: string): Promise<WithdrawalType> {
    return withdrawalType(await ctx.services.withdrawals.cancel(ctx.gate.require(ctx, 'withdrawal:manage'), id));
  }

  @Mutation(() => WithdrawalDestinationType, { description: 'Disables a destination: no withdrawal goes there until it is re-enabled and confirmed again.' })
  async disableWithdrawalDestination(@Ctx() ctx: Ctx, @Arg('id', () => ID) id: string): Promise<WithdrawalDestinationType> {
    return destinationType(await ctx.services.withdrawals.disableDestination(ctx.gate.require(ctx, 'withdrawal:manage'), id));
  }

  @Mutation(() => WithdrawalDestinationType, { description: 'Re-enables a disabled destination: a fresh cooling-off and another member’s confirmation.' })
  async reenableWithdrawalDestination(@Ctx() ctx: Ctx, @Arg('id', () => ID) id: string): Promise<WithdrawalDestinationType> {
    return destinationType(await ctx.services.withdrawals.reenableDestination(ctx.gate.require(ctx, 'withdrawal:manage'), id));
  }

  @Mutation(() => WithdrawalDestinationType, { description: 'Renames a destination; like any change it restarts the cooling-off and needs another member’s confirmation.' })
  async renameWithdrawalDestination(@Ctx() ctx: Ctx, @Arg('id', () => ID) id: string, @Arg('label', () => String) label: string): Promise<WithdrawalDestinationType> {
    return destinationType(await ctx.services.withdrawals.renameDestination(ctx.gate.require(ctx, 'withdrawal:manage'), id, label));
  }

  @Query(() => AutoWithdrawPolicyType, { nullable: true, description: 'The tenant’s auto-withdraw policy, if set.' })
  async autoWithdrawPolicy(@Ctx() ctx: Ctx): Promise<AutoWithdrawPolicyType | null> {
    const p = await ctx.services.withdrawals.autoWithdrawPolicy(ctx.gate.require(ctx, 'withdrawal:read'));
    return p ? autoPolicyType(p) : null;
  }

  @Mutation(() => AutoWithdrawPolicyType, { description: 'Sets the auto-withdraw policy; its withdrawals are approved by it, so this needs a member allowed to approve, with a second factor.' })
  async setAutoWithdrawPolicy(
    @Ctx() ctx: Ctx,
    @Arg('enabled', () => Boolean) enabled: boolean,
    @Arg('destinationId', () => ID) destinationId: string,
    @Arg('thresholdSats', () => SatoshisScalar) thresholdSats: bigint,
    @Arg('keepSats', () => SatoshisScalar) keepSats: bigint,
    @Arg('maxFeeShareBps', () => Int) maxFeeShareBps: number,
    @Arg('feeSatPerKvB', () => SatoshisScalar, { description: 'The fee rate to assume, sat per 1000 vbytes.' }) feeSatPerKvB: bigint,
  ): Promise<AutoWithdrawPolicyType> {
    const scope = ctx.gate.requireSensitive(ctx, 'withdrawal:approve');
    return autoPolicyType(await ctx.services.withdrawals.setAutoWithdrawPolicy(scope, { enabled, destinationId, thresholdSats, keepSats, maxFeeShareBps, feeSatPerKvB }));
  }
}
