import { FAKE_ABNS, startFakeAbr, type FakeAbr } from '../../../test/fakes/abr.server';
import { AbrClient, mapAbnDetails, parseJsonp } from './abr.client';
import { amlReasonOf } from './errors';

const reasonOf = async (p: Promise<unknown>): Promise<string | undefined> => {
  try {
    await p;
  } catch (err) {
    return amlReasonOf(err) ?? `untyped: ${String(err)}`;
  }
  return 'no error';
};

describe('ABN Lookup adapter against the local register', () => {
  let abr: FakeAbr;
  let client: AbrClient;

  beforeAll(async () => {
    abr = await startFakeAbr();
    client = new AbrClient({ baseUrl: abr.url, guid: abr.guid, timeoutMs: 2_000 });
  });
  afterAll(() => abr.close());
  afterEach(() => abr.setMode('normal'));

  it('an active company: legal name, ACN, GST date, business names, COMPANY tax entity', async () => {
    await expect(client.lookupAbn('11 123 456 780')).resolves.toEqual({
      abn: '11123456780',
      legalName: 'DEMO COFFEE ROASTERS PTY LTD',
      entityTypeCode: 'PRV',
      entityTypeName: 'Australian Private Company',
      entityType: 'COMPANY',
      status: 'ACTIVE',
      statusEffectiveFrom: '2019-07-01',
      acn: '123456780',
      gstRegisteredFrom: '2019-07-01',
      businessNames: ['Demo Coffee Roasters', 'Harbour Bean Co'],
      addressState: 'NSW',
      addressPostcode: '2000',
      addressDate: '2023-02-14',
    });
    const last = abr.requests().at(-1);
    expect(last).toMatchObject({ path: '/json/AbnDetails.aspx', abn: '11123456780', callback: 'abnCallback', guidPresent: true });
  });

  it('a sole trader, a trust and an SMSF map to INDIVIDUAL, TRUST and SMSF', async () => {
    const [ind, trust, smsf] = await Promise.all([
      client.lookupAbn(FAKE_ABNS.soleTrader),
      client.lookupAbn(FAKE_ABNS.trust),
      client.lookupAbn(FAKE_ABNS.smsf),
    ]);
    expect(ind).toMatchObject({ entityTypeCode: 'IND', entityType: 'INDIVIDUAL', legalName: 'CITIZEN, JANE MARY', acn: null, gstRegisteredFrom: null });
    expect(trust).toMatchObject({ entityTypeCode: 'DTT', entityType: 'TRUST', legalName: 'THE TRUSTEE FOR THE EXAMPLE FAMILY TRUST' });
    expect(smsf).toMatchObject({ entityTypeCode: 'SMF', entityType: 'SMSF', businessNames: [] });
  });

  it('a cancelled ABN is CANCELLED_ABN, or its record when the caller asks for it', async () => {
    expect(await reasonOf(client.lookupAbn(FAKE_ABNS.cancelled))).toBe('CANCELLED_ABN');
    await expect(client.lookupAbn(FAKE_ABNS.cancelled, { allowCancelled: true })).resolves.toMatchObject({
      status: 'CANCELLED',
      statusEffectiveFrom: '2021-06-30',
      legalName: 'BLOGGS, FRED',
    });
  });

  it('an ABN the register does not know is UNKNOWN_ABN (its "No record found" message)', async () => {
    expect(await reasonOf(client.lookupAbn(FAKE_ABNS.unknown))).toBe('UNKNOWN_ABN');
  });

  it('a checksum-invalid ABN is INVALID_ABN without a request', async () => {
    const before = abr.requests().length;
    expect(await reasonOf(client.lookupAbn('51 824 753 557'))).toBe('INVALID_ABN');
    expect(abr.requests()).toHaveLength(before);
  });

  it('a GUID the register does not recognise is INVALID_GUID, and the GUID is not in the error', async () => {
    const wrong = new AbrClient({ baseUrl: abr.url, guid: 'ffffffff-0000-4000-8000-000000000000' });
    try {
      await wrong.lookupAbn(FAKE_ABNS.company);
      throw new Error('not refused');
    } catch (err) {
      expect(amlReasonOf(err)).toBe('INVALID_GUID');
      expect(JSON.stringify({ m: (err as Error).message, e: (err as { extensions: unknown }).extensions })).not.toContain('ffffffff');
    }
    expect(await reasonOf(new AbrClient({ baseUrl: abr.url, guid: ' ' }).lookupAbn(FAKE_ABNS.company))).toBe('INVALID_GUID');
  });

  it('outage, malformed answer, back-end failure and timeout are REGISTER_UNAVAILABLE', async () => {
    abr.setMode('outage');
    expect(await reasonOf(client.lookupAbn(FAKE_ABNS.company))).toBe('REGISTER_UNAVAILABLE');
    abr.setMode('malformed');
    expect(await reasonOf(client.lookupAbn(FAKE_ABNS.company))).toBe('REGISTER_UNAVAILABLE');
    abr.setMode('system-error');
    expect(await reasonOf(client.lookupAbn(FAKE_ABNS.company))).toBe('REGISTER_UNAVAILABLE');
    abr.setMode('hang');
    const impatient = new AbrClient({ baseUrl: abr.url, guid: abr.guid, timeoutMs: 200 });
    try {
      await impatient.lookupAbn(FAKE_ABNS.company);
      throw new Error('not refused');
    } catch (err) {
      expect(amlReasonOf(err)).toBe('REGISTER_UNAVAILABLE');
      expect((err as Error).message).not.toContain(abr.guid);
    }
  });

  it('an unreachable register is REGISTER_UNAVAILABLE and recovers when it is back', async () => {
    const gone = await startFakeAbr();
    const c = new AbrClient({ baseUrl: gone.url, guid: gone.guid, timeoutMs: 2_000 });
    await gone.close();
    expect(await reasonOf(c.lookupAbn(FAKE_ABNS.company))).toBe('REGISTER_UNAVAILABLE');
    await expect(client.lookupAbn(FAKE_ABNS.company)).resolves.toMatchObject({ status: 'ACTIVE' });
  });
});

describe('AbnDetails payload mapping', () => {
  it('reads the register’s JSONP envelope and nothing else', () => {
    expect(parseJsonp('abnCallback({"Abn":"1"});', 'abnCallback')).toEqual({ Abn: '1' });
    expect(() => parseJsonp('{"Abn":"1"}', 'abnCallback')).toThrow();
    expect(() => parseJsonp('other({"Abn":"1"})', 'abnCallback')).toThrow();
  });

  it('an answer for another ABN or with an unknown status is refused, not trusted', () => {
    const base = { Abn: '11123456780', AbnStatus: 'Active', EntityName: 'X', EntityTypeCode: 'PRV', Message: '' };
    expect(() => mapAbnDetails({ ...base, Abn: '53004085616' }, '11123456780')).toThrow(/different ABN/);
    expect(() => mapAbnDetails({ ...base, AbnStatus: 'Dormant' }, '11123456780')).toThrow(/AbnStatus/);
    expect(() => mapAbnDetails({ ...base, Gst: '01/07/2019' }, '11123456780')).toThrow(/Gst/);
  });

  it('an entity type outside the table maps to OTHER (a government entity)', () => {
    const e = mapAbnDetails({ Abn: '74172177893', AbnStatus: 'Active', EntityName: 'AGENCY', EntityTypeCode: 'CGE', EntityTypeName: 'Commonwealth Government Entity', Message: '' }, '74172177893');
    expect(e.entityType).toBe('OTHER');
  });
});
