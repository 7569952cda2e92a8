import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gql } from 'graphql-request';
import { createClient, type Client } from 'graphql-ws';
import Stripe from 'stripe';
import WebSocket from 'ws';
import { formatAud } from '../../subgraphs/compliance/reports/render';
import { pdfText } from '../../subgraphs/compliance/reports/pdf-text';
import { financialYearLabel, financialYearOf, localDate } from '../../subgraphs/compliance/tax/tax-calendar';
import { ClientError } from 'graphql-request';
import { client, startTestPlatform, type TestPlatform } from '../helpers/platform';
import { at, present } from '../helpers/present';
import { startTestS3, type TestS3 } from '../helpers/s3';
import { until } from '../helpers/wait';

/**
 * Issue #10's "done when", through the gateway: a tenant signs up, a signed Stripe webhook funds a
 * purchase by rule that fills on the paper exchange, the tenant sells part of it, requests its
 * financial year's report, watches it over graphql-ws until READY, and downloads the CSV and the
 * PDF; the net capital gain in both files and in capitalGainsReport equals a hand computation from
 * the actual fill and sale amounts, to the cent. Once with the local store (files through the
 * gateway's /files route), once with OBJECT_STORE=s3 against a real S3-compatible server.
 */

const PASSWORD = 'Correct-Horse-42-Battery';
const STRIPE_SECRET = 'whsec_taxreport_0123456789abcdef';
const TZ = 'Australia/Sydney';

type Purchase = { id: string; status: string; source: string; satoshis: string; spentAudCents: string; feeAudCents: string; costAudCents: string; parcels: { id: string; sats: string; costBaseAudCents: string }[] };
type Sale = { id: string; status: string; satoshis: string; grossAudCents: string | null; feeAudCents: string | null; netAudCents: string | null };
type ReportEvent = { reportId: string; status: string; progress: number; report: { status: string; netCapitalGainAudCents: string | null; csv: string | null; pdf: string | null } | null };
type Summary = { grossCapitalGainsAudCents: string; currentYearCapitalLossesAudCents: string; discountAudCents: string; netCapitalGainAudCents: string; netCapitalLossCarriedForwardAudCents: string };

const PURCHASE = 'id status source satoshis spentAudCents feeAudCents costAudCents parcels { id sats costBaseAudCents }';
const SALE = 'id status satoshis grossAudCents feeAudCents netAudCents';

/** The one rounding rule (tax/README.md): the part of a cost base disposed is its exact share, rounded half up. */
const shareHalfUp = (total: bigint, part: bigint, whole: bigint): bigint => (2n * total * part + whole) / (2n * whole);

