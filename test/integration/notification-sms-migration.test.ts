import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { openAppOrm } from '../../lib/db/orm';
import { TenantDirectory } from '../../lib/db/tenant-context';
import { TenantTransactions } from '../../lib/db/tenant-tx';
import { provisionDedicatedSchema } from '../../lib/db/migrate';
import { configureLogger } from '../../lib/logger';
import { tenantEntities } from '../../subgraphs/tenant';
import { notificationTenantMigrations } from '../../subgraphs/tenant/notifications/notifications.migrations';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

/**
 * 0095_notification_sms: runs in pool and in a dedicated schema, again without effect; the SMS number
 * table is under forced row-level security (one tenant never reads another's numbers) and takes only
 * E.164 or a pseudonym; the delivery channel takes 'sms'.
 */
describe('migration 0095_notification_sms (real PostgreSQL)', () => {
  let db: TestDatabase;
  let orm: MikroORM;
  let tenants: TenantTransactions;
  const sql = <T>(q: string, params: unknown[] = []): Promise<T[]> => db.owner.em.getConnection().execute<T[]>(q, params);
  const tenant = async (): Promise<string> => {
    const id = randomUUID();
    await sql(`insert into public.tenant (id, name) values (?, ?)`, [id, `S ${id.slice(0, 8)}`]);
    return id;
  };

  beforeAll(async () => {
    configureLogger('silent');
    db = await createTestDatabase();
    orm = await openAppOrm(db.appUrl, tenantEntities, 2);
    tenants = new TenantTransactions(orm, new TenantDirectory(orm));
  }, 60_000);
  afterAll(async () => {
    await orm?.close(true);
    await db?.drop();
  });

  it('is sorted after 0090_outbound_webhooks and re-runs as a no-op in pool and in a dedicated schema', async () => {
    const m = notificationTenantMigrations.find((x) => x.name === '0095_notification_sms');
    expect(m).toBeDefined();
    expect('0095_notification_sms' > '0090_outbound_webhooks').toBe(true);
    const isolated = await tenant();
    const schema = await provisionDedicatedSchema(db.ownerUrl, isolated);
    for (const s of ['pool', schema]) {
      for (const stmt of m?.up(s) ?? []) await sql(stmt);
      const [t] = await sql<{ relrowsecurity: boolean; relforcerowsecurity: boolean }>(
        `select c.relrowsecurity, c.relforcerowsecurity from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = ? and c.relname = 'notification_contact'`,
        [s],
      );
      expect(t).toEqual({ relrowsecurity: true, relforcerowsecurity: true });
    }
  });

  it('takes E.164 or a pseudonym only; sms is a delivery channel; a tenant reads only its own numbers', async () => {
    const [a, b] = [await tenant(), await tenant()];
    const user = randomUUID();
    await tenants.run(a, ({ em }) => em.execute(`insert into notification_contact (user_id, sms_number) values (?, '+61412345678')`, [user]));
    await expect(tenants.run(a, ({ em }) => em.execute(`insert into notification_contact (user_id, sms_number) values (?, '0412345678')`, [randomUUID()]))).rejects.toThrow(/check/i);
    await tenants.run(a, ({ em }) => em.execute(`update notification_contact set sms_number = 'pseud_AbCdEfGhIjKlMnOpQrStUv' where user_id = ?`, [user]));
    await tenants.run(a, ({ em }) => em.execute(`insert into notification_delivery (notice_id, user_id, channel, notice_type) values (?, ?, 'sms', 'purchase.filled')`, [randomUUID(), user]));
    await expect(
      tenants.run(a, ({ em }) => em.execute(`insert into notification_delivery (notice_id, user_id, channel, notice_type) values (?, ?, 'pigeon', 'purchase.filled')`, [randomUUID(), user])),
    ).rejects.toThrow(/check/i);
    expect(await tenants.run(b, ({ em }) => em.execute(`select * from notification_contact`))).toEqual([]);
    expect(await tenants.run(a, ({ em }) => em.execute<{ n: string }[]>(`select count(*)::text as n from notification_contact`))).toEqual([{ n: '1' }]);
  });
});
