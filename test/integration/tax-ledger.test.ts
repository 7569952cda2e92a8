import { randomUUID } from 'node:crypto';
import type { AbstractSqlConnection, MikroORM } from '@mikro-orm/postgresql';
import { openAppOrm } from '../../lib/db/orm';
import { TenantDirectory } from '../../lib/db/tenant-context';
import { TenantTransactions } from '../../lib/db/tenant-tx';
import { AppError } from '../../lib/errors';
import { TAX_ACQUISITION_JOB, TAX_DISPOSAL_JOB, type TaxAcquisitionFact, type TaxDisposalFact } from '../../lib/events/tax-facts';
import { configureLogger } from '../../lib/logger';
import type { JobInfo } from '../../lib/queue';
import { complianceEntities } from '../../subgraphs/compliance';
import { taxProcessor } from '../../subgraphs/compliance/jobs/tax.processor';
import { capitalGainsReport, loadHistory } from '../../subgraphs/compliance/tax';
import {
  adjustCostBase,
  changeDisposalIdentification,
  closeFinancialYear,
  importTaxHistory,
  recordTaxDisposal,
  setTaxProfile,
  taxDisposals,
  taxReport,
  type ProfileInput,
} from '../../subgraphs/compliance/tax/tax.service';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { at, present } from '../helpers/present';

/**
 * The tax ledger against real PostgreSQL (app role, RLS forced): treasury's facts through the `tax`
 * processor, the ledger's use cases in tenant transactions, and the kernel's numbers over stored rows.
 */

type Sql = Pick<AbstractSqlConnection, 'execute'>;

