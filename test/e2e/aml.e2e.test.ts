import { ClientError, gql } from 'graphql-request';
import { smrDeadline, businessCalendar } from '../../subgraphs/compliance/aml/business-days';
import { FAKE_ABNS, startFakeAbr, type FakeAbr } from '../fakes/abr.server';
import { client, errorCodes, startTestPlatform, type TestPlatform } from '../helpers/platform';
import { present } from '../helpers/present';
import { until } from '../helpers/wait';

/**
 * AML/CTF done-when (#11), through the gateway: a new tenant records its legal entity (looked up
 * on a local ABN Lookup server), is refused on a real exchange until the platform's compliance
 * officer verifies it; a structured series of purchases (three just under A$10,000 within 72 h)
 * raises a STRUCTURING alert in a case the officer takes, escalates (the SMR deadline shown) and
 * exports as an SMR draft. Tenant users get FORBIDDEN on the officer's API and nothing about the
 * alert reaches the tenant's own audit chain; the officer's every read lands in the platform chain.
 */

const PASSWORD = 'Correct-Horse-42-Battery';

type Failure = { code: string; reason: unknown };
async function failure(p: Promise<unknown>): Promise<Failure> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ClientError) {
      const e = present(err.response.errors?.[0], 'first error');
      return { code: String(e.extensions?.code), reason: e.extensions?.reason };
    }
    throw err;
  }
  throw new Error('expected the request to fail');
}

const subOf = (token: string): string => (JSON.parse(Buffer.from(present(token.split('.')[1], 'jwt payload'), 'base64url').toString()) as { sub: string }).sub;

const RECORD = gql`
  mutation ($i: LegalEntityInput!) {
    recordLegalEntity(input: $i) { tenantId status abn legalName entityType source beneficialOwners { fullName ownershipBps isBeneficialOwner } history { to decidedByRole } }
  }
`;
const CASES = gql`
  query {
    complianceCases {
      id tenantId tenantLegalName status severity assignedTo
      alerts { rule severity summary facts operationId }
      notes { body }
      smrDeadline { basis dueAt lastDay state status suspicionFormedAt skippedDays }
    }
  }
`;
const BUY = gql`mutation ($a: AudCents!, $k: String!) { requestPurchase(amountAudCents: $a, idempotencyKey: $k) { id } }`;

const company = (owners: { fullName: string; ownershipBps: number; dateOfBirth: string }[]) => ({
  abn: FAKE_ABNS.company,
  directors: [{ fullName: 'Ada Director', dateOfBirth: '1980-02-03' }],
  beneficialOwners: owners,
});

