import type { AbrEntity } from './abr.client';
import { at } from '../../../test/helpers/present';
import { amlReasonOf } from './errors';
import {
  assertTradingAllowed,
  buildLegalEntity,
  decideVerification,
  materialChanges,
  reviewOnChange,
  submitForVerification,
  type LegalEntityInput,
  type VerificationState,
} from './kyb';
import { rateRisk } from './risk-rating';

const reasonOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    return amlReasonOf(err) ?? `untyped: ${String(err)}`;
  }
  return 'no error';
};

const register: AbrEntity = {
  abn: '11123456780',
  legalName: 'DEMO COFFEE ROASTERS PTY LTD',
  entityTypeCode: 'PRV',
  entityTypeName: 'Australian Private Company',
  entityType: 'COMPANY',
  status: 'ACTIVE',
  statusEffectiveFrom: '2019-07-01',
  acn: '123456780',
  gstRegisteredFrom: '2019-07-01',
  businessNames: [],
  addressState: 'NSW',
  addressPostcode: '2000',
  addressDate: null,
};

const company = (patch: Partial<LegalEntityInput> = {}): LegalEntityInput => ({
  abn: '11 123 456 780',
  legalName: 'Demo Coffee (typed by the tenant)',
  entityTypeCode: 'PRV',
  directors: [{ id: 'd1', fullName: 'Alex Director', dateOfBirth: '1980-02-29' }],
  beneficialOwners: [
    { id: 'o1', fullName: 'Alex Director', dateOfBirth: '1980-02-29', ownershipBps: 6_000 },
    { id: 'o2', fullName: 'Sam Partner', residentialAddress: '1 George St, Sydney NSW 2000', ownershipBps: 3_000 },
    { id: 'o3', fullName: 'Small Holder', ownershipBps: 1_000 },
  ],
  industry: 'HOSPITALITY',
  ...patch,
});

