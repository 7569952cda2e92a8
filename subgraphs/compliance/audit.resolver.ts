import { Arg, Ctx, Directive, Field, FieldResolver, ID, Int, ObjectType, Query, Resolver, Root } from 'type-graphql';
import { IsolationLevel } from '../../lib/db/tenant-tx';
import type { SubgraphContext } from '../../lib/subgraph';
import { AuditEvent } from './audit-event.entity';
import { listAuditEvents, verifyAuditChain } from './audit.service';

@ObjectType('AuditEventEdge')
class AuditEventEdge {
  @Field(() => String) cursor!: string;
  @Field(() => AuditEvent) node!: AuditEvent;
}

@ObjectType('PageInfo')
class PageInfo {
  @Field(() => Boolean) hasNextPage!: boolean;
  @Field(() => String, { nullable: true }) endCursor!: string | null;
}

@ObjectType('AuditEventConnection')
class AuditEventConnection {
  @Field(() => [AuditEventEdge]) edges!: AuditEventEdge[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
  @Field(() => Int) totalCount!: number;
}

@ObjectType('AuditChainVerification')
class AuditChainVerification {
  @Field(() => Boolean) valid!: boolean;
  @Field(() => Int) eventsChecked!: number;
  @Field(() => ID, { nullable: true, description: 'The first event that breaks the chain.' }) firstBadEventId!: string | null;
  @Field(() => String, { nullable: true }) firstBadSeq!: string | null;
  @Field(() => String, { nullable: true, description: 'SEQUENCE_GAP, BROKEN_LINK or HASH_MISMATCH.' }) reason!: string | null;
}

/** Compliance's view of a tenant: it adds the audit trail. */
@ObjectType('Tenant')
@Directive('@key(fields: "id")')
export class TenantAudit {
  @Field(() => ID) id!: string;
}

type Ctx = SubgraphContext;

@Resolver()
export class AuditResolver {
  @Query(() => AuditEventConnection, { description: 'The caller’s tenant’s audit trail, in chain order.' })
  async auditEvents(
    @Ctx() ctx: Ctx,
    @Arg('first', () => Int, { defaultValue: 50 }) first: number,
    @Arg('after', () => String, { nullable: true }) after?: string,
  ): Promise<AuditEventConnection> {
    const scope = ctx.gate.require(ctx, 'audit:read');
    const page = await scope.tx(({ em }) => listAuditEvents(em, scope.tenantId, first, after));
    const edges = page.events.map((node) => ({ cursor: node.seq.toString(), node }));
    return {
      edges,
      pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null },
      totalCount: page.totalCount,
    };
  }

  @Query(() => AuditChainVerification, { description: 'Re-hashes the whole chain and names the first bad event.' })
  async verifyAuditChain(@Ctx() ctx: Ctx): Promise<AuditChainVerification> {
    const scope = ctx.gate.require(ctx, 'audit:verify');
    // One snapshot for the whole walk: appends committing meanwhile are simply not part of this check.
    const v = await scope.tx(({ em }) => verifyAuditChain(em, scope.tenantId), { isolation: IsolationLevel.REPEATABLE_READ });
    return {
      valid: v.valid,
      eventsChecked: v.eventsChecked,
      firstBadEventId: v.firstBad?.eventId || null,
      firstBadSeq: v.firstBad ? v.firstBad.seq.toString() : null,
      reason: v.firstBad?.reason ?? null,
    };
  }
}

@Resolver(() => TenantAudit)
export class TenantAuditResolver {
  @FieldResolver(() => [AuditEvent])
  async auditEvents(
    @Root() tenant: TenantAudit,
    @Ctx() ctx: Ctx,
    @Arg('first', () => Int, { defaultValue: 50 }) first: number,
    @Arg('after', () => String, { nullable: true }) after?: string,
  ): Promise<AuditEvent[]> {
    const scope = ctx.gate.require(ctx, 'audit:read', tenant.id);
    return (await scope.tx(({ em }) => listAuditEvents(em, scope.tenantId, first, after))).events;
  }
}
