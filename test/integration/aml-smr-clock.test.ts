import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { openAppOrm } from '../../lib/db/orm';
import { TenantDirectory } from '../../lib/db/tenant-context';
import { TenantTransactions } from '../../lib/db/tenant-tx';
import { configureLogger } from '../../lib/logger';
import { complianceEntities } from '../../subgraphs/compliance';
import { businessCalendar, smrDeadline } from '../../subgraphs/compliance/aml/business-days';
import type { AmlCase } from '../../subgraphs/compliance/aml/cases';
import { saveCase } from '../../subgraphs/compliance/aml/cases.store';
import { OfficerPath } from '../../subgraphs/compliance/aml/officer';
import { SmrClock } from '../../subgraphs/compliance/aml/smr-clock';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

/**
 * The SMR clock (#11) on real PostgreSQL with an injected clock: escalated, unreported cases of
 * every tenant are marked NEAR_DUE then OVERDUE (deadlineStatus), each level alerted once however
 * often or concurrently the pass runs; a case first seen overdue gets OVERDUE only; reported,
 * on-track and other tenants' cases are untouched, and each mark lives under its own tenant's RLS.
 */
describe('SMR clock alerts (real PostgreSQL, injected clock)', () => {
  let db: TestDatabase;
  let orm: MikroORM;
  let txs: TenantTransactions;
  const a = randomUUID();
  const b = randomUUID();
  const HOUR = 3_600_000;
  // Formed Monday 7 December 2026, 10:00 in Sydney: due before the end of Thursday 10 December (no holidays).
  const formed = new Date('2026-12-06T23:00:00Z');
  const calendar = businessCalendar({ state: 'NSW' });
  const threeDays = smrDeadline({ suspicionFormedAt: formed, terrorismFinancing: false, calendar });
  const tf = smrDeadline({ suspicionFormedAt: formed, terrorismFinancing: true, calendar });
  const ids = { aThree: randomUUID(), aReported: randomUUID(), bTf: randomUUID(), bOpen: randomUUID() };

  let clock = formed;
  const smrClock = (): SmrClock => new SmrClock({ officerPath: new OfficerPath(orm, txs), tenants: txs, now: () => clock });
  const marks = async () =>
    (
      await db.owner.em
        .getConnection()
        .execute<{ tenant_id: string; case_id: string; level: string; due_at: Date }[]>(`select tenant_id, case_id, level, due_at from pool.aml_smr_clock_alert order by case_id, level`)
    ).map((r) => ({ tenantId: r.tenant_id, caseId: r.case_id, level: r.level, dueAt: new Date(r.due_at).toISOString() }));
  const levels = async () =>
    Object.fromEntries(
      (await db.owner.em.getConnection().execute<{ id: string; smr_clock_level: string | null }[]>(`select id, smr_clock_level from pool.aml_case`)).map((r) => [r.id, r.smr_clock_level]),
    );

  const escalated = (id: string, tenantId: string, deadline: typeof threeDays, reported = false): AmlCase => ({
    id,
    tenantId,
    status: reported ? 'REPORTED' : 'ESCALATED',
    openedAt: formed,
    alertIds: [],
    severity: 'HIGH',
    escalation: { by: 'officer', suspicionFormedAt: formed, grounds: ['MONEY_LAUNDERING'], terrorismFinancing: deadline.basis === 'TERRORISM_FINANCING_24_HOURS', deadline },
    report: reported ? { by: 'officer', reportedAt: formed, austracReference: 'SMR-1' } : null,
    closure: null,
  });

  beforeAll(async () => {
    configureLogger('silent');
    db = await createTestDatabase();
    for (const [id, name] of [
      [a, 'Clock A Pty Ltd'],
      [b, 'Clock B Pty Ltd'],
    ]) {
      await db.owner.em.getConnection().execute(`insert into public.tenant (id, name) values (?, ?)`, [id, name]);
    }
    orm = await openAppOrm(db.appUrl, [...complianceEntities], 4);
    txs = new TenantTransactions(orm, new TenantDirectory(orm));
    await txs.run(a, async ({ em }) => {
      await saveCase(em, escalated(ids.aThree, a, threeDays), null);
      await saveCase(em, escalated(ids.aReported, a, threeDays, true), null);
    });
    await txs.run(b, async ({ em }) => {
      await saveCase(em, escalated(ids.bTf, b, tf), null);
      // Not escalated: no clock at all.
      await saveCase(em, { ...escalated(ids.bOpen, b, tf), status: 'OPEN', escalation: null }, null);
    });
  }, 60_000);
  afterAll(async () => {
    await orm?.close(true);
    await db?.drop();
  });

  it('raises nothing while every clock is on track', async () => {
    clock = new Date(formed.getTime() + HOUR);
    expect(await smrClock().tick()).toEqual([]);
    expect(await marks()).toEqual([]);
  });

  it('marks NEAR_DUE within 24 h of a 3-business-day deadline, once; OVERDUE at the due instant, once', async () => {
    expect(threeDays.dueAt.toISOString()).toBe('2026-12-10T13:00:00.000Z');
    // The 24-hour (terrorism financing) case is overdue long before: first seen overdue, it gets OVERDUE only.
    clock = new Date(threeDays.dueAt.getTime() - 2 * HOUR);
    const first = await smrClock().tick();
    expect(first.map((x) => [x.caseId, x.level]).sort()).toEqual(
      [
        [ids.aThree, 'NEAR_DUE'],
        [ids.bTf, 'OVERDUE'],
      ].sort(),
    );
    expect(await smrClock().tick()).toEqual([]);
    expect(await levels()).toEqual({ [ids.aThree]: 'NEAR_DUE', [ids.aReported]: null, [ids.bTf]: 'OVERDUE', [ids.bOpen]: null });

    // Two workers pass at the same instant after the deadline: OVERDUE is raised once between them.
    clock = threeDays.dueAt;
    const [x, y] = await Promise.all([smrClock().tick(), smrClock().tick()]);
    expect([...(x ?? []), ...(y ?? [])].map((r) => [r.tenantId, r.caseId, r.level])).toEqual([[a, ids.aThree, 'OVERDUE']]);
    clock = new Date(threeDays.dueAt.getTime() + 10 * HOUR);
    expect(await smrClock().tick()).toEqual([]);

    expect(await marks()).toEqual(
      [
        { tenantId: a, caseId: ids.aThree, level: 'NEAR_DUE', dueAt: threeDays.dueAt.toISOString() },
        { tenantId: a, caseId: ids.aThree, level: 'OVERDUE', dueAt: threeDays.dueAt.toISOString() },
        { tenantId: b, caseId: ids.bTf, level: 'OVERDUE', dueAt: tf.dueAt.toISOString() },
      ].sort((p, q) => `${p.caseId}${p.level}`.localeCompare(`${q.caseId}${q.level}`)),
    );
    expect((await levels())[ids.aThree]).toBe('OVERDUE');
  });

  it('keeps each tenant’s marks under its own row-level security', async () => {
    const seen = (tenantId: string) => txs.run(tenantId, ({ em }) => em.execute<{ case_id: string }[]>(`select case_id from aml_smr_clock_alert order by level`));
    expect((await seen(a)).map((r) => r.case_id)).toEqual([ids.aThree, ids.aThree]);
    expect((await seen(b)).map((r) => r.case_id)).toEqual([ids.bTf]);
  });
});
