import { Ctx, Field, FieldResolver, ID, ObjectType, Query, Resolver, Root, registerEnumType } from 'type-graphql';
import type { SubgraphContext } from '../../../lib/subgraph';
import type { ComplianceServices } from '../reports/reports.resolver';
import { listStatements, statementDownloadUrl, type StatementRow } from './statement.service';

enum MonthlyStatementStatusGql {
  QUEUED = 'QUEUED',
  READY = 'READY',
  FAILED = 'FAILED',
}
registerEnumType(MonthlyStatementStatusGql, { name: 'MonthlyStatementStatus' });

@ObjectType('MonthlyStatement', { description: 'The PDF statement of one calendar month in the tenant’s time zone (#12), generated on the reports queue.' })
export class MonthlyStatementGql {
  @Field(() => ID) id!: string;
  @Field(() => String, { description: 'The local month, e.g. "2026-10".' }) period!: string;
  @Field(() => String, { description: 'The IANA time zone the month is in.' }) timeZone!: string;
  @Field(() => MonthlyStatementStatusGql) status!: MonthlyStatementStatusGql;
  @Field(() => String, { nullable: true, description: 'Hex SHA-256 of the PDF.' }) pdfSha256!: string | null;
  @Field(() => Date) createdAt!: Date;
  @Field(() => Date, { nullable: true }) completedAt!: Date | null;
  row!: StatementRow;
}

const gql = (r: StatementRow): MonthlyStatementGql => ({
  id: r.id,
  period: r.period,
  timeZone: r.timeZone,
  status: MonthlyStatementStatusGql[r.status],
  pdfSha256: r.pdfSha256,
  createdAt: r.createdAt,
  completedAt: r.completedAt,
  row: r,
});

type Ctx = SubgraphContext<ComplianceServices>;

@Resolver(() => MonthlyStatementGql)
export class MonthlyStatementResolver {
  @Query(() => [MonthlyStatementGql], { description: 'The tenant’s monthly statements, newest month first (up to 120).' })
  async monthlyStatements(@Ctx() ctx: Ctx): Promise<MonthlyStatementGql[]> {
    const scope = ctx.gate.require(ctx, 'tax:read');
    return (await scope.tx((tx) => listStatements(tx))).map(gql);
  }

  @FieldResolver(() => String, { nullable: true, description: 'A short-lived signed download URL of the PDF once READY; null otherwise.' })
  async downloadUrl(@Ctx() ctx: Ctx, @Root() statement: MonthlyStatementGql): Promise<string | null> {
    ctx.gate.require(ctx, 'tax:read');
    const store = ctx.services.objectStore;
    if (!store) return null;
    return statementDownloadUrl(store, statement.row, ctx.services.downloadTtlSeconds);
  }
}