describe('legal entity record', () => {
  it('takes legal name, entity type and ACN from the register; owners ≥ 25% are beneficial owners', () => {
    const e = buildLegalEntity(company(), register);
    expect(e).toMatchObject({ abn: '11123456780', acn: '123456780', legalName: 'DEMO COFFEE ROASTERS PTY LTD', entityType: 'COMPANY', source: 'ABN_LOOKUP' });
    expect(e.beneficialOwners.map((o) => [o.id, o.isBeneficialOwner])).toEqual([
      ['o1', true],
      ['o2', true],
      ['o3', false],
    ]);
  });

  it('exactly 25% is a beneficial owner, 24.99% is not', () => {
    const e = buildLegalEntity(
      company({
        beneficialOwners: [
          { id: 'a', fullName: 'Quarter', dateOfBirth: '1970-01-01', ownershipBps: 2_500 },
          { id: 'b', fullName: 'Just Under', ownershipBps: 2_499 },
        ],
      }),
      register,
    );
    expect(e.beneficialOwners.map((o) => o.isBeneficialOwner)).toEqual([true, false]);
  });

  it('an invalid ABN is INVALID_ABN', () => {
    expect(reasonOf(() => buildLegalEntity(company({ abn: '11 123 456 781' })))).toBe('INVALID_ABN');
  });

  it('owners summing over 100% is OWNERSHIP_EXCEEDS_100 with the sum', () => {
    const input = company({
      beneficialOwners: [
        { id: 'a', fullName: 'A', dateOfBirth: '1970-01-01', ownershipBps: 6_000 },
        { id: 'b', fullName: 'B', dateOfBirth: '1971-01-01', ownershipBps: 4_001 },
      ],
    });
    expect.assertions(2);
    expect(reasonOf(() => buildLegalEntity(input, register))).toBe('OWNERSHIP_EXCEEDS_100');
    try {
      buildLegalEntity(input, register);
    } catch (err) {
      expect((err as { extensions: Record<string, unknown> }).extensions).toMatchObject({ code: 'BAD_USER_INPUT', sumBps: 10_001 });
    }
  });

  it.each([-1, 10_001, 25.5, Number.NaN])('ownership %p bps is OWNERSHIP_OUT_OF_RANGE', (bps) => {
    const input = company({ beneficialOwners: [{ id: 'a', fullName: 'A', dateOfBirth: '1970-01-01', ownershipBps: bps }] });
    expect(reasonOf(() => buildLegalEntity(input, register))).toBe('OWNERSHIP_OUT_OF_RANGE');
  });

  it('a beneficial owner without date of birth or address is BENEFICIAL_OWNER_UNIDENTIFIED; a controller counts too', () => {
    expect(reasonOf(() => buildLegalEntity(company({ beneficialOwners: [{ id: 'a', fullName: 'Anon', ownershipBps: 5_000 }] }), register))).toBe(
      'BENEFICIAL_OWNER_UNIDENTIFIED',
    );
    expect(reasonOf(() => buildLegalEntity(company({ beneficialOwners: [{ id: 'a', fullName: 'Boss', ownershipBps: 0, controls: true }] }), register))).toBe(
      'BENEFICIAL_OWNER_UNIDENTIFIED',
    );
  });

  it('a company naming nobody who owns or controls it is NO_BENEFICIAL_OWNER; a sole trader needs none', () => {
    expect(reasonOf(() => buildLegalEntity(company({ beneficialOwners: [{ id: 'a', fullName: 'Tiny', ownershipBps: 1_000 }] }), register))).toBe('NO_BENEFICIAL_OWNER');
    const soleTrader = buildLegalEntity({ abn: '53900000001', legalName: 'CITIZEN, JANE MARY', entityTypeCode: 'IND' });
    expect(soleTrader).toMatchObject({ entityType: 'INDIVIDUAL', beneficialOwners: [], source: 'DECLARED' });
  });

  it('a private company needs a director, a public one three', () => {
    expect(reasonOf(() => buildLegalEntity(company({ directors: [] }), register))).toBe('DIRECTOR_REQUIRED');
    const pub = { ...register, entityTypeCode: 'PUB' };
    expect(reasonOf(() => buildLegalEntity(company(), pub))).toBe('DIRECTOR_REQUIRED');
  });

  it('an ACN that is not the ABN’s tail is ACN_MISMATCH; a bad ACN is INVALID_ACN', () => {
    expect(reasonOf(() => buildLegalEntity(company({ acn: '004 085 616' })))).toBe('ACN_MISMATCH');
    expect(reasonOf(() => buildLegalEntity(company({ acn: '123 456 789' })))).toBe('INVALID_ACN');
    expect(reasonOf(() => buildLegalEntity(company({ acn: null })))).toBe('INVALID_ACN');
  });

  it('the same person twice is DUPLICATE_PERSON; an impossible birth date is INVALID_DATE', () => {
    const d = { id: 'd1', fullName: 'Alex Director', dateOfBirth: '1980-02-29' };
    expect(reasonOf(() => buildLegalEntity(company({ directors: [d, { ...d, id: 'd2' }] }), register))).toBe('DUPLICATE_PERSON');
    expect(reasonOf(() => buildLegalEntity(company({ directors: [{ ...d, dateOfBirth: '1981-02-29' }] }), register))).toBe('INVALID_DATE');
  });

  it('material changes: a new director or ownership crossing 25% needs a review; nothing changed needs none', () => {
    const before = buildLegalEntity(company(), register);
    expect(materialChanges(before, buildLegalEntity(company(), register))).toEqual([]);
    const moreDirectors = buildLegalEntity(company({ directors: [...company().directors!, { id: 'd2', fullName: 'New Person', dateOfBirth: '1990-01-01' }] }), register);
    expect(materialChanges(before, moreDirectors)).toEqual(['directors']);
    const shifted = company();
    shifted.beneficialOwners![2] = { id: 'o3', fullName: 'Small Holder', dateOfBirth: '1999-09-09', ownershipBps: 1_000 };
    expect(materialChanges(before, buildLegalEntity(shifted, register))).toEqual(['beneficialOwners']);
  });
});

