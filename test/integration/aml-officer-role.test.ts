import { randomUUID } from 'node:crypto';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { openAppOrm } from '../../lib/db/orm';
import { TenantDirectory } from '../../lib/db/tenant-context';
import { TenantTransactions } from '../../lib/db/tenant-tx';
import { configureLogger } from '../../lib/logger';
import { complianceEntities } from '../../subgraphs/compliance';
import type { AmlCase } from '../../subgraphs/compliance/aml/cases';
import { saveCase } from '../../subgraphs/compliance/aml/cases.store';
import { OfficerPath } from '../../subgraphs/compliance/aml/officer';
import { OfficerService } from '../../subgraphs/compliance/aml/officer.service';
import { AML_OFFICER_ROLE } from '../../subgraphs/compliance/migrations/aml';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

/**
 * The officer's cross-tenant path (#11) runs as a database role of its own (abt_aml_officer,
 * NOLOGIN, SELECT on the AML tables only): the officer read sees every tenant and lands in the
 * platform chain; a tenant transaction that sets the old `app.aml_officer` setting sees only its
 * own rows; the role itself can neither write nor read any other tenant table.
 */
describe('AML officer database role (real PostgreSQL)', () => {
  let db: TestDatabase;
  let orm: MikroORM;
  let txs: TenantTransactions;
  const a = randomUUID();
  const b = randomUUID();
  const operator = randomUUID();
  const officer = { userId: randomUUID(), tenantId: operator };
  const caseA = randomUUID();
  const caseB = randomUUID();
  const at = new Date('2026-12-01T00:00:00Z');

  const openCase = (id: string, tenantId: string): AmlCase => ({
    id,
    tenantId,
    status: 'OPEN',
    openedAt: at,
    alertIds: [],
    severity: 'HIGH',
    escalation: null,
    report: null,
    closure: null,
  });

  /** One statement as the officer role on the owner's connection, rolled back (what the role may do, not the app). */
  const asOfficerRole = (sql: string): Promise<unknown> =>
    db.owner.em.fork().transactional(async (em: EntityManager) => {
      await em.execute(`set local role ${AML_OFFICER_ROLE}`);
      return em.execute(sql);
    });

  beforeAll(async () => {
    configureLogger('silent');
    db = await createTestDatabase();
    for (const [id, name] of [
      [a, 'Role A Pty Ltd'],
      [b, 'Role B Pty Ltd'],
      [operator, 'Operator Pty Ltd'],
    ]) {
      await db.owner.em.getConnection().execute(`insert into public.tenant (id, name) values (?, ?)`, [id, name]);
    }
    orm = await openAppOrm(db.appUrl, [...complianceEntities], 4);
    txs = new TenantTransactions(orm, new TenantDirectory(orm));
    await txs.run(a, ({ em }) => saveCase(em, openCase(caseA, a), null));
    await txs.run(b, ({ em }) => saveCase(em, openCase(caseB, b), null));
  }, 60_000);

  afterAll(async () => {
    await orm?.close(true);
    await db?.drop();
  });

  it('lets a tenant transaction that sets app.aml_officer see only its own cases', async () => {
    const seen = await txs.run(a, async ({ em }) => {
      await em.execute(`select set_config('app.aml_officer', 'on', true)`);
      return em.execute<{ tenant_id: string }[]>(`select tenant_id from pool.aml_case order by tenant_id`);
    });
    expect(seen).toEqual([{ tenant_id: a }]);
  });

  it('shows an app connection with no tenant and the setting nothing at all', async () => {
    const seen = await orm.em.fork().transactional(async (em) => {
      await em.execute(`select set_config('app.tenant_id', '', true), set_config('app.aml_officer', 'on', true)`);
      return em.execute<{ n: string }[]>(`select count(*)::text as n from pool.aml_case`);
    });
    expect(seen).toEqual([{ n: '0' }]);
  });

  it('reads every tenant’s cases as the officer role, read-only, and audits the read in the platform chain', async () => {
    const path = new OfficerPath(orm, txs);
    const who = await path.read((em) => em.execute<{ u: string; ro: string }[]>(`select current_user as u, current_setting('transaction_read_only') as ro`));
    expect(who).toEqual([{ u: AML_OFFICER_ROLE, ro: 'on' }]);

    const views = await new OfficerService(path, { name: 'Operator', abn: '51824753556', austracId: null, state: 'NSW' }).listCases(officer, null, at);
    expect(views.map((v) => v.id).sort()).toEqual([caseA, caseB].sort());

    // The fact for the platform chain (the operator's tenant) commits with the read, in its outbox.
    const facts = async (tenants: string[]) =>
      db.owner.em
        .getConnection()
        .execute<{ tenant_id: string; payload: { eventType: string; actorId: string; data: { cases: string[] } } }[]>(
          `select tenant_id, payload from pool.outbox where queue = 'audit' and tenant_id in (${tenants.map(() => '?::uuid').join(', ')})`,
          tenants,
        );
    expect((await facts([operator])).map((r) => ({ tenant: r.tenant_id, type: r.payload.eventType, actor: r.payload.actorId, cases: [...r.payload.data.cases].sort() }))).toEqual([
      { tenant: operator, type: 'aml.officer.read', actor: officer.userId, cases: [caseA, caseB].sort() },
    ]);
    // Nothing about the read reaches the chains of the tenants concerned (s123).
    expect((await facts([a, b])).filter((r) => r.payload.eventType.startsWith('aml.officer'))).toEqual([]);
  });

  it('keeps the officer role to reading the AML tables: no writes, no other tenant or platform table', async () => {
    await expect(asOfficerRole(`select count(*) from pool.aml_case`)).resolves.toEqual([{ count: '2' }]);
    await expect(asOfficerRole(`select count(*) from pool.kyb_entity`)).resolves.toEqual([{ count: '0' }]);
    for (const sql of [
      `insert into pool.aml_case (tenant_id, id, status, severity, opened_at) values ('${a}', '${randomUUID()}', 'OPEN', 'LOW', now())`,
      `update pool.aml_case set status = 'CLOSED_NO_SUSPICION'`,
      `delete from pool.aml_case_note`,
      `select count(*) from pool.audit_event`,
      `select count(*) from pool.tax_acquisition`,
      `select count(*) from public.app_user`,
      `select count(*) from public.platform_role`,
    ]) {
      await expect(asOfficerRole(sql)).rejects.toMatchObject({ code: '42501' });
    }
    const role = await db.owner.em
      .getConnection()
      .execute<{ rolcanlogin: boolean; rolsuper: boolean; rolbypassrls: boolean; rolcreaterole: boolean; owned: string }[]>(
        `select rolcanlogin, rolsuper, rolbypassrls, rolcreaterole, (select count(*) from pg_class c where c.relowner = r.oid)::text as owned from pg_roles r where rolname = ?`,
        [AML_OFFICER_ROLE],
      );
    expect(role).toEqual([{ rolcanlogin: false, rolsuper: false, rolbypassrls: false, rolcreaterole: false, owned: '0' }]);
  });
});
