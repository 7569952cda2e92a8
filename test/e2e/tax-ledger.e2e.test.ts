import { ClientError, gql } from 'graphql-request';
import { TAX_ACQUISITION_JOB, taxFactJobId, type TaxAcquisitionFact } from '../../lib/events/tax-facts';
import { client, errorCodes, startTestPlatform, type TestPlatform } from '../helpers/platform';
import { at } from '../helpers/present';
import { until } from '../helpers/wait';

/**
 * The tax ledger through the gateway: a tenant sets its profile, imports its history from another
 * exchange and reads its capital gains report, whose figures match a hand computation to the cent.
 */

const PASSWORD = 'Correct-Horse-42-Battery';

/*
 * c1 2023-07-03  1,000,000 sats for $30,000.00 + $30.00 fee → cost base 3,003,000c
 * c2 2024-03-01  1,000,000 sats for $50,000.00 + $50.00 fee → cost base 5,005,000c
 * s1 2024-08-01  sells 1,500,000 sats for $90,000.00 − $90.00 fee → proceeds 8,991,000c (FY 2024-25)
 * FIFO: all of c1 (held over 12 months) and half of c2 (not); proceeds split 2 : 1 → 5,994,000 / 2,997,000.
 * c1: 5,994,000 − 3,003,000 = 2,991,000 (discountable); c2: 2,997,000 − 2,502,500 = 494,500.
 * Gross 3,485,500; individual discount 2,991,000 / 2 = 1,495,500; net capital gain 494,500 + 1,495,500 = 1,990,000.
 * Left at 30 June 2025: 500,000 sats of c2 with cost base 2,502,500.
 */
const CSV = [
  'time,type,sats,aud,fee,source,id',
  '2023-07-03T10:00:00+10:00,BUY,1000000,30000.00,30.00,coinspot,c1',
  '2024-03-01T10:00:00+11:00,BUY,1000000,50000.00,50.00,coinspot,c2',
  '2024-08-01T10:00:00+10:00,SELL,1500000,90000.00,90.00,coinspot,s1',
  '',
].join('\n');

const REPORT = gql`
  query ($fy: String!) {
    capitalGainsReport(financialYear: $fy) {
      financialYear
      entityType
      complete
      summary {
        grossCapitalGainsAudCents
        discountRate
        discountAudCents
        netCapitalGainAudCents
        netCapitalLossCarriedForwardAudCents
      }
      worksheet {
        id
        type
        proceedsAudCents
        identification {
          method
        }
        matches {
          parcelId
          sats
          costBaseAudCents
          proceedsAudCents
          gainAudCents
          heldAtLeast12Months
          discountEligible
        }
      }
      inventoryAtYearEnd {
        id
        sats
        costBaseAudCents
      }
      flags {
        code
      }
    }
  }
`;

type Report = {
  capitalGainsReport: {
    financialYear: string;
    entityType: string;
    complete: boolean;
    summary: Record<string, string>;
    worksheet: { id: string; type: string; proceedsAudCents: string; identification: { method: string }; matches: Record<string, unknown>[] }[];
    inventoryAtYearEnd: { id: string; sats: string; costBaseAudCents: string }[];
    flags: { code: string }[];
  };
};

