import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { openAppOrm } from '../../lib/db/orm';
import { TenantDirectory } from '../../lib/db/tenant-context';
import { TenantTransactions } from '../../lib/db/tenant-tx';
import { configureLogger } from '../../lib/logger';
import { complianceEntities } from '../../subgraphs/compliance';
import { localDate } from '../../subgraphs/compliance/aml/local-date';
import { evaluateOperation, type MonitoredOperation } from '../../subgraphs/compliance/aml/monitoring';
import { loadMonitoringConfig, setMonitoringTimeZone } from '../../subgraphs/compliance/aml/monitoring-config.store';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

/**
 * The operator's monitoring time zone (#11) on real PostgreSQL: Australia/Sydney by default, set
 * by the officer (audited in the platform chain), an unknown zone refused with nothing written, and
 * SPIKE's local day follows it across the start of Sydney's daylight saving (Sunday 4 October
 * 2026, 02:00 AEST → 03:00 AEDT), where a fixed +10 offset would put the day wrong.
 */
describe('AML monitoring time zone (real PostgreSQL)', () => {
  let db: TestDatabase;
  let orm: MikroORM;
  let txs: TenantTransactions;
  const operator = randomUUID();
  const tenant = randomUUID();
  const officer = { userId: randomUUID(), tenantId: operator };

  // 20 days of A$100 revenue, then A$6,000 at 23:00 AEDT on 4 October and A$1,000 at 00:30 AEDT on 5 October.
  const op = (id: string, at: string, cents: bigint): MonitoredOperation => ({ id, tenantId: tenant, kind: 'REVENUE', amountAudCents: cents, at: new Date(at) });
  const history: MonitoredOperation[] = [
    ...Array.from({ length: 20 }, (_, i) => op(`d${i}`, new Date(Date.UTC(2026, 8, 14 + i, 2)).toISOString(), 10_000n)),
    op('late-evening', '2026-10-04T12:00:00Z', 600_000n),
  ];
  const current = op('after-midnight', '2026-10-04T13:30:00Z', 100_000n);
  const spikes = async (): Promise<string[]> => {
    const { config } = await txs.run(operator, (tx) => loadMonitoringConfig(tx.em));
    return evaluateOperation(current, history, { config })
      .filter((h) => h.rule === 'SPIKE')
      .map((h) => String((h.facts as { day: string }).day));
  };
  const stored = () => db.owner.em.getConnection().execute<{ value: string }[]>(`select value from public.aml_monitoring_setting`);
  const facts = () =>
    db.owner.em
      .getConnection()
      .execute<{ payload: { eventType: string; data: Record<string, unknown> } }[]>(`select payload from pool.outbox where queue = 'audit' and tenant_id = ?`, [operator]);

  beforeAll(async () => {
    configureLogger('silent');
    db = await createTestDatabase();
    for (const [id, name] of [
      [operator, 'Operator Pty Ltd'],
      [tenant, 'Spiky Pty Ltd'],
    ]) {
      await db.owner.em.getConnection().execute(`insert into public.tenant (id, name) values (?, ?)`, [id, name]);
    }
    orm = await openAppOrm(db.appUrl, [...complianceEntities], 2);
    txs = new TenantTransactions(orm, new TenantDirectory(orm));
  }, 60_000);

  afterAll(async () => {
    await orm?.close(true);
    await db?.drop();
  });

  it('counts Sydney days by default, daylight saving included: 13:30Z on 4 October is already 5 October', async () => {
    const effective = await txs.run(operator, (tx) => loadMonitoringConfig(tx.em));
    expect(effective.config.timeZone).toBe('Australia/Sydney');
    expect(effective.timeZone).toBeNull();
    expect(localDate(current.at, 'Australia/Sydney')).toBe('2026-10-05');
    expect(localDate(new Date('2026-10-03T13:30:00Z'), 'Australia/Sydney')).toBe('2026-10-03');
    // The A$6,000 fell on 4 October; 5 October's A$1,000 is no spike against a 21-day baseline.
    expect(await spikes()).toEqual([]);
  });

  it('refuses an unknown or empty zone with a typed error and writes nothing', async () => {
    for (const tz of ['Mars/Olympus_Mons', '', 'UTC+10:00; drop table x']) {
      await expect(setMonitoringTimeZone(txs, officer, tz)).rejects.toMatchObject({
        extensions: { code: 'BAD_USER_INPUT', reason: 'INVALID_MONITORING_CONFIG', field: 'timeZone' },
      });
    }
    expect(await stored()).toEqual([]);
    expect(await facts()).toEqual([]);
  });

  it('runs the rules in the zone the officer sets, audited in the platform chain', async () => {
    const effective = await setMonitoringTimeZone(txs, officer, 'Australia/Brisbane');
    expect(effective.config.timeZone).toBe('Australia/Brisbane');
    expect(effective.timeZone).toMatchObject({ timeZone: 'Australia/Brisbane', updatedBy: officer.userId });
    expect(await stored()).toEqual([{ value: 'Australia/Brisbane' }]);
    // Brisbane keeps +10 all year: both amounts are on 4 October, A$7,000 against a A$100 daily mean.
    expect(await spikes()).toEqual(['2026-10-04']);
    expect((await facts()).map((f) => ({ type: f.payload.eventType, data: f.payload.data }))).toEqual([
      { type: 'aml.monitoring_time_zone.set', data: { from: null, to: 'Australia/Brisbane' } },
    ]);

    await setMonitoringTimeZone(txs, officer, 'Australia/Sydney');
    expect(await spikes()).toEqual([]);
  });
});
