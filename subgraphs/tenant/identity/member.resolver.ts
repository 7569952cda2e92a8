import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import type { Role } from '../../../lib/auth/tokens';
import type { SubgraphContext } from '../../../lib/subgraph';
import { assertRole, type RequireOwner } from './member.service';
import { Invitation, InvitationCreated, Member, RoleEnum, Tenant, TenantMembership } from './tenant.entity';
import type { TenantServices } from './tenant.resolver';

type Ctx = SubgraphContext<TenantServices>;

/** Asks the gate for `owner:manage` when an action touches the OWNER role. */
const ownerCheck =
  (ctx: Ctx): RequireOwner =>
  () =>
    void ctx.gate.require(ctx, 'owner:manage');

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