describe('the tax ledger through the gateway', () => {
  let t: TestPlatform;
  let token: string;
  let tenantId: string;
  let other: string;

  const signUp = async (tenantName: string, email: string): Promise<{ accessToken: string; tenant: { id: string } }> =>
    (
      await client(t.gateway).request<{ signUp: { accessToken: string; tenant: { id: string } } }>(
        gql`mutation ($i: SignUpInput!) { signUp(input: $i) { accessToken tenant { id } } }`,
        { i: { tenantName, email, password: PASSWORD } },
      )
    ).signUp;

  beforeAll(async () => {
    t = await startTestPlatform();
    const mine = await signUp('Tax Coffee Pty Ltd', 'tax@x.example');
    token = mine.accessToken;
    tenantId = mine.tenant.id;
    other = (await signUp('Other Pty Ltd', 'other@x.example')).accessToken;
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('imports history and reports the financial year to the cent', async () => {
    const c = client(t.gateway, token);
    const before = await c.request<{ taxProfile: { configured: boolean; entityType: string } }>(gql`{ taxProfile { configured entityType } }`);
    expect(before.taxProfile).toEqual({ configured: false, entityType: 'COMPANY' });
    await c.request(gql`mutation { setTaxProfile(entityType: INDIVIDUAL, gstRegistered: false, timeZone: "Australia/Sydney") { entityType } }`);
    const imported = await c.request<{ importTaxHistory: { acquisitions: number; disposals: number; flaggedDisposalIds: string[] } }>(
      gql`mutation ($csv: String!) { importTaxHistory(csv: $csv) { acquisitions disposals flaggedDisposalIds } }`,
      { csv: CSV },
    );
    expect(imported.importTaxHistory).toEqual({ acquisitions: 2, disposals: 1, flaggedDisposalIds: [] });

    const r = (await c.request<Report>(REPORT, { fy: '2024-25' })).capitalGainsReport;
    expect(r.financialYear).toBe('2024-25');
    expect(r.entityType).toBe('INDIVIDUAL');
    expect(r.complete).toBe(true);
    expect(r.summary).toEqual({
      grossCapitalGainsAudCents: '3485500',
      discountRate: '1/2',
      discountAudCents: '1495500',
      netCapitalGainAudCents: '1990000',
      netCapitalLossCarriedForwardAudCents: '0',
    });
    const sale = at(r.worksheet, 0, 'worksheet');
    expect(sale).toMatchObject({ id: 's1', type: 'SALE', proceedsAudCents: '8991000', identification: { method: 'FIFO' } });
    expect(sale.matches).toEqual([
      { parcelId: 'c1', sats: '1000000', costBaseAudCents: '3003000', proceedsAudCents: '5994000', gainAudCents: '2991000', heldAtLeast12Months: true, discountEligible: true },
      { parcelId: 'c2', sats: '500000', costBaseAudCents: '2502500', proceedsAudCents: '2997000', gainAudCents: '494500', heldAtLeast12Months: false, discountEligible: false },
    ]);
    expect(r.inventoryAtYearEnd).toEqual([{ id: 'c2', sats: '500000', costBaseAudCents: '2502500' }]);
    expect(r.flags).toEqual([]);

    // The year before the sale: the parcels as held then, no disposals.
    const held = await c.request<{ parcels: { id: string; sats: string }[] }>(gql`{ parcels(asOf: "2024-06-30T00:00:00Z") { id sats } }`);
    expect(held.parcels).toEqual([
      { id: 'c1', sats: '1000000' },
      { id: 'c2', sats: '1000000' },
    ]);

    // User actions reach the tenant's audit chain.
    const audited = await until('the tax audit events', async () => {
      const a = await c.request<{ auditEvents: { edges: { node: { eventType: string } }[] } }>(gql`{ auditEvents(first: 50) { edges { node { eventType } } } }`);
      const types = a.auditEvents.edges.map((e) => e.node.eventType).filter((e) => e.startsWith('tax.'));
      return types.length >= 2 ? types : undefined;
    });
    expect(audited).toEqual(['tax.profile_set', 'tax.history_imported']);

    // Lodged: the year closes, its parcel choices can no longer change, its numbers stay the same.
    const closed = await c.request<{ closeFinancialYear: { closed: boolean; summary: { netCapitalGainAudCents: string } } }>(
      gql`mutation { closeFinancialYear(financialYear: "2024-25") { closed summary { netCapitalGainAudCents } } }`,
    );
    expect(closed.closeFinancialYear).toEqual({ closed: true, summary: { netCapitalGainAudCents: '1990000' } });
    const change = await c
      .request(gql`mutation { changeDisposalIdentification(disposalId: "s1", identification: { method: LIFO, chosenAt: "2024-07-01T00:00:00Z" }) { id } }`)
      .then(
        () => null,
        (e: unknown) => e,
      );
    if (!(change instanceof ClientError)) throw new Error('expected a GraphQL error');
    expect(at(change.response.errors ?? [], 0).extensions).toMatchObject({ code: 'CONFLICT', reason: 'YEAR_CLOSED' });
    const again = (await c.request<Report>(REPORT, { fy: '2024-25' })).capitalGainsReport;
    expect(again.summary).toEqual(r.summary);
    expect(again.worksheet).toEqual(r.worksheet);
  });

  it('refuses a bad CSV with a typed error naming the line, and shows another tenant nothing', async () => {
    const c = client(t.gateway, token);
    const bad = 'time,type,sats,aud,source\n2024-09-01T10:00:00+10:00,BUY,10,1.00,x\n2024-09-02T10:00:00,BUY,10,1.00,x\n';
    const err = await c.request(gql`mutation ($csv: String!) { importTaxHistory(csv: $csv) { batchId } }`, { csv: bad }).then(
      () => null,
      (e: unknown) => e,
    );
    if (!(err instanceof ClientError)) throw new Error('expected a GraphQL error');
    const ext = at(err.response.errors ?? [], 0).extensions as { code: string; reason: string; errors: { line: number; reason: string }[] };
    expect(ext.code).toBe('BAD_USER_INPUT');
    expect(ext.reason).toBe('CSV_INVALID');
    expect(ext.errors.map((e) => [e.line, e.reason])).toEqual([[3, 'TIME_OFFSET_REQUIRED']]);
    const still = (await c.request<{ parcels: unknown[] }>(gql`{ parcels { id } }`)).parcels;
    expect(still).toHaveLength(1);

    const theirs = (await client(t.gateway, other).request<Report>(REPORT, { fy: '2024-25' })).capitalGainsReport;
    expect(theirs.worksheet).toEqual([]);
    expect(theirs.summary.grossCapitalGainsAudCents).toBe('0');
    expect(await errorCodes(client(t.gateway).request(REPORT, { fy: '2024-25' }))).toEqual(['UNAUTHENTICATED']);
  });

  it('shows a purchase’s parcels on BitcoinPurchase once its fill fact is on the tax queue', async () => {
    const c = client(t.gateway, token);
    const { requestPurchase } = await c.request<{ requestPurchase: { id: string } }>(
      gql`mutation { requestPurchase(amountAudCents: "5000", idempotencyKey: "tax-e2e-1") { id } }`,
    );
    const fact: TaxAcquisitionFact = {
      version: 1,
      kind: 'acquisition',
      tenantId,
      id: `${requestPurchase.id}:1`,
      purchaseId: requestPurchase.id,
      exchange: 'paper',
      exchangeOrderId: null,
      at: '2025-03-03T00:00:00.000Z',
      sats: '4321',
      costAudCents: '4990',
      feeAudCents: '10',
    };
    // Delivered twice (a relay replay): one parcel.
    for (let i = 0; i < 2; i++) await t.platform.queue.add('tax', TAX_ACQUISITION_JOB, { ...fact }, { jobId: taxFactJobId(TAX_ACQUISITION_JOB, fact.id) + (i === 0 ? '' : '-again') });
    const q = gql`query ($id: ID!) { purchase(id: $id) { id parcels { id sats costBaseAudCents purchaseId } } }`;
    const got = await until('the parcel of the purchase', async () => {
      const r = await c.request<{ purchase: { parcels: { id: string; sats: string; costBaseAudCents: string; purchaseId: string }[] } }>(q, { id: requestPurchase.id });
      return r.purchase.parcels.length > 0 ? r.purchase.parcels : undefined;
    });
    expect(got).toEqual([{ id: fact.id, sats: '4321', costBaseAudCents: '5000', purchaseId: requestPurchase.id }]);
  });
});