describe('verification', () => {
  const officer = { userId: 'officer-1', role: 'COMPLIANCE_OFFICER' as const };
  const tenant = { userId: 'owner-1', role: 'TENANT' as const };
  const t = (min: number): Date => new Date(Date.UTC(2026, 3, 1, 0, min));
  const evidence = [{ kind: 'ABN_LOOKUP' as const, reference: 'abr:11123456780@2026-04-01' }];
  const pending = (): VerificationState => submitForVerification(tenant, t(0));

  it('PENDING → VERIFIED with evidence and the officer recorded', () => {
    const s = decideVerification(pending(), { to: 'VERIFIED', decidedBy: officer, reason: 'ABN active, directors match ASIC extract', evidence, at: t(5) });
    expect(s.status).toBe('VERIFIED');
    expect(s.history.at(-1)).toMatchObject({ from: 'PENDING', to: 'VERIFIED', decidedBy: officer, evidence });
  });

  it('VERIFIED or REJECTED without evidence is EVIDENCE_REQUIRED, and the state is unchanged', () => {
    const s = pending();
    expect(reasonOf(() => decideVerification(s, { to: 'VERIFIED', decidedBy: officer, reason: 'looks fine', at: t(1) }))).toBe('EVIDENCE_REQUIRED');
    expect(reasonOf(() => decideVerification(s, { to: 'REJECTED', decidedBy: officer, reason: 'fake documents', evidence: [], at: t(1) }))).toBe('EVIDENCE_REQUIRED');
    expect(reasonOf(() => decideVerification(s, { to: 'NEEDS_INFO', decidedBy: officer, reason: '  ', at: t(1) }))).toBe('EVIDENCE_REQUIRED');
    expect(s.status).toBe('PENDING');
    expect(s.history).toHaveLength(1);
  });

  it('NEEDS_INFO → PENDING when the tenant supplies it; a tenant cannot verify itself', () => {
    const asked = decideVerification(pending(), { to: 'NEEDS_INFO', decidedBy: officer, reason: 'trust deed missing', at: t(1) });
    const resubmitted = decideVerification(asked, { to: 'PENDING', decidedBy: tenant, reason: 'trust deed uploaded', at: t(2) });
    expect(resubmitted.status).toBe('PENDING');
    expect(reasonOf(() => decideVerification(resubmitted, { to: 'VERIFIED', decidedBy: tenant, reason: 'trust me', evidence, at: t(3) }))).toBe('INVALID_TRANSITION');
  });

  it('transitions outside the machine are INVALID_TRANSITION; a decision needs a decider', () => {
    const rejected = decideVerification(pending(), { to: 'REJECTED', decidedBy: officer, reason: 'identity not established', evidence, at: t(1) });
    expect(reasonOf(() => decideVerification(rejected, { to: 'VERIFIED', decidedBy: officer, reason: 'x', evidence, at: t(2) }))).toBe('INVALID_TRANSITION');
    expect(reasonOf(() => decideVerification(pending(), { to: 'PENDING', decidedBy: officer, reason: 'x', at: t(2) }))).toBe('INVALID_TRANSITION');
    expect(reasonOf(() => decideVerification(pending(), { to: 'VERIFIED', decidedBy: { userId: '', role: 'COMPLIANCE_OFFICER' }, reason: 'x', evidence, at: t(2) }))).toBe(
      'DECIDER_REQUIRED',
    );
  });

  it('a material change sends VERIFIED back to PENDING for re-review; no change leaves it VERIFIED', () => {
    const verified = decideVerification(pending(), { to: 'VERIFIED', decidedBy: officer, reason: 'ok', evidence, at: t(1) });
    expect(reviewOnChange(verified, [], t(2))).toBe(verified);
    const reopened = reviewOnChange(verified, ['directors'], t(2));
    expect(reopened.status).toBe('PENDING');
    expect(reopened.history.at(-1)).toMatchObject({ reason: 'material change: directors', decidedBy: { role: 'SYSTEM' } });
  });
});

