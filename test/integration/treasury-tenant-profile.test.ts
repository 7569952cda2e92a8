import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { openAppOrm } from '../../lib/db/orm';
import { TenantDirectory } from '../../lib/db/tenant-context';
import { TenantTransactions } from '../../lib/db/tenant-tx';
import { configureLogger } from '../../lib/logger';
import type { AddOptions, BulkJob, JobPayload, JobQueue, QueueName } from '../../lib/queue';
import { treasuryTenantMigrations as tenantMigrations } from '../../subgraphs/treasury/migrations/tenant';
import { RuleEngine, TENANT_PROFILE_JOB, TreasuryScheduler, schedulesProcessor, treasuryEntities } from '../../subgraphs/treasury';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

/**
 * Treasury keeps the tenant's timezone itself (treasury_settings.timezone): backfilled once by
 * migration 0012 from public.tenant, then changed only by the tenant module's `tenant.profile` job
 * when that job is newer. Caps, schedules and the cut-off never read public.tenant at run time.
 */
describe('treasury timezone from the tenant.profile job (real PostgreSQL)', () => {
  let db: TestDatabase;
  let orm: MikroORM;
  let tenants: TenantTransactions;
  const engine = new RuleEngine({ exchangeMinCents: 500n, manualMaxCents: 10_000_000n });
  const noPrices = { latest: () => Promise.resolve(null), averageOverDays: () => Promise.resolve(null) };
  const sql = <T>(q: string, p: unknown[] = []): Promise<T[]> => db.owner.em.getConnection().execute<T[]>(q, p);
  const timezoneOf = async (tenantId: string): Promise<string | undefined> =>
    (await sql<{ timezone: string }>(`select timezone from pool.treasury_settings where tenant_id = ?`, [tenantId]))[0]?.timezone;
  const profile = (tenantId: string, timezone: string, asOf: string) =>
    schedulesProcessor(tenants, engine, noPrices)({ id: randomUUID(), name: TENANT_PROFILE_JOB, data: { tenantId, timezone, asOf }, attempt: 1 });
  const newTenant = async (timezone: string): Promise<string> => {
    const id = randomUUID();
    await sql(`insert into public.tenant (id, name, timezone) values (?, ?, ?)`, [id, `T ${id.slice(0, 6)} Pty Ltd`, timezone]);
    return id;
  };

  beforeAll(async () => {
    configureLogger('silent');
    db = await createTestDatabase();
    orm = await openAppOrm(db.appUrl, treasuryEntities, 2);
    tenants = new TenantTransactions(orm, new TenantDirectory(orm));
  }, 60_000);
  afterAll(async () => {
    await orm?.close(true);
    await db?.drop();
  });

  it('0012 backfills each tenant’s timezone once from public.tenant, and never overwrites one the job set', async () => {
    const perth = await newTenant('Australia/Perth');
    const told = await newTenant('Australia/Darwin');
    await profile(told, 'Australia/Brisbane', '2026-01-01T00:00:00Z');
    const migration = tenantMigrations.find((m) => m.name === '0012_tenant_profile');
    for (const statement of migration?.up('pool') ?? []) await sql(statement);
    expect(await timezoneOf(perth)).toBe('Australia/Perth');
    expect(await timezoneOf(told)).toBe('Australia/Brisbane');
  });

  it('tenant.profile upserts the timezone when its asOf is newer; older or repeated jobs change nothing; a bad zone is refused', async () => {
    const t = await newTenant('Australia/Sydney');
    await profile(t, 'Australia/Adelaide', '2026-03-01T00:00:00Z');
    expect(await timezoneOf(t)).toBe('Australia/Adelaide');
    await profile(t, 'Australia/Hobart', '2026-02-01T00:00:00Z'); // older: ignored
    expect(await timezoneOf(t)).toBe('Australia/Adelaide');
    await profile(t, 'Australia/Hobart', '2026-03-01T00:00:00Z'); // same instant: ignored
    expect(await timezoneOf(t)).toBe('Australia/Adelaide');
    await profile(t, 'Pacific/Auckland', '2026-04-01T00:00:00Z');
    expect(await timezoneOf(t)).toBe('Pacific/Auckland');
    await expect(profile(t, 'Mars/Olympus_Mons', '2026-05-01T00:00:00Z')).rejects.toThrow(/IANA/);
    await expect(profile(t, 'Australia/Perth', 'yesterday')).rejects.toThrow(/asOf/);
    expect(await timezoneOf(t)).toBe('Pacific/Auckland');
  });

  it('the cut-off is decided in treasury’s timezone, not public.tenant’s', async () => {
    // 25 hours apart: at any instant the two zones are on different local dates.
    const t = await newTenant('Pacific/Pago_Pago');
    await profile(t, 'Pacific/Kiritimati', new Date().toISOString());
    await tenants.run(t, ({ em }) => em.execute(`update treasury_settings set cutoff_local_time = '00:00'`));
    const added: { queue: QueueName; name: string; data: JobPayload }[] = [];
    const queue: JobQueue = {
      kind: 'in-process',
      add: (q: QueueName, name: string, data: JobPayload, _opts: AddOptions) => Promise.resolve(void added.push({ queue: q, name, data })),
      addBulk: (jobs: BulkJob[]) => Promise.resolve(void jobs.forEach((j) => added.push({ queue: j.queue, name: j.name, data: j.data }))),
      process: () => undefined,
      close: () => Promise.resolve(),
    };
    await new TreasuryScheduler({ orm, tenants, queue, intervalMs: 60_000, staleMs: 60_000 }).tick();
    const cutoff = added.find((j) => j.name === 'cutoff' && j.data.tenantId === t);
    const kiritimatiToday = new Intl.DateTimeFormat('en-CA', { timeZone: 'Pacific/Kiritimati', year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());
    expect(cutoff?.data.day).toBe(kiritimatiToday);
  });
});