/** The whole loop for one platform; returns what the checks need. */
async function buySellReport(t: TestPlatform, email: string): Promise<{ tenantId: string; token: string; hand: { gain: bigint; sale: Sale; purchase: Purchase }; csv: string; pdf: Buffer; summary: Summary; events: ReportEvent[]; urls: { csv: string; pdf: string } }> {
  const signUp = await client(t.gateway).request<{ signUp: { accessToken: string; tenant: { id: string } } }>(
    gql`mutation ($i: SignUpInput!) { signUp(input: $i) { accessToken tenant { id } } }`,
    { i: { tenantName: 'Report Roasters Pty Ltd', email, password: PASSWORD } },
  );
  const token = signUp.signUp.accessToken;
  const c = client(t.gateway, token);
  // An individual with no GST registration: the whole fee is in the cost base, no input tax credit.
  await c.request(gql`mutation { setTaxProfile(entityType: INDIVIDUAL, gstRegistered: false, timeZone: "${TZ}") { entityType } }`);
  await c.request(gql`mutation { createTreasuryRule(input: { name: "10% of revenue", type: PERCENTAGE_OF_REVENUE, percentageBps: 1000 }) { id } }`);
  const hook = (
    await c.request<{ connectPaymentIntegration: { webhookUrl: string } }>(
      gql`mutation { connectPaymentIntegration(input: { provider: STRIPE, name: "Stripe", stripeWebhookSecret: "${STRIPE_SECRET}" }) { webhookUrl } }`,
    )
  ).connectPaymentIntegration.webhookUrl;

  // $1,000.00 of revenue, signed as Stripe signs it → a 10% purchase by the rule.
  const body = JSON.stringify({
    id: 'evt_tax_report_1',
    object: 'event',
    created: Math.floor(Date.now() / 1000),
    type: 'payment_intent.succeeded',
    data: { object: { id: 'pi_tax_report_1', object: 'payment_intent', amount: 100_000, amount_received: 100_000, currency: 'aud', status: 'succeeded' } },
  });
  const res = await fetch(hook, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload: body, secret: STRIPE_SECRET }) }, body });
  expect(res.status).toBe(200);

  const purchase = await until(
    'the rule purchase to fill and its parcel to reach the tax ledger',
    async () => {
      const p = (await c.request<{ purchases: Purchase[] }>(gql`{ purchases { ${PURCHASE} } }`)).purchases;
      const filled = p.find((x) => x.status === 'FILLED');
      return filled && filled.parcels.length === 1 ? filled : undefined;
    },
    60_000,
  );
  expect(purchase.source).toBe('RULE');
  const sats = BigInt(purchase.satoshis);
  const costBase = BigInt(purchase.spentAudCents) + BigInt(purchase.feeAudCents);
  expect(BigInt(purchase.costAudCents)).toBe(costBase);
  expect(at(purchase.parcels, 0)).toEqual({ id: purchase.id, sats: purchase.satoshis, costBaseAudCents: costBase.toString() });

  // Sell a third through the gateway.
  const sell = sats / 3n;
  const requested = (await c.request<{ requestSale: Sale }>(gql`mutation ($s: Satoshis!) { requestSale(satoshis: $s, idempotencyKey: "tax-report-sale-1") { ${SALE} } }`, { s: sell.toString() })).requestSale;
  const sale = await until('the sale to fill', async () => {
    const s = (await c.request<{ sale: Sale }>(gql`query ($id: ID!) { sale(id: $id) { ${SALE} } }`, { id: requested.id })).sale;
    return s.status === 'FILLED' ? s : undefined;
  });
  expect(sale.satoshis).toBe(sell.toString());
  const fy = financialYearOf(localDate(new Date(), TZ));
  const label = financialYearLabel(fy);
  await until('the sale to reach the tax ledger', async () => {
    const d = (await c.request<{ taxDisposals: { id: string }[] }>(gql`query ($fy: String!) { taxDisposals(financialYear: $fy) { id } }`, { fy: label })).taxDisposals;
    return d.some((x) => x.id === sale.id) ? true : undefined;
  });

  // By hand: proceeds net of the selling fee, less the sold sats' share of the cost base (fees in).
  const proceeds = BigInt(present(sale.grossAudCents, 'gross')) - BigInt(present(sale.feeAudCents, 'fee'));
  expect(sale.netAudCents).toBe(proceeds.toString());
  const gain = proceeds - shareHalfUp(costBase, sell, sats);

  // Watch the report over graphql-ws: QUEUED → RUNNING → READY, the last with its download URLs.
  const ws: Client = createClient({ url: t.gateway.replace(/^http/, 'ws'), webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${token}` }, retryAttempts: 0 });
  const events: ReportEvent[] = [];
  const errors: unknown[] = [];
  try {
    ws.subscribe<{ taxReportUpdated: ReportEvent }>(
      {
        query: `subscription { taxReportUpdated { reportId status progress report { status netCapitalGainAudCents csv: downloadUrl(format: CSV) pdf: downloadUrl(format: PDF) } } }`,
      },
      { next: (v) => void (v.data && events.push(v.data.taxReportUpdated)), error: (e) => void errors.push(e), complete: () => undefined },
    );
    await new Promise((r) => setTimeout(r, 1_000));
    const report = (await c.request<{ requestTaxReport: { id: string; status: string } }>(gql`mutation ($fy: String!) { requestTaxReport(financialYear: $fy) { id status } }`, { fy: label })).requestTaxReport;
    expect(report.status).toBe('QUEUED');
    const ready = await until(
      'the READY event',
      () => {
        if (errors.length) throw new Error(`subscription failed: ${JSON.stringify(errors)}`);
        return Promise.resolve(events.find((e) => e.reportId === report.id && e.status === 'READY'));
      },
      60_000,
    );
    const urls = { csv: present(ready.report?.csv, 'csv url'), pdf: present(ready.report?.pdf, 'pdf url') };
    const csv = await (await fetch(urls.csv)).text();
    const pdfRes = await fetch(urls.pdf);
    expect(pdfRes.status).toBe(200);
    expect(pdfRes.headers.get('content-type')).toBe('application/pdf');
    const pdf = Buffer.from(await pdfRes.arrayBuffer());
    const summary = (
      await c.request<{ capitalGainsReport: { summary: Summary } }>(
        gql`query ($fy: String!) { capitalGainsReport(financialYear: $fy) { summary { grossCapitalGainsAudCents currentYearCapitalLossesAudCents discountAudCents netCapitalGainAudCents netCapitalLossCarriedForwardAudCents } } }`,
        { fy: label },
      )
    ).capitalGainsReport.summary;
    expect(ready.report?.netCapitalGainAudCents).toBe(summary.netCapitalGainAudCents);
    expect(events.filter((e) => e.reportId === report.id).map((e) => e.status)).toEqual(['QUEUED', 'RUNNING', 'RUNNING', 'READY']);
    expect(events.filter((e) => e.reportId === report.id).map((e) => e.progress)).toEqual([0, 10, 60, 100]);
    return { tenantId: signUp.signUp.tenant.id, token, hand: { gain, sale, purchase }, csv, pdf, summary, events, urls };
  } finally {
    await ws.dispose();
  }
}

/** The extensions of the one error a request fails with. */
async function refusal(p: Promise<unknown>): Promise<Record<string, unknown>> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(err instanceof ClientError)) throw new Error(`expected a GraphQL error, got ${String(err)}`);
  return at(err.response.errors ?? [], 0).extensions ?? {};
}

/** The figures of the files and the API against the hand computation (held < 12 months: no discount). */
function checkFigures(r: Awaited<ReturnType<typeof buySellReport>>): void {
  const { gain, sale, purchase } = r.hand;
  const netGain = gain > 0n ? gain : 0n;
  const netLoss = gain < 0n ? -gain : 0n;
  expect(r.summary).toEqual({
    grossCapitalGainsAudCents: netGain.toString(),
    currentYearCapitalLossesAudCents: netLoss.toString(),
    discountAudCents: '0',
    netCapitalGainAudCents: netGain.toString(),
    netCapitalLossCarriedForwardAudCents: netLoss.toString(),
  });

  // CSV: one worksheet row (the sale × the purchase's parcel), then the parcel still held.
  const [worksheet = '', parcels = ''] = r.csv.split('\r\n\r\n');
  const rows = worksheet.split('\r\n').slice(1).map((l) => l.split(','));
  expect(rows).toHaveLength(1);
  const row = at(rows, 0);
  expect([row[0], row[1], row[4], row[6], row[9], row[11]]).toEqual([sale.id, 'SALE', purchase.id, sale.satoshis, formatAud(gain), 'no']);
  const held = BigInt(purchase.satoshis) - BigInt(sale.satoshis);
  const left = parcels.split('\r\n').filter((l) => l !== '').slice(1).map((l) => l.split(','));
  expect(left.map((p) => [p[0], p[5]])).toEqual([[purchase.id, held.toString()]]);

  // PDF: the summary lines read back from the file.
  const text = pdfText(r.pdf);
  const after = (l: string) => text[text.indexOf(l) + 1];
  expect(after('Net capital gain (A)')).toBe(formatAud(netGain));
  expect(after('Net capital losses carried forward (V)')).toBe(formatAud(netLoss));
  expect(after('Total current year capital gains (H)')).toBe(formatAud(netGain));
}

describe('the capital gains report end to end (webhook → purchase → sale → report files)', () => {
  describe('local object store, files through the gateway', () => {
    let t: TestPlatform;
    let dir: string;
    let done: Awaited<ReturnType<typeof buySellReport>> | undefined;
    beforeAll(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'abt-objects-'));
      // GATEWAY_PORT=0 and no FILES_BASE_URL: download URLs follow the gateway's actual address.
      t = await startTestPlatform({ redis: true, env: { PRICE_TICK_MS: '100', OBJECT_STORE: 'local', OBJECT_STORE_DIR: dir } });
    }, 90_000);
    afterAll(async () => {
      await t?.stop();
      await rm(dir, { recursive: true, force: true });
    });

    it('matches a hand computation to the cent in the CSV, the PDF and capitalGainsReport', async () => {
      const r = await buySellReport(t, 'owner@report-local.example');
      const gateway = new URL(t.gateway).origin;
      expect(r.urls.csv.startsWith(`${gateway}/files/`)).toBe(true);
      expect(r.urls.pdf.startsWith(`${gateway}/files/`)).toBe(true);
      checkFigures(r);
      // The signature covers the key and expiry: a tampered URL is refused.
      const tampered = r.urls.csv.replace(/sig=([0-9a-f])/, (_m, ch: string) => `sig=${ch === '0' ? '1' : '0'}`);
      expect((await fetch(tampered)).status).toBe(403);
      done = r;
    }, 180_000);

    it('refuses bad input with a typed error and writes nothing (negative or fractional sats, unknown parcel, another tenant’s parcel, a closed year)', async () => {
      const r = present(done, 'the loop above');
      const c = client(t.gateway, r.token);
      const label = financialYearLabel(financialYearOf(localDate(new Date(), TZ)));
      const state = async (x = c) =>
        x.request<{ sales: { id: string }[]; taxDisposals: { id: string }[]; parcels: { id: string; sats: string }[] }>(
          gql`query ($fy: String!) { sales { id } taxDisposals(financialYear: $fy) { id } parcels { id sats } }`,
          { fy: label },
        );
      const before = await state();
      const SALE_REQ = gql`mutation ($s: Satoshis!, $k: String!) { requestSale(satoshis: $s, idempotencyKey: $k) { id } }`;
      expect(await refusal(c.request(SALE_REQ, { s: '-5', k: 'bad-negative' }))).toMatchObject({ code: 'BAD_USER_INPUT' });
      expect(await refusal(c.request(SALE_REQ, { s: '1.5', k: 'bad-fraction' }))).toMatchObject({ code: 'BAD_USER_INPUT' });
      const SPEND = gql`mutation ($s: Satoshis!, $at: DateTimeISO!, $id: TaxIdentificationInput) {
        recordDisposal(type: SPEND, sats: $s, marketValueAudCents: "100", at: $at, identification: $id) { id } }`;
      const now = new Date().toISOString();
      const named = (parcelId: string) => ({ method: 'SPECIFIC', parcels: [{ parcelId, sats: '1000' }] });
      expect(await refusal(c.request(SPEND, { s: '-1000', at: now }))).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'NEGATIVE_SATS' });
      expect(await refusal(c.request(SPEND, { s: '1000', at: now, id: named('no-such-parcel') }))).toMatchObject({ code: 'NOT_FOUND', reason: 'UNKNOWN_PARCEL' });
      // Another tenant naming this tenant's parcel: not found (never "someone else's").
      const other = await client(t.gateway).request<{ signUp: { accessToken: string } }>(
        gql`mutation ($i: SignUpInput!) { signUp(input: $i) { accessToken } }`,
        { i: { tenantName: 'Other Pty Ltd', email: 'owner@report-other.example', password: PASSWORD } },
      );
      const o = client(t.gateway, other.signUp.accessToken);
      expect(await refusal(o.request(SPEND, { s: '1000', at: now, id: named(r.hand.purchase.id) }))).toMatchObject({ code: 'NOT_FOUND', reason: 'UNKNOWN_PARCEL' });
      // A lodged year takes nothing new.
      const prior = financialYearLabel(financialYearOf(localDate(new Date(), TZ)) - 1);
      await c.request(gql`mutation ($fy: String!) { closeFinancialYear(financialYear: $fy) { closed } }`, { fy: prior });
      const inPrior = `${prior.slice(0, 4)}-12-01T00:00:00Z`;
      expect(await refusal(c.request(SPEND, { s: '1000', at: inPrior }))).toMatchObject({ code: 'CONFLICT', reason: 'YEAR_CLOSED' });
      expect(await refusal(c.request(gql`mutation { requestTaxReport(financialYear: "2025") { id } }`))).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_FINANCIAL_YEAR' });
      expect(await state()).toEqual(before);
      expect((await state(o)).taxDisposals).toEqual([]);
    }, 60_000);
  });

  describe('OBJECT_STORE=s3 against a real S3-compatible server', () => {
    let t: TestPlatform;
    let s3: TestS3;
    beforeAll(async () => {
      s3 = await startTestS3('abt-reports-e2e');
      t = await startTestPlatform({
        redis: true,
        env: {
          PRICE_TICK_MS: '100',
          OBJECT_STORE: 's3',
          S3_ENDPOINT: s3.endpoint,
          S3_BUCKET: s3.bucket,
          S3_REGION: 'us-east-1',
          S3_ACCESS_KEY_ID: s3.credentials.accessKeyId,
          S3_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
        },
      });
    }, 90_000);
    afterAll(async () => {
      await t?.stop();
      await s3?.stop();
    });

    it('stores the files under the tenant’s prefix and serves them by presigned URL', async () => {
      const r = await buySellReport(t, 'owner@report-s3.example');
      expect(r.urls.csv.startsWith(`${s3.endpoint}/${s3.bucket}/${r.tenantId}/reports/tax/`)).toBe(true);
      expect(r.urls.pdf.startsWith(`${s3.endpoint}/${s3.bucket}/${r.tenantId}/reports/tax/`)).toBe(true);
      expect(r.urls.csv).toContain('X-Amz-Signature=');
      checkFigures(r);
    }, 180_000);
  });
});
