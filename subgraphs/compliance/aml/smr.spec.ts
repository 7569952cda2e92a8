import type { AbrEntity } from './abr.client';
import { smrDeadline } from './business-days';
import { buildLegalEntity } from './kyb';
import { evaluateOperation, type MonitoredOperation } from './monitoring';
import { buildSmrDraft, fieldsToComplete, smrDraftToCsv, smrDraftToJson, type SmrInput } from './smr';
import { splitCsvLine } from './screening-list';

const register: AbrEntity = {
  abn: '11123456780', legalName: 'DEMO COFFEE ROASTERS PTY LTD', entityTypeCode: 'PRV', entityTypeName: 'Australian Private Company', entityType: 'COMPANY',
  status: 'ACTIVE', statusEffectiveFrom: '2019-07-01', acn: '123456780', gstRegisteredFrom: null, businessNames: ['Demo Coffee Roasters'],
  addressState: 'NSW', addressPostcode: '2000', addressDate: null,
};
const entity = buildLegalEntity(
  {
    abn: '11123456780', legalName: '', entityTypeCode: 'PRV',
    directors: [{ id: 'd1', fullName: 'Alex Director', dateOfBirth: '1980-01-01' }],
    beneficialOwners: [{ id: 'o1', fullName: 'Alex Director', dateOfBirth: '1980-01-01', ownershipBps: 10_000 }],
  },
  register,
);
const withdrawal: MonitoredOperation = {
  id: 'w1', tenantId: 't1', kind: 'WITHDRAWAL', amountAudCents: 1_250_000n, at: new Date('2026-05-08T04:00:00Z'),
  destination: { address: 'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4', network: 'bitcoin' },
};
const formedAt = new Date('2026-05-08T05:00:00Z');
const input = (patch: Partial<SmrInput> = {}): SmrInput => ({
  caseId: 'case-1',
  reportingEntity: { name: 'Liquid ABT Pty Ltd', abn: '51824753556', austracId: null, state: 'NSW' },
  customer: { ...entity, businessNames: register.businessNames, addressState: 'NSW', addressPostcode: '2000' },
  suspicion: { formedAt, grounds: ['MONEY_LAUNDERING'], terrorismFinancing: false },
  deadline: smrDeadline({ suspicionFormedAt: formedAt, terrorismFinancing: false }),
  transactions: [{ id: 'w1', kind: 'WITHDRAWAL', at: withdrawal.at, amountAudCents: 1_250_000n, sats: 12_345_678n, exchange: 'kraken', destinationAddress: withdrawal.destination!.address, txid: null }],
  hits: evaluateOperation(withdrawal, []),
  ...patch,
});

describe('SMR draft', () => {
  it('fills what the platform knows and marks what the officer must complete', () => {
    const d = buildSmrDraft(input(), new Date('2026-05-08T06:00:00Z'));
    expect(d.dueAt).toBe('2026-05-13T14:00:00.000Z');
    expect(d.sections.organisation.fields.legalName).toEqual({ value: 'DEMO COFFEE ROASTERS PTY LTD', status: 'FROM_PLATFORM' });
    expect(d.sections.organisation.fields.abn).toEqual({ value: '11 123 456 780', status: 'FROM_PLATFORM' });
    expect(d.sections.transactions[0]?.fields).toMatchObject({
      amountAud: { value: '12500.00' },
      virtualAssetAmount: { value: '0.12345678' },
      destinationWalletAddress: { value: 'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4' },
      transactionHash: { status: 'OFFICER_TO_COMPLETE' },
    });
    expect(d.sections.persons.map((p) => p.fields.role?.value)).toEqual(['director', 'beneficial owner']);
    expect(fieldsToComplete(d)).toEqual(
      expect.arrayContaining(['reportingEntity.austracBusinessId', 'reportingEntity.reportDate', 'suspicion.groundsNarrative', 'transactions[0].transactionHash', 'persons[0].identificationDocuments']),
    );
    expect(d.platformFacts.map((f) => f.rule).sort()).toEqual(['NEW_DESTINATION', 'THRESHOLD']);
    expect(d.platformFacts.find((f) => f.rule === 'THRESHOLD')?.facts).toMatchObject({ amountAudCents: '1250000' });
  });

  it('exports JSON (no bigint left) and CSV with one row per field', () => {
    const d = buildSmrDraft(input(), new Date('2026-05-08T06:00:00Z'));
    const json: unknown = JSON.parse(smrDraftToJson(d));
    expect(json).toMatchObject({ caseId: 'case-1' });
    const rows = smrDraftToCsv(d).trimEnd().split('\r\n').map((l) => splitCsvLine(l));
    expect(rows[0]).toEqual(['section', 'field', 'value', 'status', 'note']);
    expect(rows).toContainEqual(['organisation', 'legalName', 'DEMO COFFEE ROASTERS PTY LTD', 'FROM_PLATFORM', '']);
    expect(rows.find((r) => r?.[1] === 'groundsNarrative')?.[3]).toBe('OFFICER_TO_COMPLETE');
    expect(rows.every((r) => r?.length === 5)).toBe(true);
  });

  it('refuses a draft without grounds, or with a deadline that contradicts the terrorism flag', () => {
    expect(() => buildSmrDraft(input({ suspicion: { formedAt, grounds: [], terrorismFinancing: false } }), formedAt)).toThrow(/ground/);
    expect(() => buildSmrDraft(input({ suspicion: { formedAt, grounds: ['TERRORISM_FINANCING'], terrorismFinancing: true } }), formedAt)).toThrow(/deadline/);
  });
});
