import { Arg, Ctx, Field, FieldResolver, ID, Int, Mutation, ObjectType, Query, Resolver, Root, Subscription, registerEnumType } from 'type-graphql';
import { notFound } from '../../../lib/errors';
import { AudCentsScalar } from '../../../lib/money';
import { servedByGateway, type SubgraphContext } from '../../../lib/subgraph';
import type { ObjectStore } from '../../../lib/storage/object-store';
import { financialYearLabel } from '../tax/tax-calendar';
import { downloadUrl, findTaxReport, listTaxReports, requestTaxReport, type TaxReportRow } from './reports.service';

/** What the compliance subgraph's resolvers get as services (module.ts createServices). */
export type ComplianceServices = { objectStore?: ObjectStore; downloadTtlSeconds: number; filesUrlFromGateway?: boolean };

enum TaxReportStatusGql {
  QUEUED = 'QUEUED',
  RUNNING = 'RUNNING',
  READY = 'READY',
  FAILED = 'FAILED',
}
registerEnumType(TaxReportStatusGql, { name: 'TaxReportStatus' });

enum TaxReportFormatGql {
  CSV = 'CSV',
  PDF = 'PDF',
}
registerEnumType(TaxReportFormatGql, { name: 'TaxReportFormat', description: 'CSV: worksheet and year-end parcels; PDF: the summary.' });

@ObjectType('TaxReport', { description: 'A capital gains report file set of one financial year, generated on the reports queue.' })
export class TaxReportGql {
  @Field(() => ID) id!: string;
  @Field(() => String, { description: 'e.g. "2024-25".' }) financialYear!: string;
  @Field(() => TaxReportStatusGql) status!: TaxReportStatusGql;
  @Field(() => String, { nullable: true, description: 'Hex SHA-256 of the CSV file.' }) csvSha256!: string | null;
  @Field(() => String, { nullable: true, description: 'Hex SHA-256 of the PDF file.' }) pdfSha256!: string | null;
  @Field(() => AudCentsScalar, { nullable: true }) netCapitalGainAudCents!: bigint | null;
  @Field(() => String, { nullable: true, description: 'Why generation failed.' }) error!: string | null;
  @Field(() => Date) createdAt!: Date;
  @Field(() => Date, { nullable: true }) completedAt!: Date | null;
  row!: TaxReportRow;
}

const gql = (r: TaxReportRow): TaxReportGql => ({
  id: r.id,
  financialYear: financialYearLabel(r.financialYear),
  status: TaxReportStatusGql[r.status],
  csvSha256: r.csvSha256,
  pdfSha256: r.pdfSha256,
  netCapitalGainAudCents: r.netCapitalGainAudCents,
  error: r.error,
  createdAt: r.createdAt,
  completedAt: r.completedAt,
  row: r,
});

/** A step of one of the caller's tenant's report generations (the `tenant.<tid>.report` event). */
@ObjectType('TaxReportEvent', { description: 'Progress of one of your tenant’s tax reports: QUEUED → RUNNING → READY | FAILED.' })
export class TaxReportEvent {
  @Field(() => ID) reportId!: string;
  @Field(() => TaxReportStatusGql) status!: TaxReportStatusGql;
  @Field(() => Int, { description: '0–100.' }) progress!: number;
  @Field(() => Date) at!: Date;
  @Field(() => TaxReportGql, { nullable: true, description: 'The report as it is when the event is delivered (downloadUrl once READY).' })
  report?: TaxReportGql | null;
}

type Ctx = SubgraphContext<ComplianceServices>;

@Resolver(() => TaxReportGql)
export class TaxReportResolver {
  @Subscription(() => TaxReportEvent, {
    name: 'taxReportUpdated',
    description: 'Progress and completion of one report of the caller’s tenant, or of all of them when no id is given.',
    subscribe: servedByGateway,
  })
  taxReportUpdated(@Root() event: TaxReportEvent, @Arg('reportId', () => ID, { nullable: true }) _reportId?: string): TaxReportEvent {
    return event;
  }

  @Mutation(() => TaxReportGql, { description: 'Queues the CSV and PDF files of a financial year ("2024-25"); progress on the report subscription.' })
  async requestTaxReport(@Ctx() ctx: Ctx, @Arg('financialYear', () => String) financialYear: string): Promise<TaxReportGql> {
    const scope = ctx.gate.require(ctx, 'tax:read');
    return gql(await scope.tx((tx) => requestTaxReport(tx, scope.userId, financialYear)));
  }

  @Query(() => TaxReportGql, { description: 'One requested report.' })
  async taxReport(@Ctx() ctx: Ctx, @Arg('id', () => ID) id: string): Promise<TaxReportGql> {
    const scope = ctx.gate.require(ctx, 'tax:read');
    const row = await scope.tx((tx) => findTaxReport(tx, id));
    if (!row) throw notFound('tax report');
    return gql(row);
  }

  @Query(() => [TaxReportGql], { description: 'Requested reports, newest first (up to 100).' })
  async taxReports(@Ctx() ctx: Ctx): Promise<TaxReportGql[]> {
    const scope = ctx.gate.require(ctx, 'tax:read');
    return (await scope.tx((tx) => listTaxReports(tx))).map(gql);
  }

  @FieldResolver(() => String, { nullable: true, description: 'A short-lived signed download URL once READY; null before.' })
  async downloadUrl(@Ctx() ctx: Ctx, @Root() report: TaxReportGql, @Arg('format', () => TaxReportFormatGql) format: TaxReportFormatGql): Promise<string | null> {
    ctx.gate.require(ctx, 'tax:read');
    const store = ctx.services.objectStore;
    if (!store) return null;
    return downloadUrl(store, report.row, format, ctx.services.downloadTtlSeconds);
  }
}