describe('the tax ledger in PostgreSQL', () => {
  let db: TestDatabase;
  let app: MikroORM;
  let txs: TenantTransactions;
  let owner: Sql;
  let handle: (job: JobInfo) => Promise<void>;

  beforeAll(async () => {
    configureLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
    db = await createTestDatabase();
    owner = db.owner.em.getConnection();
    app = await openAppOrm(db.appUrl, complianceEntities, 5);
    const directory = new TenantDirectory(app);
    txs = new TenantTransactions(app, directory);
    handle = taxProcessor(app, directory);
  });

  afterAll(async () => {
    await app?.close(true);
    await db?.drop();
  });

  async function newTenant(name: string): Promise<string> {
    const id = randomUUID();
    await owner.execute(`insert into public.tenant (id, name) values (?, ?)`, [id, name]);
    return id;
  }

  const count = async (tenantId: string, table: string): Promise<number> =>
    Number(at(await owner.execute<{ n: string }[]>(`select count(*)::text as n from pool.${table} where tenant_id = ?`, [tenantId]), 0).n);

  const auditTypes = async (tenantId: string): Promise<string[]> =>
    (
      await owner.execute<{ e: string }[]>(`select payload->>'eventType' as e from pool.outbox where tenant_id = ? and queue = 'audit' order by created_at`, [
        tenantId,
      ])
    ).map((r) => r.e);

  let jobSeq = 0;
  const job = (name: string, data: TaxAcquisitionFact | TaxDisposalFact): JobInfo => ({ id: `job-${++jobSeq}`, name, data: { ...data }, attempt: 1 });

  function fill(tenantId: string, purchaseId: string, atIso: string, sats: bigint, costAudCents: bigint, feeAudCents: bigint): TaxAcquisitionFact {
    return {
      version: 1,
      kind: 'acquisition',
      tenantId,
      id: `${purchaseId}:1`,
      purchaseId,
      exchange: 'paper',
      exchangeOrderId: `ord-${purchaseId.slice(0, 8)}`,
      at: atIso,
      sats: sats.toString(),
      costAudCents: costAudCents.toString(),
      feeAudCents: feeAudCents.toString(),
    };
  }

  function sale(tenantId: string, saleId: string, atIso: string, sats: bigint, proceedsAudCents: bigint, feeAudCents: bigint): TaxDisposalFact {
    return {
      version: 1,
      kind: 'disposal',
      type: 'SALE',
      tenantId,
      id: saleId,
      saleId,
      exchange: 'paper',
      exchangeOrderId: null,
      at: atIso,
      sats: sats.toString(),
      proceedsAudCents: proceedsAudCents.toString(),
      feeAudCents: feeAudCents.toString(),
    };
  }

  /**
   * Three fills and one FIFO sale, in Australia/Sydney (AEDT/AEST):
   *   A1 2023-03-01  1,000,000 sats  cost 3,000,000c + fee 3,000c  = cost base 3,003,000c
   *   A2 2024-01-10  1,000,000 sats  cost 5,000,000c + fee 5,000c  = cost base 5,005,000c
   *   A3 2024-06-01  2,000,000 sats  cost 13,000,002c + fee 13,000c = cost base 13,013,002c
   *   SALE 2024-09-02 (FY 2024-25) 2,500,000 sats, gross 25,000,000c, fee 25,000c → proceeds 24,975,000c
   */
  async function threeFillsAndASale(tenantId: string): Promise<void> {
    const facts = [
      job(TAX_ACQUISITION_JOB, fill(tenantId, randomUUID(), '2023-03-01T01:00:00.000Z', 1_000_000n, 3_000_000n, 3_000n)),
      job(TAX_ACQUISITION_JOB, fill(tenantId, randomUUID(), '2024-01-10T01:00:00.000Z', 1_000_000n, 5_000_000n, 5_000n)),
      job(TAX_ACQUISITION_JOB, fill(tenantId, randomUUID(), '2024-06-01T02:00:00.000Z', 2_000_000n, 13_000_002n, 13_000n)),
      job(TAX_DISPOSAL_JOB, sale(tenantId, randomUUID(), '2024-09-02T03:00:00.000Z', 2_500_000n, 25_000_000n, 25_000n)),
    ];
    for (const f of facts) await handle(f);
  }

  const profile = (tenantId: string, input: ProfileInput): Promise<unknown> => txs.run(tenantId, (tx) => setTaxProfile(tx, null, input));

  /** Runs fn expecting a typed error; returns its extensions. */
  async function refused(fn: () => Promise<unknown>): Promise<Record<string, unknown>> {
    const err = await fn().then(
      () => null,
      (e: unknown) => e,
    );
    if (!(err instanceof AppError)) throw new Error(`expected an AppError, got ${String(err)}`);
    return err.extensions;
  }

  describe('treasury facts on the tax queue', () => {
    it('records each fact once by its id, whatever job delivers it, and audits nothing', async () => {
      const t = await newTenant('Twice Pty Ltd');
      const purchaseId = randomUUID();
      const a = fill(t, purchaseId, '2025-01-02T00:00:00.000Z', 150_000n, 15_000n, 30n);
      const s = sale(t, randomUUID(), '2025-02-02T00:00:00.000Z', 50_000n, 6_000n, 12n);
      for (const f of [job(TAX_ACQUISITION_JOB, a), job(TAX_ACQUISITION_JOB, a), job(TAX_DISPOSAL_JOB, s), job(TAX_DISPOSAL_JOB, s)]) await handle(f);
      await Promise.all([handle(job(TAX_ACQUISITION_JOB, a)), handle(job(TAX_DISPOSAL_JOB, s))]);
      expect(await count(t, 'tax_acquisition')).toBe(1);
      expect(await count(t, 'tax_disposal')).toBe(1);
      expect(await auditTypes(t)).toEqual([]);
      const rows = await owner.execute<Record<string, string>[]>(
        `select id, source, sats::text, cost_aud_cents::text, fee_aud_cents::text, local_date, purchase_id::text from pool.tax_acquisition where tenant_id = ?`,
        [t],
      );
      expect(rows).toEqual([
        { id: `${purchaseId}:1`, source: 'FILL', sats: '150000', cost_aud_cents: '15000', fee_aud_cents: '30', local_date: '2025-01-02', purchase_id: purchaseId },
      ]);
      const { history } = await txs.run(t, (tx) => loadHistory(tx));
      expect(history.acquisitions).toEqual([
        {
          id: `${purchaseId}:1`,
          source: 'PURCHASE_FILL',
          at: new Date('2025-01-02T00:00:00.000Z'),
          sats: 150_000n,
          costAudCents: 15_000n,
          feeAudCents: 30n,
          exchange: 'paper',
          purchaseId,
          fillId: `${purchaseId}:1`,
        },
      ]);
      expect(history.disposals).toEqual([
        { id: s.id, type: 'SALE', source: 'PLATFORM', at: new Date(s.at), sats: 50_000n, proceedsAudCents: 6_000n, feeAudCents: 12n, exchange: 'paper' },
      ]);
    });

    it('refuses a malformed fact (fractional sats) and records nothing', async () => {
      const t = await newTenant('Malformed Pty Ltd');
      const bad = { ...fill(t, randomUUID(), '2025-01-02T00:00:00.000Z', 1n, 1n, 0n), sats: '1.5' };
      await expect(handle(job(TAX_ACQUISITION_JOB, bad))).rejects.toThrow(/not a positive integer/);
      expect(await count(t, 'tax_acquisition')).toBe(0);
    });
  });

  describe('a hand-computed year: three fills, one sale partly held over 12 months', () => {
    /*
     * FIFO takes A1 whole, A2 whole and 500,000 of A3's 2,000,000 sats.
     * Proceeds split by sats (1 : 1 : 0.5 of 2.5): 9,990,000 / 9,990,000 / 4,995,000 (exact, sum 24,975,000).
     * A3's part of its cost base: 13,013,002 × 500,000 / 2,000,000 = 3,253,250.5 → rounded half up 3,253,251
     * (the 1,500,000 sats kept keep 9,759,751; 3,253,251 + 9,759,751 = 13,013,002).
     * Gains: A1 9,990,000 − 3,003,000 = 6,987,000, held 550 days (2023-03-01 → 2024-09-02, both days excluded): over 12 months;
     *        A2 9,990,000 − 5,005,000 = 4,985,000 (under 12 months); A3 4,995,000 − 3,253,251 = 1,741,749 (under).
     * Gross capital gains = 6,987,000 + 4,985,000 + 1,741,749 = 13,713,749.
     * A prior net capital loss of 1,000,000 (2023-24) is applied to non-discountable gains first.
     * INDIVIDUAL: non-discountable 6,726,749 − 1,000,000 = 5,726,749; discountable 6,987,000 × 1/2 = 3,493,500 discount;
     *             net capital gain = 5,726,749 + 3,493,500 = 9,220,249.
     * COMPANY (continuity of ownership met for 2023-24): no discount; 13,713,749 − 1,000,000 = 12,713,749; CGT schedule (over $10,000).
     * COMPANY without a loss-test record: the loss is blocked: 13,713,749, 1,000,000 carried forward.
     */
    const prior = [{ lossYear: 2024, amountAudCents: 1_000_000n }];

    it('gives an individual the 50% discount on the parcel held over 12 months only', async () => {
      const t = await newTenant('Individual');
      await profile(t, { entityType: 'INDIVIDUAL', gstRegistered: false, timeZone: 'Australia/Sydney', priorNetCapitalLosses: prior });
      await threeFillsAndASale(t);
      const r = await txs.run(t, (tx) => taxReport(tx, 2025));
      const d = at(r.disposals, 0, 'disposals');
      expect(r.disposals).toHaveLength(1);
      expect(d.proceedsAudCents).toBe(24_975_000n);
      expect(d.matches.map((m) => [m.sats, m.costBaseAudCents, m.proceedsAudCents, m.gainAudCents, m.heldAtLeast12Months, m.discountEligible])).toEqual([
        [1_000_000n, 3_003_000n, 9_990_000n, 6_987_000n, true, true],
        [1_000_000n, 5_005_000n, 9_990_000n, 4_985_000n, false, false],
        [500_000n, 3_253_251n, 4_995_000n, 1_741_749n, false, false],
      ]);
      expect(at(d.matches, 0).heldDays).toBe(550);
      expect(r.summary.grossCapitalGainsAudCents).toBe(13_713_749n);
      expect(r.summary.priorLossesAppliedAudCents).toEqual({ nonDiscountable: 1_000_000n, discountable: 0n });
      expect(r.summary.discountAudCents).toBe(3_493_500n);
      expect(r.summary.netCapitalGainAudCents).toBe(9_220_249n);
      expect(r.summary.netCapitalLossCarriedForwardAudCents).toBe(0n);
      expect(r.summary.cgtScheduleRequired).toBeNull();
      expect(r.inventoryAtYearEnd.map((p) => [p.sats, p.costBaseAudCents])).toEqual([[1_500_000n, 9_759_751n]]);
      expect(r.complete).toBe(true);
    });

    it('gives a company no discount, and applies its prior loss only with a loss-test record', async () => {
      const c = await newTenant('Company');
      await profile(c, { entityType: 'COMPANY', gstRegistered: true, priorNetCapitalLosses: prior, companyLossTests: [{ lossYear: 2024, cotMet: true, bctMet: false }] });
      await threeFillsAndASale(c);
      const r = await txs.run(c, (tx) => taxReport(tx, 2025));
      expect(r.summary.grossCapitalGainsAudCents).toBe(13_713_749n);
      expect(r.summary.discountAudCents).toBe(0n);
      expect(r.summary.netCapitalGainAudCents).toBe(12_713_749n);
      expect(r.summary.cgtScheduleRequired).toBe(true);

      const blocked = await newTenant('Company without record');
      await profile(blocked, { entityType: 'COMPANY', gstRegistered: false, priorNetCapitalLosses: prior });
      await threeFillsAndASale(blocked);
      const b = await txs.run(blocked, (tx) => taxReport(tx, 2025));
      expect(b.summary.netCapitalGainAudCents).toBe(13_713_749n);
      expect(b.summary.carriedForward).toEqual([{ lossYear: 2024, amountAudCents: 1_000_000n, blocked: 'LOSS_TEST_NOT_RECORDED' }]);
    });

    it('edits a cost base with a reason (audited), changing the gain by exactly the difference', async () => {
      const t = await newTenant('Adjusted');
      await profile(t, { entityType: 'INDIVIDUAL', gstRegistered: false });
      await threeFillsAndASale(t);
      const { history } = await txs.run(t, (tx) => loadHistory(tx));
      const a2 = present(history.acquisitions.find((a) => a.at.toISOString() === '2024-01-10T01:00:00.000Z'), 'A2');
      const adj = await txs.run(t, (tx) => adjustCostBase(tx, '00000000-0000-4000-8000-00000000beef', { parcelId: a2.id, costAudCents: 5_105_000n, reason: 'exchange statement shows $1,000 more' }));
      expect(adj.previousCostBaseAudCents).toBe(5_005_000n);
      const r = await txs.run(t, (tx) => taxReport(tx, 2025));
      // A2's gain 4,985,000 − 100,000 = 4,885,000; no prior loss: net = 6,726,749 − 100,000 + 3,493,500 = 10,120,249.
      expect(at(at(r.disposals, 0).matches, 1).gainAudCents).toBe(4_885_000n);
      expect(r.summary.netCapitalGainAudCents).toBe(10_120_249n);
      expect(await auditTypes(t)).toEqual(['tax.profile_set', 'tax.cost_base_adjusted']);
      const unknown = await refused(() => txs.run(t, (tx) => adjustCostBase(tx, null, { parcelId: 'nope', costAudCents: 1n, reason: 'x' })));
      expect(unknown).toMatchObject({ code: 'NOT_FOUND', reason: 'UNKNOWN_PARCEL' });
      const noReason = await refused(() => txs.run(t, (tx) => adjustCostBase(tx, null, { parcelId: a2.id, costAudCents: 1n, reason: '  ' })));
      expect(noReason).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'REASON_REQUIRED' });
      expect(await count(t, 'tax_cost_base_adjustment')).toBe(1);
    });
  });

  describe('spends and fees paid in bitcoin', () => {
    it('records a spend at market value with a specific parcel choice, and refuses one above holdings writing nothing', async () => {
      const t = await newTenant('Spender');
      await profile(t, { entityType: 'INDIVIDUAL', gstRegistered: false });
      const p1 = randomUUID();
      const p2 = randomUUID();
      await handle(job(TAX_ACQUISITION_JOB, fill(t, p1, '2025-01-01T00:00:00.000Z', 100_000n, 10_000n, 0n)));
      await handle(job(TAX_ACQUISITION_JOB, fill(t, p2, '2025-02-01T00:00:00.000Z', 100_000n, 12_000n, 0n)));
      // 40,000 sats of the second parcel (cost 12,000 × 0.4 = 4,800) given for goods worth 6,000: gain 1,200.
      const spend = await txs.run(t, (tx) =>
        recordTaxDisposal(tx, null, {
          type: 'SPEND',
          sats: 40_000n,
          marketValueAudCents: 6_000n,
          at: new Date('2025-03-01T00:00:00.000Z'),
          identification: { method: 'SPECIFIC', parcels: [{ parcelId: `${p2}:1`, sats: 40_000n }] },
        }),
      );
      expect([spend.type, spend.costBaseAudCents, spend.proceedsAudCents, spend.gainAudCents]).toEqual(['SPEND', 4_800n, 6_000n, 1_200n]);
      const above = await refused(() =>
        txs.run(t, (tx) => recordTaxDisposal(tx, null, { type: 'FEE', sats: 160_001n, marketValueAudCents: 1n, at: new Date('2025-03-02T00:00:00.000Z') })),
      );
      expect(above).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INSUFFICIENT_HOLDINGS' });
      const future = await refused(() =>
        txs.run(t, (tx) => recordTaxDisposal(tx, null, { type: 'FEE', sats: 1n, marketValueAudCents: 1n, at: new Date(Date.now() + 86_400_000) })),
      );
      expect(future).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_TIME' });
      const negative = await refused(() =>
        txs.run(t, (tx) => recordTaxDisposal(tx, null, { type: 'FEE', sats: -1n, marketValueAudCents: 1n, at: new Date('2025-03-02T00:00:00.000Z') })),
      );
      expect(negative).toMatchObject({ code: 'BAD_USER_INPUT' });
      expect(await count(t, 'tax_disposal')).toBe(1);
      const listed = await txs.run(t, (tx) => taxDisposals(tx, 2025));
      expect(listed.map((d) => [d.disposalId, d.type, d.sats])).toEqual([[spend.disposalId, 'SPEND', 40_000n]]);
      expect(await auditTypes(t)).toEqual(['tax.profile_set', 'tax.disposal_recorded']);
      // A new time zone re-dates the stored rows: 2025-01-01T00:00Z is 31 December 2024, 14:00 in Honolulu (UTC−10).
      await profile(t, { entityType: 'INDIVIDUAL', gstRegistered: false, timeZone: 'Pacific/Honolulu' });
      const dates = await owner.execute<{ local_date: string }[]>(`select local_date from pool.tax_acquisition where tenant_id = ? order by at`, [t]);
      expect(dates.map((d) => d.local_date)).toEqual(['2024-12-31', '2025-01-31']);
    });
  });

  describe('importing history', () => {
    const header = 'time,type,sats,aud,fee,source,id';

    it('imports a good CSV and flags a disposal without acquisition history', async () => {
      const t = await newTenant('Importer');
      await profile(t, { entityType: 'INDIVIDUAL', gstRegistered: false });
      const csv = [header, '2024-07-01T09:30:00+10:00,BUY,100000,100.00,1.00,coinspot,i1', '2024-08-01T09:30:00+10:00,SELL,150000,300.00,0,coinspot,i2', ''].join('\n');
      const res = await txs.run(t, (tx) => importTaxHistory(tx, null, csv));
      expect(res).toMatchObject({ acquisitions: 1, disposals: 1, flaggedDisposalIds: ['i2'] });
      expect(await count(t, 'tax_import_batch')).toBe(1);
      const flags = await owner.execute<{ flags: string[] }[]>(`select flags from pool.tax_disposal where tenant_id = ? and id = 'i2'`, [t]);
      expect(at(flags, 0).flags).toEqual(['UNKNOWN_ACQUISITION_HISTORY']);
      const r = await txs.run(t, (tx) => taxReport(tx, 2025));
      expect(r.complete).toBe(false);
      expect(r.flags).toEqual([{ code: 'UNKNOWN_ACQUISITION_HISTORY', disposalId: 'i2', sats: 50_000n }]);
      expect(await auditTypes(t)).toEqual(['tax.profile_set', 'tax.history_imported']);
      // The same rows again: refused whole (the ids are taken), nothing more written.
      const again = await refused(() => txs.run(t, (tx) => importTaxHistory(tx, null, csv)));
      expect(again).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'CSV_INVALID' });
      expect(await count(t, 'tax_acquisition')).toBe(1);
      expect(await count(t, 'tax_import_batch')).toBe(1);
    });

    it('writes nothing when one line is bad, and names that line', async () => {
      const t = await newTenant('Bad CSV');
      const csv = [header, '2024-07-01T09:30:00+10:00,BUY,100000,100.00,1.00,coinspot,b1', '2024-07-02T09:30:00+10:00,BUY,1.5,100.00,0,coinspot,b2', ''].join('\n');
      const ext = await refused(() => txs.run(t, (tx) => importTaxHistory(tx, null, csv)));
      expect(ext).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'CSV_INVALID' });
      expect((ext.errors as { line: number }[]).map((e) => e.line)).toEqual([3]);
      for (const table of ['tax_acquisition', 'tax_disposal', 'tax_import_batch']) expect(await count(t, table)).toBe(0);
      expect(await auditTypes(t)).toEqual([]);
    });
  });

  describe('closed years', () => {
    it('a fill and a sale dated in a closed year but arriving after the close: recorded, the year stays as lodged and names them', async () => {
      const t = await newTenant('Late facts');
      await profile(t, { entityType: 'INDIVIDUAL', gstRegistered: false });
      const p1 = randomUUID();
      await handle(job(TAX_ACQUISITION_JOB, fill(t, p1, '2023-08-01T00:00:00.000Z', 100_000n, 3_000n, 0n)));
      await handle(job(TAX_DISPOSAL_JOB, sale(t, randomUUID(), '2023-10-01T00:00:00.000Z', 40_000n, 2_000n, 0n)));
      const lodged = await txs.run(t, (tx) => closeFinancialYear(tx, null, 2024));
      // 40,000 of 100,000 sats: cost 1,200, proceeds 2,000 → gain 800 (not held 12 months).
      expect(lodged.summary.netCapitalGainAudCents).toBe(800n);
      // The queue was held up: facts of June 2024 arrive after FY 2023-24 was lodged.
      const lateFill = randomUUID();
      const lateSale = randomUUID();
      await handle(job(TAX_ACQUISITION_JOB, fill(t, lateFill, '2024-06-01T00:00:00.000Z', 50_000n, 2_500n, 0n)));
      await handle(job(TAX_DISPOSAL_JOB, sale(t, lateSale, '2024-06-02T00:00:00.000Z', 10_000n, 900n, 0n)));
      const n = await owner.execute<{ n: string }[]>(`select count(*)::text as n from pool.tax_disposal where tenant_id = ?`, [t]);
      expect(at(n, 0).n).toBe('2');

      const again = await txs.run(t, (tx) => taxReport(tx, 2024));
      expect(again.summary).toEqual(lodged.summary);
      expect(again.disposals).toEqual(lodged.disposals);
      expect(again.complete).toBe(false);
      expect(again.flags).toEqual(
        [
          { code: 'LATE_FACT_IN_CLOSED_YEAR', disposalId: `${lateFill}:1`, sats: 50_000n },
          { code: 'LATE_FACT_IN_CLOSED_YEAR', disposalId: lateSale, sats: 10_000n },
        ].sort((a, b) => (a.disposalId < b.disposalId ? -1 : 1)),
      );
      // The open year after it counts what really happened: 100,000 − 40,000 + 50,000 − 10,000 held.
      const next = await txs.run(t, (tx) => taxReport(tx, 2025));
      expect(next.flags).toEqual([]);
      expect(next.inventoryAtYearEnd.reduce((s, p) => s + p.sats, 0n)).toBe(100_000n);
    });

    it('refuses a parcel-choice change after the year closes, and keeps the closed report byte-identical', async () => {
      const t = await newTenant('Closer');
      await profile(t, { entityType: 'INDIVIDUAL', gstRegistered: false });
      const p1 = randomUUID();
      const p2 = randomUUID();
      const saleId = randomUUID();
      await handle(job(TAX_ACQUISITION_JOB, fill(t, p1, '2023-08-01T00:00:00.000Z', 100_000n, 3_000n, 0n)));
      await handle(job(TAX_ACQUISITION_JOB, fill(t, p2, '2023-09-01T00:00:00.000Z', 100_000n, 4_000n, 0n)));
      await handle(job(TAX_DISPOSAL_JOB, sale(t, saleId, '2023-10-01T00:00:00.000Z', 100_000n, 5_000n, 0n)));
      // Open year: a specific choice (the dearer parcel) is allowed and changes the gain: 5,000 − 4,000 = 1,000.
      const changed = await txs.run(t, (tx) =>
        changeDisposalIdentification(tx, null, saleId, { method: 'SPECIFIC', parcels: [{ parcelId: `${p2}:1`, sats: 100_000n }] }),
      );
      expect(changed.gainAudCents).toBe(1_000n);
      const closed = await txs.run(t, (tx) => closeFinancialYear(tx, null, 2024));
      expect(closed.summary.netCapitalGainAudCents).toBe(1_000n);
      const ext = await refused(() => txs.run(t, (tx) => changeDisposalIdentification(tx, null, saleId, { method: 'FIFO' })));
      expect(ext).toMatchObject({ code: 'CONFLICT', reason: 'YEAR_CLOSED' });
      const again = await refused(() => txs.run(t, (tx) => closeFinancialYear(tx, null, 2024)));
      expect(again).toMatchObject({ code: 'CONFLICT', reason: 'YEAR_CLOSED' });
      const notEnded = await refused(() => txs.run(t, (tx) => closeFinancialYear(tx, null, 2040)));
      expect(notEnded).toMatchObject({ code: 'CONFLICT', reason: 'YEAR_NOT_ENDED' });
      // A profile change that would alter the closed year (a company gets no discount) is refused too.
      const prof = await refused(() => profile(t, { entityType: 'COMPANY', gstRegistered: false }));
      expect(prof).toMatchObject({ code: 'CONFLICT', reason: 'YEAR_CLOSED' });
      const stored = await owner.execute<{ identification: { method: string } }[]>(`select identification from pool.tax_disposal where tenant_id = ? and id = ?`, [t, saleId]);
      expect(at(stored, 0).identification.method).toBe('SPECIFIC');
      const { history, profile: p } = await txs.run(t, (tx) => loadHistory(tx));
      expect(p.closedThroughYear).toBe(2024);
      expect(capitalGainsReport(history, p, 2024).closed).toBe(true);
      expect(await auditTypes(t)).toEqual(['tax.profile_set', 'tax.identification_changed', 'tax.year_closed']);
    });
  });

  describe('row-level security', () => {
    it('shows another tenant nothing of this one’s ledger, even with no filter', async () => {
      const mine = await newTenant('Mine');
      const theirs = await newTenant('Theirs');
      await profile(mine, { entityType: 'INDIVIDUAL', gstRegistered: true });
      await threeFillsAndASale(mine);
      await txs.run(mine, (tx) => importTaxHistory(tx, null, 'time,type,sats,aud,source\n2024-10-01T00:00:00Z,BUY,1000,1.00,x\n'));
      const seen = await txs.run(theirs, async (tx) => {
        const loaded = await loadHistory(tx);
        const raw = await tx.em.execute<{ n: string }[]>(
          `select (select count(*) from tax_acquisition) + (select count(*) from tax_disposal) + (select count(*) from tax_profile)
                + (select count(*) from tax_import_batch) + (select count(*) from tax_closed_year) + (select count(*) from tax_cost_base_adjustment) as n`,
        );
        return { loaded, n: Number(at(raw, 0).n) };
      });
      expect(seen.n).toBe(0);
      expect(seen.loaded.configured).toBe(false);
      expect(seen.loaded.history.acquisitions).toEqual([]);
      expect(seen.loaded.history.disposals).toEqual([]);
      // Writing into the other tenant's rows is refused by the policy's check.
      const forged = await txs
        .run(theirs, (tx) => tx.em.execute(`insert into tax_acquisition (tenant_id, id, source, at, local_date, sats, cost_aud_cents, exchange) values (?, 'x', 'IMPORT', now(), '2025-01-01', 1, 1, 'x')`, [mine]))
        .then(
          () => 'written',
          (e: Error) => e.message,
        );
      expect(forged).toMatch(/row-level security/);
      expect(await count(mine, 'tax_acquisition')).toBe(4);
    });
  });
});

