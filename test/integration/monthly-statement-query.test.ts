import { randomUUID } from 'node:crypto';
import type { AbstractSqlConnection, MikroORM } from '@mikro-orm/postgresql';
import { graphql, type GraphQLSchema } from 'graphql';
import { AccessGate, type Principal } from '../../lib/access';
import { openAppOrm } from '../../lib/db/orm';
import { TenantDirectory } from '../../lib/db/tenant-context';
import { TenantTransactions } from '../../lib/db/tenant-tx';
import { configureLogger } from '../../lib/logger';
import { buildComplianceSchema, complianceEntities } from '../../subgraphs/compliance';
import { reportsProcessor } from '../../subgraphs/compliance/jobs/reports.processor';
import type { ComplianceServices } from '../../subgraphs/compliance/reports/reports.resolver';
import { statementId } from '../../subgraphs/compliance/statements/statement-month';
import { StatementScheduler } from '../../subgraphs/compliance/statements/statement.scheduler';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { startTestS3, type TestS3 } from '../helpers/s3';

type Listed = { id: string; period: string; status: string; pdfSha256: string | null; completedAt: string | null; downloadUrl: string | null };

/**
 * The `monthlyStatements` query (#12) on the compliance subgraph's schema: real PostgreSQL (row-level
 * security), the access gate, the reports processor and a real S3-compatible server for the signed download.
 */
describe('monthlyStatements query', () => {
  let db: TestDatabase;
  let app: MikroORM;
  let txs: TenantTransactions;
  let owner: Pick<AbstractSqlConnection, 'execute'>;
  let s3: TestS3;
  let schema: GraphQLSchema;

  // 00:05 on 1 December in Sydney: November 2026 has ended for tenant A.
  const now = new Date('2026-12-01T00:05:00+11:00');
  const tenantA = randomUUID();
  const tenantB = randomUUID();

  const list = async (tenantId: string): Promise<Listed[]> => {
    const principal: Principal = { kind: 'user', userId: randomUUID(), tenantId, role: 'VIEWER', amr: ['pwd'] };
    const services: ComplianceServices = { objectStore: s3.store, downloadTtlSeconds: 60 };
    const r = await graphql({
      schema,
      source: `{ monthlyStatements { id period status pdfSha256 completedAt downloadUrl } }`,
      contextValue: { principal, gate: new AccessGate(app, new TenantDirectory(app)), services },
    });
    if (r.errors) throw new Error(JSON.stringify(r.errors));
    return (r.data as { monthlyStatements: Listed[] }).monthlyStatements;
  };

  beforeAll(async () => {
    configureLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
    db = await createTestDatabase();
    owner = db.owner.em.getConnection();
    app = await openAppOrm(db.appUrl, complianceEntities, 5);
    txs = new TenantTransactions(app, new TenantDirectory(app));
    s3 = await startTestS3();
    schema = await buildComplianceSchema();
    // Tenant B signed up after November ended in Sydney: it has no statement.
    await owner.execute(`insert into public.tenant (id, name, timezone, created_at) values (?, 'Alpha Pty Ltd', 'Australia/Sydney', '2026-09-01T00:00:00Z'), (?, 'Beta Pty Ltd', 'Australia/Sydney', ?)`, [
      tenantA,
      tenantB,
      new Date('2026-12-01T00:01:00+11:00'),
    ]);
  });
  afterAll(async () => {
    await s3?.stop();
    await app?.close(true);
    await db?.drop();
  });

  it('tenant A lists its statement, downloads the READY PDF; tenant B sees none', async () => {
    expect(await new StatementScheduler({ orm: app, tenants: txs, now: () => now }).pass()).toEqual([tenantA]);
    const id = statementId(tenantA, '2026-11');

    // QUEUED: listed, but no download yet.
    const queued = await list(tenantA);
    expect(queued).toEqual([{ id, period: '2026-11', status: 'QUEUED', pdfSha256: null, completedAt: null, downloadUrl: null }]);

    const [job] = await owner.execute<{ id: string; job_name: string; payload: Record<string, unknown> }[]>(`select id, job_name, payload from pool.outbox where tenant_id = ? and queue = 'reports'`, [tenantA]);
    if (!job) throw new Error('no job');
    await reportsProcessor(txs, s3.store, () => Promise.resolve(null))({ id: job.id, name: job.job_name, data: job.payload, attempt: 1 });

    const [ready, ...rest] = await list(tenantA);
    expect(rest).toEqual([]);
    expect(ready).toMatchObject({ id, period: '2026-11', status: 'READY' });
    const url = ready?.downloadUrl;
    if (!url) throw new Error('no download URL');
    const res = await fetch(url);
    expect(res.status).toBe(200);
    const pdf = Buffer.from(await res.arrayBuffer());
    expect(pdf.subarray(0, 4).toString('latin1')).toBe('%PDF');

    // Row-level security: tenant B's list is empty.
    expect(await list(tenantB)).toEqual([]);
  });
});