describe('AML/CTF through the gateway (#11)', () => {
  let t: TestPlatform;
  let abr: FakeAbr;
  let tenantToken: string;
  let tenantId: string;
  let officerToken: string;
  let officerTenantId: string;
  let caseId: string;

  beforeAll(async () => {
    abr = await startFakeAbr();
    t = await startTestPlatform({ env: { ABR_GUID: abr.guid, ABR_BASE_URL: abr.url } });
    const signUp = async (tenantName: string, email: string) =>
      (
        await client(t.gateway).request<{ signUp: { accessToken: string; tenant: { id: string } } }>(
          gql`mutation ($i: SignUpInput!) { signUp(input: $i) { accessToken tenant { id } } }`,
          { i: { tenantName, email, password: PASSWORD } },
        )
      ).signUp;
    const tenant = await signUp('Structured Coffee', 'owner@structured.example');
    tenantToken = tenant.accessToken;
    tenantId = tenant.tenant.id;
    const operator = await signUp('Liquid ABT Operator', 'officer@operator.example');
    officerToken = operator.accessToken;
    officerTenantId = operator.tenant.id;
    // The operator grants the platform role (an owner act, outside the API).
    await t.db.owner.em.getConnection().execute(`insert into public.platform_role (user_id, role, granted_by) values (?, 'COMPLIANCE_OFFICER', 'e2e')`, [subOf(officerToken)]);
  });
  afterAll(async () => {
    await t?.stop();
    await abr?.close();
  });

  it('refuses bad legal entities with a typed error and writes nothing', async () => {
    const c = client(t.gateway, tenantToken);
    const owners = [{ fullName: 'Bea Owner', ownershipBps: 6000, dateOfBirth: '1975-05-06' }];
    expect(await failure(c.request(RECORD, { i: { ...company(owners), abn: '11 123 456 781' } }))).toEqual({ code: 'BAD_USER_INPUT', reason: 'INVALID_ABN' });
    expect(await failure(c.request(RECORD, { i: { ...company(owners), abn: FAKE_ABNS.unknown } }))).toEqual({ code: 'BAD_USER_INPUT', reason: 'UNKNOWN_ABN' });
    expect(await failure(c.request(RECORD, { i: { ...company(owners), abn: FAKE_ABNS.cancelled } }))).toEqual({ code: 'BAD_USER_INPUT', reason: 'CANCELLED_ABN' });
    const over = [...owners, { fullName: 'Cy Owner', ownershipBps: 5000, dateOfBirth: '1977-01-01' }];
    expect(await failure(c.request(RECORD, { i: company(over) }))).toEqual({ code: 'BAD_USER_INPUT', reason: 'OWNERSHIP_EXCEEDS_100' });
    expect(await c.request(gql`query { kybStatus { status } }`)).toEqual({ kybStatus: null });
    // The checksum is checked before the register is asked: only the three checksum-valid ABNs reached it.
    expect(abr.requests().map((r) => r.abn)).toEqual([FAKE_ABNS.unknown, FAKE_ABNS.cancelled, FAKE_ABNS.company]);
  });

  it('records the entity from the register, PENDING; the entity type feeds the tax profile', async () => {
    const c = client(t.gateway, tenantToken);
    const owners = [
      { fullName: 'Bea Owner', ownershipBps: 6000, dateOfBirth: '1975-05-06' },
      { fullName: 'Cy Owner', ownershipBps: 2000, dateOfBirth: '1977-01-01' },
    ];
    const { recordLegalEntity } = await c.request<{ recordLegalEntity: Record<string, unknown> }>(RECORD, { i: { ...company(owners), legalName: 'whatever I type' } });
    expect(recordLegalEntity).toEqual({
      tenantId,
      status: 'PENDING',
      abn: FAKE_ABNS.company,
      legalName: 'DEMO COFFEE ROASTERS PTY LTD',
      entityType: 'COMPANY',
      source: 'ABN_LOOKUP',
      beneficialOwners: [
        { fullName: 'Bea Owner', ownershipBps: 6000, isBeneficialOwner: true },
        { fullName: 'Cy Owner', ownershipBps: 2000, isBeneficialOwner: false },
      ],
      history: [{ to: 'PENDING', decidedByRole: 'TENANT' }],
    });
    expect(await c.request(gql`query { taxProfile { entityType gstRegistered configured } }`)).toEqual({ taxProfile: { entityType: 'COMPANY', gstRegistered: true, configured: true } });
  });

  it('keeps the officer API from tenant users', async () => {
    const c = client(t.gateway, tenantToken);
    expect(await errorCodes(c.request(CASES))).toEqual(['FORBIDDEN']);
    expect(await errorCodes(c.request(gql`mutation ($t: ID!) { decideKyb(tenantId: $t, status: VERIFIED, reason: "self", evidence: [{ kind: OTHER, reference: "x" }]) { status } }`, { t: tenantId }))).toEqual(['FORBIDDEN']);
    expect(await errorCodes(client(t.gateway).request(CASES))).toEqual(['UNAUTHENTICATED']);
  });

  it('refuses a real exchange until the officer verifies the business; paper stays open', async () => {
    const c = client(t.gateway, tenantToken);
    await c.request(gql`mutation { updateTreasurySettings(patch: { primaryExchange: "kraken", failoverExchanges: [] }) { primaryExchange } }`);
    expect(await failure(c.request(BUY, { a: '5000', k: 'aml-real-1' }))).toEqual({ code: 'FORBIDDEN', reason: 'KYB_NOT_VERIFIED' });

    const officer = client(t.gateway, officerToken);
    const { kybReviews } = await officer.request<{ kybReviews: { record: { tenantId: string }; riskRating: string }[] }>(gql`query { kybReviews(status: PENDING) { record { tenantId } riskRating } }`);
    expect(kybReviews.map((k) => k.record.tenantId)).toContain(tenantId);
    expect(
      await failure(officer.request(gql`mutation ($t: ID!) { decideKyb(tenantId: $t, status: VERIFIED, reason: "register and ASIC extract match") { status } }`, { t: tenantId })),
    ).toEqual({ code: 'BAD_USER_INPUT', reason: 'EVIDENCE_REQUIRED' });
    const { decideKyb } = await officer.request<{ decideKyb: { status: string; history: { to: string; decidedByRole: string }[] } }>(
      gql`mutation ($t: ID!) { decideKyb(tenantId: $t, status: VERIFIED, reason: "register and ASIC extract match", evidence: [{ kind: ASIC_EXTRACT, reference: "ASIC-123" }]) { status history { to decidedByRole } } }`,
      { t: tenantId },
    );
    expect(decideKyb.history.at(-1)).toEqual({ to: 'VERIFIED', decidedByRole: 'COMPLIANCE_OFFICER' });
    // Treasury learns it from the kyb.status fact (its own copy), then takes the real-exchange order.
    const accepted = await until('the gate opened by the kyb.status fact', async () => {
      try {
        return (await c.request<{ requestPurchase: { id: string } }>(BUY, { a: '5000', k: 'aml-real-2' })).requestPurchase.id;
      } catch {
        return undefined;
      }
    });
    expect(accepted).toMatch(/^[0-9a-f-]{36}$/);
    await c.request(gql`mutation { updateTreasurySettings(patch: { primaryExchange: "paper", failoverExchanges: [] }) { primaryExchange } }`);
  });

  it('raises a STRUCTURING alert for three purchases just under A$10,000; the officer escalates and exports the SMR draft', async () => {
    const c = client(t.gateway, tenantToken);
    for (const [i, a] of ['950000', '960000', '970000'].entries()) await c.request(BUY, { a, k: `aml-structured-${i}` });

    const officer = client(t.gateway, officerToken);
    type Case = { id: string; tenantId: string; status: string; tenantLegalName: string; alerts: { rule: string; facts: string }[]; smrDeadline: Record<string, unknown> | null };
    const found = await until('the structuring case', async () => {
      const { complianceCases } = await officer.request<{ complianceCases: Case[] }>(CASES);
      return complianceCases.find((k) => k.tenantId === tenantId && k.alerts.some((a) => a.rule === 'STRUCTURING'));
    });
    caseId = found.id;
    expect(found.status).toBe('OPEN');
    expect(found.tenantLegalName).toBe('DEMO COFFEE ROASTERS PTY LTD');
    const alert = present(found.alerts.find((a) => a.rule === 'STRUCTURING'), 'structuring alert');
    expect(JSON.parse(alert.facts)).toMatchObject({ count: 3, totalAudCents: '2880000', thresholdAudCents: '1000000', bandFromAudCents: '900000', windowHours: 72 });

    const assigned = await officer.request<{ assignCase: { status: string; assignedTo: string } }>(gql`mutation ($id: ID!) { assignCase(caseId: $id) { status assignedTo } }`, { id: caseId });
    expect(assigned.assignCase).toEqual({ status: 'INVESTIGATING', assignedTo: subOf(officerToken) });
    await officer.request(gql`mutation ($id: ID!) { noteCase(caseId: $id, note: "three purchases just under the threshold in one day") { id } }`, { id: caseId });
    expect(await failure(officer.request(gql`mutation ($id: ID!) { smrDraft: escalateCase(caseId: $id, grounds: []) { id } }`, { id: caseId }))).toEqual({ code: 'CONFLICT', reason: 'INVALID_CASE' });

    const { escalateCase } = await officer.request<{ escalateCase: { status: string; notes: { body: string }[]; smrDeadline: { basis: string; dueAt: string; suspicionFormedAt: string; state: string; status: string; lastDay: string } } }>(
      gql`mutation ($id: ID!) { escalateCase(caseId: $id, grounds: [MONEY_LAUNDERING]) { status notes { body } smrDeadline { basis dueAt suspicionFormedAt state status lastDay } } }`,
      { id: caseId },
    );
    expect(escalateCase.status).toBe('ESCALATED');
    expect(escalateCase.notes).toEqual([{ body: 'three purchases just under the threshold in one day' }]);
    const d = escalateCase.smrDeadline;
    const expected = smrDeadline({ suspicionFormedAt: new Date(d.suspicionFormedAt), terrorismFinancing: false, calendar: businessCalendar({ state: 'NSW' }) });
    expect(d).toEqual({ basis: 'THREE_BUSINESS_DAYS', dueAt: expected.dueAt.toISOString(), suspicionFormedAt: d.suspicionFormedAt, state: 'NSW', status: 'ON_TRACK', lastDay: expected.lastDay });

    const { smrDraft } = await officer.request<{ smrDraft: { dueAt: string; fieldsToComplete: string[]; content: string } }>(
      gql`query ($id: ID!) { smrDraft(caseId: $id, format: JSON) { dueAt fieldsToComplete content } }`,
      { id: caseId },
    );
    expect(smrDraft.dueAt).toBe(expected.dueAt.toISOString());
    const draft = JSON.parse(smrDraft.content) as {
      sections: { organisation: { fields: Record<string, { value: unknown }> }; suspicion: { fields: Record<string, { value: unknown }> }; transactions: { fields: Record<string, { value: unknown }> }[] };
      platformFacts: { rule: string }[];
    };
    expect(draft.sections.organisation.fields.legalName?.value).toBe('DEMO COFFEE ROASTERS PTY LTD');
    expect(draft.sections.suspicion.fields.grounds?.value).toEqual(['MONEY_LAUNDERING']);
    expect(draft.sections.suspicion.fields.reportDueBefore?.value).toBe(expected.dueAt.toISOString());
    expect(draft.sections.transactions.map((x) => x.fields.amountAud?.value)).toEqual(expect.arrayContaining(['9500.00', '9600.00', '9700.00']));
    expect(draft.platformFacts.map((f) => f.rule)).toContain('STRUCTURING');
    expect(smrDraft.fieldsToComplete).toContain('suspicion.groundsNarrative');
    const csv = await officer.request<{ smrDraft: { content: string } }>(gql`query ($id: ID!) { smrDraft(caseId: $id, format: CSV) { content } }`, { id: caseId });
    expect(csv.smrDraft.content.split('\r\n')[0]).toBe('section,field,value,status,note');

    // A tenant user cannot reach the case by id either.
    expect(await errorCodes(c.request(gql`query ($id: ID!) { complianceCase(id: $id) { id } }`, { id: caseId }))).toEqual(['FORBIDDEN']);
  });

  it('audits the officer in the platform chain and tells the tenant nothing', async () => {
    const sql = t.db.owner.em.getConnection();
    const platform = await until('the officer’s audit facts', async () => {
      const rows = await sql.execute<{ event_type: string }[]>(`select event_type from pool.audit_event where tenant_id = ? order by seq`, [officerTenantId]);
      const types = rows.map((r) => r.event_type);
      return types.includes('aml.smr.exported') ? types : undefined;
    });
    expect(platform).toEqual(expect.arrayContaining(['aml.officer.read', 'kyb.decided', 'aml.case.assign', 'aml.case.note', 'aml.case.escalate', 'aml.smr.exported']));
    const own = await sql.execute<{ event_type: string }[]>(`select event_type from pool.audit_event where tenant_id = ?`, [tenantId]);
    expect(own.map((r) => r.event_type).filter((e) => e.startsWith('aml.'))).toEqual([]);
  });
});