describe('trading gate', () => {
  it('real exchanges refuse purchases, sales and withdrawals until VERIFIED', () => {
    for (const operation of ['PURCHASE', 'SALE', 'WITHDRAWAL'] as const) {
      for (const kybStatus of [null, 'PENDING', 'NEEDS_INFO', 'REJECTED'] as const) {
        expect(reasonOf(() => assertTradingAllowed({ exchange: 'kraken', operation, tenantIsDemo: false, kybStatus }))).toBe('KYB_NOT_VERIFIED');
      }
      expect(reasonOf(() => assertTradingAllowed({ exchange: 'kraken', operation, tenantIsDemo: false, kybStatus: 'VERIFIED' }))).toBe('no error');
    }
  });

  it('the paper exchange and the demo tenant stay usable', () => {
    expect(reasonOf(() => assertTradingAllowed({ exchange: 'paper', operation: 'PURCHASE', tenantIsDemo: false, kybStatus: null }))).toBe('no error');
    expect(reasonOf(() => assertTradingAllowed({ exchange: 'kraken', operation: 'WITHDRAWAL', tenantIsDemo: true, kybStatus: 'PENDING' }))).toBe('no error');
  });

  it('the refusal is FORBIDDEN with reason KYB_NOT_VERIFIED', () => {
    expect.assertions(1);
    try {
      assertTradingAllowed({ exchange: 'swyftx', operation: 'SALE', tenantIsDemo: false, kybStatus: 'PENDING' });
    } catch (err) {
      expect((err as { extensions: Record<string, unknown> }).extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'KYB_NOT_VERIFIED', kybStatus: 'PENDING' });
    }
  });
});

describe('risk rating', () => {
  const now = new Date(Date.UTC(2026, 5, 1));
  const base = buildLegalEntity(company({ industry: undefined }), register);

  it('a plain Australian private company with identified owners is LOW, with no reasons', () => {
    expect(rateRisk({ entity: base, now, abnRegisteredFrom: '2019-07-01' })).toEqual({ rating: 'LOW', score: 0, prohibited: false, reasons: [] });
  });

  it('a trust in a high-risk industry moving A$1m a month is HIGH, with each reason listed', () => {
    const trust = { ...base, entityTypeCode: 'DTT', entityType: 'TRUST' as const, industry: 'PRECIOUS_METALS_AND_STONES' };
    const r = rateRisk({ entity: trust, now, expectedMonthlyVolumeAudCents: 100_000_000n });
    expect(r.rating).toBe('HIGH');
    expect(r.reasons.map((x) => [x.factor, x.points])).toEqual([
      ['ENTITY_TYPE', 2],
      ['INDUSTRY', 2],
      ['VOLUME', 2],
    ]);
  });

  it('MEDIUM between 2 and 3 points: an elevated industry and a new ABN', () => {
    const r = rateRisk({ entity: { ...base, industry: 'HOSPITALITY' }, now, abnRegisteredFrom: '2026-01-15' });
    expect(r).toMatchObject({ rating: 'MEDIUM', score: 2 });
  });

  it('a foreign PEP, a FATF call-for-action country or a confirmed sanctions match forces HIGH', () => {
    const withOwner = (patch: object) => ({ ...base, beneficialOwners: [{ ...at(base.beneficialOwners, 0), ...patch }] });
    expect(rateRisk({ entity: withOwner({ pep: 'FOREIGN' }), now }).rating).toBe('HIGH');
    expect(rateRisk({ entity: withOwner({ countryOfResidence: 'KP' }), now }).rating).toBe('HIGH');
    const sanctioned = rateRisk({ entity: withOwner({ sanctions: 'CONFIRMED_MATCH' }), now });
    expect(sanctioned).toMatchObject({ rating: 'HIGH', prohibited: true });
  });

  it('re-rated on change: the same entity rates higher once a director is a domestic PEP', () => {
    const before = rateRisk({ entity: base, now });
    const after = rateRisk({ entity: { ...base, directors: [{ ...at(base.directors, 0), pep: 'DOMESTIC' }] }, now });
    expect([before.rating, after.rating]).toEqual(['LOW', 'MEDIUM']);
  });
});
