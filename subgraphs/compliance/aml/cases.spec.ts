import { closeWithoutSuspicion, deadlineAlerts, escalateToSmr, fileAlert, markReported, startInvestigation, type AmlCase } from './cases';
import { at } from '../../../test/helpers/present';
import { amlReasonOf } from './errors';
import { evaluateOperation, type MonitoredOperation } from './monitoring';

const op = (id: string, tenantId: string, amount: bigint, at: string): MonitoredOperation => ({ id, tenantId, kind: 'PURCHASE', amountAudCents: amount, at: new Date(at) });
const reasonOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    return amlReasonOf(err);
  }
  return 'no error';
};

describe('alerts open cases', () => {
  it('the first hit opens a case, the next joins it and raises its severity; another tenant gets its own', () => {
    const threshold = at(evaluateOperation(op('o1', 't1', 1_500_000n, '2026-05-04T01:00:00Z'), []), 0, 'hits');
    const first = fileAlert(threshold, { alertId: 'a1', newCaseId: 'c1' }, []);
    expect(first).toMatchObject({ opened: true, alert: { caseId: 'c1', rule: 'THRESHOLD', facts: { amountAudCents: 1_500_000n } }, case: { status: 'OPEN', severity: 'MEDIUM' } });
    const structuring = evaluateOperation(op('o4', 't1', 950_000n, '2026-05-04T04:00:00Z'), [op('o2', 't1', 950_000n, '2026-05-04T02:00:00Z'), op('o3', 't1', 950_000n, '2026-05-04T03:00:00Z')]).find(
      (h) => h.rule === 'STRUCTURING',
    )!;
    const second = fileAlert(structuring, { alertId: 'a2', newCaseId: 'c2' }, [first.case]);
    expect(second).toMatchObject({ opened: false, case: { id: 'c1', alertIds: ['a1', 'a2'], severity: 'HIGH' } });
    const other = at(evaluateOperation(op('o9', 't2', 2_000_000n, '2026-05-04T01:00:00Z'), []), 0, 'hits');
    expect(fileAlert(other, { alertId: 'a3', newCaseId: 'c3' }, [second.case])).toMatchObject({ opened: true, case: { id: 'c3', tenantId: 't2' } });
  });
});

describe('case lifecycle and the SMR clock', () => {
  const hit = at(evaluateOperation(op('o1', 't1', 1_500_000n, '2026-05-04T01:00:00Z'), []), 0, 'hits');
  const opened = (): AmlCase => fileAlert(hit, { alertId: 'a1', newCaseId: 'c1' }, []).case;

  it('escalation starts the clock at the moment the suspicion is formed; a terrorism ground makes it 24 hours', () => {
    const c = escalateToSmr(startInvestigation(opened()), { by: 'officer-1', suspicionFormedAt: new Date('2026-05-08T05:00:00Z'), grounds: ['MONEY_LAUNDERING'], terrorismFinancing: false });
    expect(c.escalation?.deadline).toMatchObject({ basis: 'THREE_BUSINESS_DAYS', lastDay: '2026-05-13' });
    const tf = escalateToSmr(opened(), { by: 'officer-1', suspicionFormedAt: new Date('2026-05-08T05:00:00Z'), grounds: ['TERRORISM_FINANCING'], terrorismFinancing: false });
    expect(tf.escalation).toMatchObject({ terrorismFinancing: true, deadline: { basis: 'TERRORISM_FINANCING_24_HOURS', dueAt: new Date('2026-05-09T05:00:00Z') } });
  });

  it('near-due and overdue escalated cases alert, most urgent first; reported ones do not', () => {
    const three = escalateToSmr({ ...opened(), id: 'c3' }, { by: 'o', suspicionFormedAt: new Date('2026-05-08T05:00:00Z'), grounds: ['OFFENCE_AGAINST_LAW'], terrorismFinancing: false });
    const tf = escalateToSmr({ ...opened(), id: 'ctf' }, { by: 'o', suspicionFormedAt: new Date('2026-05-12T12:00:00Z'), grounds: ['TERRORISM_FINANCING'], terrorismFinancing: true });
    const done = markReported({ ...three, id: 'done' }, { by: 'o', reportedAt: new Date('2026-05-09T00:00:00Z'), austracReference: 'SMR-123' });
    expect(deadlineAlerts([three, tf, done], new Date('2026-05-13T13:00:00Z'))).toEqual([
      { caseId: 'ctf', tenantId: 't1', status: 'OVERDUE', dueAt: new Date('2026-05-13T12:00:00Z'), remainingMs: -3_600_000 },
      { caseId: 'c3', tenantId: 't1', status: 'NEAR_DUE', dueAt: new Date('2026-05-13T14:00:00Z'), remainingMs: 3_600_000 },
    ]);
    expect(deadlineAlerts([three], new Date('2026-05-11T00:00:00Z'))).toEqual([]);
  });

  it('an escalated case cannot be closed without reporting; transitions out of order are INVALID_CASE', () => {
    const esc = escalateToSmr(opened(), { by: 'o', suspicionFormedAt: new Date('2026-05-08T05:00:00Z'), grounds: ['MONEY_LAUNDERING'], terrorismFinancing: false });
    expect(reasonOf(() => closeWithoutSuspicion(esc, { by: 'o', at: new Date(), reason: 'never mind' }))).toBe('INVALID_CASE');
    expect(reasonOf(() => markReported(opened(), { by: 'o', reportedAt: new Date(), austracReference: 'x' }))).toBe('INVALID_CASE');
    expect(reasonOf(() => escalateToSmr(opened(), { by: 'o', suspicionFormedAt: new Date(), grounds: [], terrorismFinancing: false }))).toBe('INVALID_CASE');
    expect(closeWithoutSuspicion(opened(), { by: 'o', at: new Date('2026-05-05T00:00:00Z'), reason: 'seasonal revenue, invoices seen' }).status).toBe('CLOSED_NO_SUSPICION');
  });
});
