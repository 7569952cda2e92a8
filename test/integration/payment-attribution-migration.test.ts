import { randomUUID } from 'node:crypto';
import { TenantTransactions, type TenantTx } from '../../lib/db/tenant-tx';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Scope } from '../../lib/access';
import { openAppOrm } from '../../lib/db/orm';
import { APP_ROLE, RELAY_ROLE, dedicatedSchemaName } from '../../lib/db/roles';
import { TenantDirectory } from '../../lib/db/tenant-context';
import { configureLogger } from '../../lib/logger';
import { allTenantMigrations } from '../../lib/db/migrate';
import { treasuryEntities } from '../../subgraphs/treasury';
import { PurchaseService } from '../../subgraphs/treasury/purchases/purchase.service';
import { RuleEngine } from '../../subgraphs/treasury/rules/rule-engine';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { at } from '../helpers/present';

const ATTRIBUTION = '0008_payment_attribution';

/**
 * 0008 on a ledger written by the engine before it: refunds linked by note text, every unspent entry
 * linked to the next purchase, one PURCHASE and one RETURN entry per purchase. After the migration
 * each entry names its payment, purchases are split over the payments they consumed (oldest first),
 * returns go back to them, and the engine carries on from there.
 */
describe('migration 0008: payment attribution backfilled from the old ledger (real PostgreSQL)', () => {
  let db: TestDatabase;
  let orm: MikroORM;
  const tenantId = randomUUID();
  const schema = dedicatedSchemaName(tenantId);
  const rule = randomUUID();
  const [EA, EB, EB_REFUND, EC, ED, ED_REFUND, EE, EE_REFUND] = [randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID()];
  const [P1, P2, P3] = [randomUUID(), randomUUID(), randomUUID()];
  const sql = <T>(q: string, params: unknown[] = []): Promise<T[]> => db.owner.em.getConnection().execute<T[]>(q, params);

  beforeAll(async () => {
    configureLogger('silent');
    db = await createTestDatabase();
    await sql(`insert into public.tenant (id, name) values (?, 'Legacy Ledger Pty Ltd')`, [tenantId]);
    await sql(`create schema "${schema}"`);
    await sql(`grant usage on schema "${schema}" to ${APP_ROLE}, ${RELAY_ROLE}`);
    for (const m of allTenantMigrations().filter((x) => x.name < ATTRIBUTION)) for (const stmt of m.up(schema)) await sql(stmt);

    // What the old engine wrote for: A 123.45 → P1 1234 (half a cent left); B 25.00, refund 5.00 of B,
    // C 50.00 → P2 700 FAILED and returned; D 30.00 → P3 1000 FILLED; D refunded after P3 (kept);
    // a refund of E 10.00 delivered before E 40.00 (applied when E came). 300.5 cents pending.
    await sql(`insert into "${schema}".treasury_rule (tenant_id, id, name, type, percentage_bps) values (?, ?, '10%', 'PERCENTAGE_OF_REVENUE', 1000)`, [
      tenantId,
      rule,
    ]);
    for (const [id, status, amount] of [
      [P1, 'FILLED', 1234],
      [P2, 'FAILED', 700],
      [P3, 'FILLED', 1000],
    ] as const) {
      await sql(
        `insert into "${schema}".purchase (tenant_id, id, rule_id, source, status, amount_aud_cents, client_order_id, spent_aud_cents) values (?, ?, ?, 'RULE', ?, ?, ?, ?)`,
        [tenantId, id, rule, status, amount, id, status === 'FILLED' ? amount : 0],
      );
    }
    type Row = [string, number, string | null, string | null, string | null, string | null, Partial<{ awaits: string; awaiting: number }>?];
    const rows: Row[] = [
      // kind, amount_e4, payment_event_id, source_key, purchase_id, note
      ['REVENUE', 12_345_000, EA, 'stripe:REVENUE:pi_a', P1, null],
      ['PURCHASE', -12_340_000, null, null, P1, null],
      ['REVENUE', 2_500_000, EB, 'square:REVENUE:sq_b', P2, null],
      ['REFUND', -500_000, EB_REFUND, 'square:REFUND:sq_r', P2, 'refund of sq_b'],
      ['REVENUE', 5_000_000, EC, 'paypal:REVENUE:cap_c', P2, null],
      ['PURCHASE', -7_000_000, null, null, P2, null],
      ['RETURN', 7_000_000, null, null, P3, `unspent by purchase ${P2} (FAILED)`],
      ['REVENUE', 3_000_000, ED, 'stripe:REVENUE:pi_d', P3, null],
      ['PURCHASE', -10_000_000, null, null, P3, null],
      ['REFUND', 0, ED_REFUND, 'stripe:REFUND:re_d', null, `refunded after purchase ${P3}; the bitcoin is kept`],
      ['REFUND', 0, EE_REFUND, 'stripe:REFUND:re_e', null, 'refund of pi_e, received before the payment', { awaits: 'stripe:REVENUE:pi_e' }],
      ['REVENUE', 4_000_000, EE, 'stripe:REVENUE:pi_e', null, null],
      ['REFUND', -1_000_000, null, 'stripe:REVENUE:pi_e:early-refunds', null, 'refund of pi_e'],
    ];
    let at = Date.parse('2026-07-01T00:00:00Z');
    for (const [kind, amount, event, key, purchase, note, extra] of rows) {
      await sql(
        `insert into "${schema}".accrual_entry (tenant_id, id, rule_id, kind, amount_e4, payment_event_id, source_key, purchase_id, note, awaits_key, created_at)
         values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [tenantId, randomUUID(), rule, kind, amount, event, key, purchase, note, extra?.awaits ?? null, new Date((at += 1000))],
      );
    }
    await sql(`insert into "${schema}".rule_accrual (tenant_id, rule_id, pending_e4) values (?, ?, 3005000)`, [tenantId, rule]);

    for (const m of allTenantMigrations().filter((x) => x.name >= ATTRIBUTION)) for (const stmt of m.up(schema)) await sql(stmt);
    await sql(`update public.tenant set schema_name = ?, plan = 'ISOLATED' where id = ?`, [schema, tenantId]);
    orm = await openAppOrm(db.appUrl, treasuryEntities, 2);
  }, 60_000);
  afterAll(async () => {
    await orm?.close(true);
    await db?.drop();
  });

  const payments = () =>
    sql<{ payment_event_id: string; kind: string; accrued: string; refunded: string; pending: string }>(
      `select payment_event_id, kind, accrued_e4::text as accrued, refunded_e4::text as refunded, pending_e4::text as pending
       from "${schema}".payment_accrual order by first_at`,
    );

  it('names the payment of every revenue and refund entry, from keys and the old notes', async () => {
    const refunds = await sql<{ source_key: string; origin: string | null; refund_e4: string; purchase_id: string | null }>(
      `select source_key, origin_payment_event_id as origin, refund_e4::text, purchase_id from "${schema}".accrual_entry where kind = 'REFUND' order by created_at`,
    );
    expect(refunds).toEqual([
      { source_key: 'square:REFUND:sq_r', origin: EB, refund_e4: '500000', purchase_id: null },
      // The old entry did not record the share it kept; it is linked to the purchase that bought it.
      { source_key: 'stripe:REFUND:re_d', origin: null, refund_e4: '0', purchase_id: P3 },
      { source_key: 'stripe:REFUND:re_e', origin: EE, refund_e4: '0', purchase_id: null },
      { source_key: 'stripe:REVENUE:pi_e:early-refunds', origin: EE, refund_e4: '1000000', purchase_id: null },
    ]);
    const revenue = await sql<{ origin: string; purchase_id: string | null }>(
      `select origin_payment_event_id as origin, purchase_id from "${schema}".accrual_entry where kind = 'REVENUE' order by created_at`,
    );
    expect(revenue).toEqual([EA, EB, EC, ED, EE].map((origin) => ({ origin, purchase_id: null })));
  });

  it('splits each purchase over the payments it consumed (oldest first) and each return back over them', async () => {
    const rows = await sql<{ kind: string; purchase_id: string; origin: string | null; amount: string }>(
      `select kind, purchase_id, origin_payment_event_id as origin, amount_e4::text as amount from "${schema}".accrual_entry
       where kind in ('PURCHASE', 'RETURN') order by created_at, amount_e4`,
    );
    expect(rows).toEqual([
      { kind: 'PURCHASE', purchase_id: P1, origin: EA, amount: '-12340000' },
      { kind: 'PURCHASE', purchase_id: P2, origin: EC, amount: '-4995000' },
      { kind: 'PURCHASE', purchase_id: P2, origin: EB, amount: '-2000000' },
      { kind: 'PURCHASE', purchase_id: P2, origin: EA, amount: '-5000' },
      { kind: 'RETURN', purchase_id: P2, origin: EA, amount: '5000' },
      { kind: 'RETURN', purchase_id: P2, origin: EB, amount: '2000000' },
      { kind: 'RETURN', purchase_id: P2, origin: EC, amount: '4995000' },
      { kind: 'PURCHASE', purchase_id: P3, origin: EC, amount: '-5000000' },
      { kind: 'PURCHASE', purchase_id: P3, origin: ED, amount: '-2995000' },
      { kind: 'PURCHASE', purchase_id: P3, origin: EB, amount: '-2000000' },
      { kind: 'PURCHASE', purchase_id: P3, origin: EA, amount: '-5000' },
    ]);
    // What stays pending belongs to D (the half cent P3 left) and E; the rule's balance is unchanged.
    expect(await payments()).toEqual([
      { payment_event_id: EA, kind: 'REVENUE', accrued: '12345000', refunded: '0', pending: '0' },
      { payment_event_id: EB, kind: 'REVENUE', accrued: '2500000', refunded: '500000', pending: '0' },
      { payment_event_id: EC, kind: 'REVENUE', accrued: '5000000', refunded: '0', pending: '0' },
      { payment_event_id: ED, kind: 'REVENUE', accrued: '3000000', refunded: '0', pending: '5000' },
      { payment_event_id: EE, kind: 'REVENUE', accrued: '4000000', refunded: '1000000', pending: '3000000' },
    ]);
    const { sum, pending } = at(await sql<{ sum: string; pending: string }>(
      `select (select sum(amount_e4) from "${schema}".accrual_entry)::text as sum, (select pending_e4 from "${schema}".rule_accrual)::text as pending`,
    ), 0, 'row');
    expect({ sum, pending }).toEqual({ sum: '3005000', pending: '3005000' });
  });

  it('lets the engine carry on: fundedBy sums to each purchase, and a new refund is capped by the refunds before it', async () => {
    const directory = new TenantDirectory(orm);
    const tx = <T>(fn: (tx: TenantTx) => Promise<T>): Promise<T> => new TenantTransactions(orm, directory).run(tenantId, fn);
    const engine = new RuleEngine({ exchangeMinCents: 500n, manualMaxCents: 10_000_000n });
    const scope: Scope = { userId: randomUUID(), tenantId, role: 'OWNER', actor: 'user', amr: ['pwd'], tx: (fn) => new TenantTransactions(orm, directory).run(tenantId, fn), read: (fn) => new TenantTransactions(orm, directory).run(tenantId, fn) };
    const service = new PurchaseService(engine);
    const total = async (id: string) => (await service.funding(scope, id)).reduce((n, f) => n + f.amountAudCents, 0n);
    expect(await total(P1)).toBe(1234n);
    expect(await service.funding(scope, P2)).toEqual([]);
    expect((await service.funding(scope, P3)).map((f) => [f.paymentEventId, f.exactAudCents])).toEqual([
      [EA, '0.5'],
      [EB, '200'],
      [EC, '500'],
      [ED, '299.5'],
    ]);
    expect(await total(P3)).toBe(1000n);
    // E's share was 400, of which 100 refunded early: a full refund takes the 300 left, off the pending accrual.
    await tx((t) =>
      engine.applyPaymentEvent(t, {
        paymentEventId: randomUUID(),
        provider: 'stripe',
        kind: 'REFUND',
        amountCents: 4_000n,
        currency: 'AUD',
        providerObjectId: 're_e_2',
        relatedPaymentId: 'pi_e',
      }),
    );
    const { pending } = at(await sql<{ pending: string }>(`select pending_e4::text as pending from "${schema}".rule_accrual`), 0, 'row');
    expect(pending).toBe('5000');
  });
});
