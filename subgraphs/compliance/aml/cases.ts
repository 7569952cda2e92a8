import { businessCalendar, deadlineStatus, smrDeadline, type BusinessCalendar, type DeadlineStatus, type SmrDeadline } from './business-days';
import { AmlReason, amlError } from './errors';
import type { RuleHit, Severity } from './monitoring';
import type { SuspicionGround } from './smr';

/**
 * Alerts and cases: every rule hit becomes an alert with its facts; an alert joins its tenant's
 * open case or opens one. A case goes OPEN → INVESTIGATING → ESCALATED (the officer forms the
 * suspicion: the SMR clock starts) → REPORTED, or is CLOSED_NO_SUSPICION with a reason before
 * escalation. An escalated case can only end by being reported.
 */

export type Alert = Omit<RuleHit, 'facts'> & { id: string; facts: RuleHit['facts']; caseId: string };

export type CaseStatus = 'OPEN' | 'INVESTIGATING' | 'ESCALATED' | 'REPORTED' | 'CLOSED_NO_SUSPICION';

export type AmlCase = {
  id: string;
  tenantId: string;
  status: CaseStatus;
  openedAt: Date;
  alertIds: string[];
  severity: Severity;
  escalation: { by: string; suspicionFormedAt: Date; grounds: SuspicionGround[]; terrorismFinancing: boolean; deadline: SmrDeadline } | null;
  report: { by: string; reportedAt: Date; austracReference: string } | null;
  closure: { by: string; at: Date; reason: string } | null;
};

const RANK: Record<Severity, number> = { LOW: 0, MEDIUM: 1, HIGH: 2, CRITICAL: 3 };
const isOpen = (c: AmlCase): boolean => c.status === 'OPEN' || c.status === 'INVESTIGATING' || c.status === 'ESCALATED';

/** Files a hit: it joins the tenant's open case (raising its severity) or opens a new one. */
export function fileAlert(hit: RuleHit, ids: { alertId: string; newCaseId: string }, cases: readonly AmlCase[]): { alert: Alert; case: AmlCase; opened: boolean } {
  const existing = cases.find((c) => c.tenantId === hit.tenantId && isOpen(c));
  const base: AmlCase = existing ?? {
    id: ids.newCaseId,
    tenantId: hit.tenantId,
    status: 'OPEN',
    openedAt: hit.at,
    alertIds: [],
    severity: hit.severity,
    escalation: null,
    report: null,
    closure: null,
  };
  const updated: AmlCase = { ...base, alertIds: [...base.alertIds, ids.alertId], severity: RANK[hit.severity] > RANK[base.severity] ? hit.severity : base.severity };
  return { alert: { ...hit, id: ids.alertId, caseId: updated.id }, case: updated, opened: !existing };
}

const transition = (c: AmlCase, allowed: CaseStatus[], to: CaseStatus): void => {
  if (!allowed.includes(c.status)) throw amlError(AmlReason.INVALID_CASE, `a ${c.status} case cannot become ${to}`, { from: c.status, to });
};

export function startInvestigation(c: AmlCase): AmlCase {
  transition(c, ['OPEN'], 'INVESTIGATING');
  return { ...c, status: 'INVESTIGATING' };
}

/** The officer forms the suspicion: the SMR deadline is fixed from that moment. */
export function escalateToSmr(
  c: AmlCase,
  e: { by: string; suspicionFormedAt: Date; grounds: SuspicionGround[]; terrorismFinancing: boolean; calendar?: BusinessCalendar },
): AmlCase {
  transition(c, ['OPEN', 'INVESTIGATING'], 'ESCALATED');
  if (!e.by) throw amlError(AmlReason.DECIDER_REQUIRED, 'say which officer formed the suspicion');
  if (e.grounds.length === 0) throw amlError(AmlReason.INVALID_CASE, 'a suspicious matter needs at least one ground', { field: 'grounds' });
  const terrorismFinancing = e.terrorismFinancing || e.grounds.includes('TERRORISM_FINANCING');
  const deadline = smrDeadline({ suspicionFormedAt: e.suspicionFormedAt, terrorismFinancing, calendar: e.calendar ?? businessCalendar() });
  return { ...c, status: 'ESCALATED', escalation: { by: e.by, suspicionFormedAt: e.suspicionFormedAt, grounds: e.grounds, terrorismFinancing, deadline } };
}

export function markReported(c: AmlCase, r: { by: string; reportedAt: Date; austracReference: string }): AmlCase {
  transition(c, ['ESCALATED'], 'REPORTED');
  if (!r.by || !r.austracReference.trim()) throw amlError(AmlReason.INVALID_CASE, 'a report needs the officer and AUSTRAC’s receipt reference');
  return { ...c, status: 'REPORTED', report: r };
}

export function closeWithoutSuspicion(c: AmlCase, cl: { by: string; at: Date; reason: string }): AmlCase {
  transition(c, ['OPEN', 'INVESTIGATING'], 'CLOSED_NO_SUSPICION');
  if (!cl.by || !cl.reason.trim()) throw amlError(AmlReason.INVALID_CASE, 'closing a case needs the officer and the reason');
  return { ...c, status: 'CLOSED_NO_SUSPICION', closure: cl };
}

/** Escalated cases whose SMR is near due or overdue at `now`, most urgent first. */
export function deadlineAlerts(cases: readonly AmlCase[], now: Date): { caseId: string; tenantId: string; status: Extract<DeadlineStatus, 'NEAR_DUE' | 'OVERDUE'>; dueAt: Date; remainingMs: number }[] {
  const out = [];
  for (const c of cases) {
    if (c.status !== 'ESCALATED' || !c.escalation) continue;
    const s = deadlineStatus(c.escalation.deadline, now);
    if (s.status === 'NEAR_DUE' || s.status === 'OVERDUE') out.push({ caseId: c.id, tenantId: c.tenantId, status: s.status, dueAt: c.escalation.deadline.dueAt, remainingMs: s.remainingMs });
  }
  return out.sort((a, b) => a.remainingMs - b.remainingMs);
}
