import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { openAppOrm } from '../../lib/db/orm';
import { TenantDirectory } from '../../lib/db/tenant-context';
import { configureLogger } from '../../lib/logger';
import { UnstorableDeliveryError, WebhookIntake, type IntakeRow } from '../../subgraphs/tenant/payments/webhook-intake';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { at } from '../helpers/present';

/**
 * The intake's last line: a row PostgreSQL refuses for its content (SQLSTATE class 22) is told apart
 * from an outage, so the HTTP layer answers 4xx (a retry cannot help) instead of 5xx (retry for days),
 * and its neighbours in the same statement are still stored.
 */
describe('webhook intake (real PostgreSQL, application role)', () => {
  let db: TestDatabase;
  let orm: MikroORM;
  let intake: WebhookIntake;
  const tenantId = randomUUID();

  const row = (providerEventId: string, extra: Partial<IntakeRow> = {}): IntakeRow => ({
    id: randomUUID(),
    integrationId: randomUUID(),
    provider: 'stripe',
    providerEventId,
    eventType: 'payment_intent.succeeded',
    kind: 'REVENUE',
    amountCents: '100',
    currency: 'AUD',
    providerObjectId: `pi_${providerEventId}`,
    relatedPaymentId: null,
    occurredAt: new Date(),
    status: 'RECEIVED',
    statusReason: null,
    raw: { id: providerEventId },
    rawBody: null,
    ...extra,
  });

  beforeAll(async () => {
    configureLogger('silent');
    db = await createTestDatabase();
    await db.owner.em.getConnection().execute(`insert into public.tenant (id, name) values (?, 'Intake Pty Ltd')`, [tenantId]);
    orm = await openAppOrm(db.appUrl, [], 2);
    intake = new WebhookIntake(orm, new TenantDirectory(orm));
  });
  afterAll(async () => {
    await orm?.close(true);
    await db?.drop();
  });

  it('rejects a row the database cannot hold with UnstorableDeliveryError, and stores the rows beside it', async () => {
    // A date JavaScript has and PostgreSQL does not (year 0): an out-of-range datetime, SQLSTATE 22008.
    const bad = intake.store(tenantId, row('evt_year0', { occurredAt: new Date('0000-06-01T00:00:00Z') }));
    const good = [intake.store(tenantId, row('evt_ok_1')), intake.store(tenantId, row('evt_ok_2'))];
    const refused = await bad.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(UnstorableDeliveryError);
    expect((refused as UnstorableDeliveryError).sqlState).toMatch(/^22/);
    await expect(Promise.all(good)).resolves.toEqual([{ duplicate: false }, { duplicate: false }]);
    const ids = await db.owner.em.getConnection().execute<{ provider_event_id: string }[]>('select provider_event_id from pool.payment_event order by 1');
    expect(ids.map((r) => r.provider_event_id)).toEqual(['evt_ok_1', 'evt_ok_2']);
  });

  it('keeps the exact bytes of a delivery in raw_body when given them', async () => {
    const body = Buffer.from('{"id":"evt_bytes","note":"a\\u0000b"}', 'utf8');
    await intake.store(tenantId, row('evt_bytes', { raw: { id: 'evt_bytes', note: 'a\ufffdb' }, rawBody: body }));
    const stored = at(await db.owner.em
      .getConnection()
      .execute<{ raw: unknown; raw_body: Buffer }[]>(`select raw, raw_body from pool.payment_event where provider_event_id = 'evt_bytes'`), 0, 'stored');
    expect(stored.raw).toEqual({ id: 'evt_bytes', note: 'a\ufffdb' });
    expect(Buffer.compare(stored.raw_body, body)).toBe(0);
  });

  it('an outage is not a content problem: it stays an ordinary error (5xx, retried)', async () => {
    const unknownTenant = randomUUID();
    const err = await intake.store(unknownTenant, row('evt_nobody')).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(UnstorableDeliveryError);
  });
});
