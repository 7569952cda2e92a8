import type { MikroORM } from '@mikro-orm/postgresql';
import { createBus, type EventBus } from '../../lib/bus';
import { openAppOrm } from '../../lib/db/orm';
import { configureLogger } from '../../lib/logger';
import { AuthService } from '../../subgraphs/tenant/identity/auth.service';
import { tenantEntities } from '../../subgraphs/tenant';
import { TENANT_PROFILE_JOB } from '../../subgraphs/tenant/identity/tenant-profile';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { at } from '../helpers/present';

/**
 * Treasury keeps the tenant's timezone itself: tenant announces it with a `tenant.profile` job on the
 * `schedules` queue, in the transaction that sets it, stamped with the database's clock — and only then.
 */
describe('tenant.profile jobs (real PostgreSQL, application role)', () => {
  let db: TestDatabase;
  let orm: MikroORM;
  let bus: EventBus;
  let auth: AuthService;

  const profileJobs = () =>
    db.owner.em
      .getConnection()
      .execute<{ tenant_id: string; queue: string; payload: { tenantId: string; timezone: string; asOf: string }; created_at: Date }[]>(
        `select tenant_id, queue, payload, created_at from pool.outbox where job_name = ? order by created_at`,
        [TENANT_PROFILE_JOB],
      );
  const dbNow = async (): Promise<Date> => new Date(at(await db.owner.em.getConnection().execute<{ now: Date }[]>(`select now()`), 0, 'now()').now);

  beforeAll(async () => {
    configureLogger('silent');
    db = await createTestDatabase();
    orm = await openAppOrm(db.appUrl, tenantEntities, 4);
    bus = createBus(undefined, 'test');
    auth = new AuthService(orm, bus, 'tenant-profile-test-secret-tenant-profile-test');
  });

  afterAll(async () => {
    await orm?.close(true);
    await bus?.close();
    await db?.drop();
  });

  it('writes one job when a tenant is created, with its timezone and the database clock of that transaction', async () => {
    const before = await dbNow();
    const s = await auth.signUp({ tenantName: 'Perth Pty Ltd', email: 'owner@perth.example', password: 'a long enough passphrase 42', timezone: 'Australia/Perth' });
    const after = await dbNow();
    const jobs = await profileJobs();
    expect(jobs.map((j) => ({ tenant: j.tenant_id, queue: j.queue, tenantId: j.payload.tenantId, timezone: j.payload.timezone }))).toEqual([
      { tenant: s.user.tenantId, queue: 'schedules', tenantId: s.user.tenantId, timezone: 'Australia/Perth' },
    ]);
    const asOf = new Date(jobs[0]!.payload.asOf);
    expect(jobs[0]!.payload.asOf).toBe(asOf.toISOString());
    expect(asOf.getTime()).toBeGreaterThanOrEqual(before.getTime());
    expect(asOf.getTime()).toBeLessThanOrEqual(after.getTime());
  });

  it('writes the default zone when none is given, and nothing for work that does not set it (login, refresh)', async () => {
    const s = await auth.signUp({ tenantName: 'Sydney Pty Ltd', email: 'owner@sydney.example', password: 'a long enough passphrase 42' });
    await auth.login({ email: 'owner@sydney.example', password: 'a long enough passphrase 42' });
    await auth.refresh(s.refreshToken);
    const jobs = (await profileJobs()).filter((j) => j.tenant_id === s.user.tenantId);
    expect(jobs.map((j) => j.payload.timezone)).toEqual(['Australia/Sydney']);
  });

  it('writes nothing when the sign-up fails (an invalid zone, a taken email)', async () => {
    const n = (await profileJobs()).length;
    await expect(auth.signUp({ tenantName: 'Nowhere', email: 'x@nowhere.example', password: 'a long enough passphrase 42', timezone: 'Mars/Olympus' })).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
    });
    await expect(auth.signUp({ tenantName: 'Again', email: 'owner@perth.example', password: 'a long enough passphrase 42' })).rejects.toMatchObject({ code: 'EMAIL_TAKEN' });
    expect(await profileJobs()).toHaveLength(n);
  });
});
