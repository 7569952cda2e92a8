import { randomBytes } from 'node:crypto';
import { at } from '../../../test/helpers/present';
import { planErasure, pseudonym } from './erasure';
import { addYears, planRetention, relationshipEnd, type RetainedRecord } from './retention';

const d = (iso: string): Date => new Date(iso);

describe('seven-year retention with a moved clock', () => {
  const records: RetainedRecord[] = [
    { id: 'kyb-1', tenantId: 'closed', recordClass: 'CDD', recordedAt: d('2019-01-10T00:00:00Z') },
    { id: 'tx-old', tenantId: 'closed', recordClass: 'TRANSACTION', recordedAt: d('2019-03-01T00:00:00Z') },
    { id: 'tx-last', tenantId: 'closed', recordClass: 'TRANSACTION', recordedAt: d('2026-05-01T00:00:00Z') }, // after closure
    { id: 'case-held', tenantId: 'closed', recordClass: 'CASE', recordedAt: d('2019-06-01T00:00:00Z'), legalHold: true },
    { id: 'open-tx', tenantId: 'open', recordClass: 'TRANSACTION', recordedAt: d('2010-01-01T00:00:00Z') },
    { id: 'stray', tenantId: 'unknown', recordClass: 'AUDIT', recordedAt: d('2010-01-01T00:00:00Z') },
  ];
  // Closed on 1 April 2026; a final withdrawal on 20 April 2026 is the last designated service.
  const relationships = [
    { tenantId: 'closed', closedAt: d('2026-04-01T00:00:00Z'), lastServiceAt: d('2026-04-20T00:00:00Z') },
    { tenantId: 'open', closedAt: null, lastServiceAt: d('2026-04-20T00:00:00Z') },
  ];

  it('the relationship ends at the later of closure and the last service', () => {
    expect(relationshipEnd(at(relationships, 0))).toEqual(d('2026-04-20T00:00:00Z'));
    expect(relationshipEnd(at(relationships, 1))).toBeNull();
  });

  it('a day before seven years have passed, nothing is deleted', () => {
    const plan = planRetention(records, relationships, d('2033-04-19T23:59:59Z'));
    expect(plan.delete).toEqual([]);
    expect(plan.keep.find((k) => k.id === 'kyb-1')).toMatchObject({ retainUntil: d('2033-04-20T00:00:00Z') });
  });

  it('once they have, only what passed goes: records after the end wait for their own 7 years; held, open and unknown stay', () => {
    const plan = planRetention(records, relationships, d('2033-04-20T00:00:00Z'));
    expect(plan.delete.map((x) => x.id).sort()).toEqual(['kyb-1', 'tx-old']);
    const keep = Object.fromEntries(plan.keep.map((k) => [k.id, k]));
    expect(keep['tx-last']).toMatchObject({ retainUntil: d('2033-05-01T00:00:00Z') });
    expect(keep['case-held']?.reason).toBe('under legal hold');
    expect(keep['open-tx']).toMatchObject({ retainUntil: null, reason: 'the business relationship is ongoing' });
    expect(keep.stray).toMatchObject({ retainUntil: null });
    expect(planRetention(records, relationships, d('2033-05-01T00:00:00Z')).delete.map((x) => x.id).sort()).toEqual(['kyb-1', 'tx-last', 'tx-old']);
  });

  it('29 February plus seven years is 1 March, never earlier', () => {
    expect(addYears(d('2028-02-29T10:00:00Z'), 7)).toEqual(d('2035-03-01T10:00:00Z'));
  });

  it('a record without an AML class is a typed error', () => {
    expect(() => planRetention([{ id: 'x', tenantId: 'closed', recordClass: 'SESSION' as never, recordedAt: d('2020-01-01T00:00:00Z') }], relationships, d('2040-01-01T00:00:00Z'))).toThrow(
      /AML record class/,
    );
  });
});

describe('erasure request', () => {
  const key = randomBytes(32);
  const fields = [
    { path: 'users.fullName', category: 'IDENTITY' as const },
    { path: 'users.email', category: 'CONTACT' as const },
    { path: 'kyb.directors[d1].dateOfBirth', category: 'DATE_OF_BIRTH' as const },
    { path: 'users.passwordHash', category: 'CREDENTIAL' as const },
    { path: 'users.marketingOptIn', category: 'MARKETING' as const },
    { path: 'sessions.userAgent', category: 'DEVICE' as const },
  ];

  it('while AML records must be kept: identity fields are pseudonymised, the rest erased, with reasons and no values', () => {
    const plan = planErasure({ userId: 'u1', fields, amlRetainUntil: d('2033-04-20T00:00:00Z') }, d('2027-01-01T00:00:00Z'), key);
    const byPath = Object.fromEntries(plan.actions.map((a) => [a.path, a.action]));
    expect(byPath).toEqual({
      'users.fullName': 'PSEUDONYMISE',
      'users.email': 'PSEUDONYMISE',
      'kyb.directors[d1].dateOfBirth': 'PSEUDONYMISE',
      'users.passwordHash': 'ERASE',
      'users.marketingOptIn': 'ERASE',
      'sessions.userAgent': 'ERASE',
    });
    const token = pseudonym(key, 'u1');
    expect(plan.actions.filter((a) => a.action === 'PSEUDONYMISE').every((a) => a.replacement === token)).toBe(true);
    expect(plan.record.kept[0]).toEqual({ path: 'users.fullName', reason: 'AML/CTF Act Part 10: part of an AML record kept until 2033-04-20T00:00:00.000Z', retainUntil: '2033-04-20T00:00:00.000Z' });
    expect(JSON.stringify(plan.record)).not.toContain('u1');
  });

  it('after the retention date, or for someone in no AML record, everything is erased', () => {
    for (const amlRetainUntil of [d('2026-01-01T00:00:00Z'), null]) {
      const plan = planErasure({ userId: 'u1', fields, amlRetainUntil }, d('2027-01-01T00:00:00Z'), key);
      expect(plan.actions.every((a) => a.action === 'ERASE')).toBe(true);
    }
  });

  it('while the relationship is open, AML fields are pseudonymised with no end date yet', () => {
    const plan = planErasure({ userId: 'u1', fields, amlRetainUntil: null, ongoing: true }, d('2027-01-01T00:00:00Z'), key);
    expect(plan.record.kept.map((k) => k.retainUntil)).toEqual([null, null, null]);
  });

  it('the pseudonym is stable per key and user, and differs across users and keys', () => {
    expect(pseudonym(key, 'u1')).toBe(pseudonym(key, 'u1'));
    expect(pseudonym(key, 'u1')).not.toBe(pseudonym(key, 'u2'));
    expect(pseudonym(randomBytes(32), 'u1')).not.toBe(pseudonym(key, 'u1'));
    expect(() => pseudonym(Buffer.alloc(8), 'u1')).toThrow();
  });
});
