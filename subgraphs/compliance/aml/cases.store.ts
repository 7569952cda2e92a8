import type { EntityManager } from '@mikro-orm/postgresql';
import { canonicalJson } from '../audit-chain';
import type { SmrDeadline } from './business-days';
import type { Alert, AmlCase, CaseStatus } from './cases';
import type { RuleHit, Severity } from './monitoring';
import type { SuspicionGround } from './smr';

/**
 * Cases, alerts and notes (migration 0060_aml) as the kernel's types. Writes run in the case's
 * tenant transaction; reads either there or, schema-qualified, on the officer's path.
 */

type Json = Record<string, unknown>;

export type CaseRow = {
  tenant_id: string;
  id: string;
  status: CaseStatus;
  severity: Severity;
  opened_at: Date;
  assigned_to: string | null;
  escalation: Json | null;
  report: Json | null;
  closure: Json | null;
  updated_at: Date;
  alert_ids?: string[] | null;
};

export type AlertRow = {
  tenant_id: string;
  id: string;
  case_id: string;
  operation_id: string;
  rule: RuleHit['rule'];
  severity: Severity;
  action: 'ALERT' | 'HOLD';
  at: Date;
  summary: string;
  facts: Json;
};

export type NoteRow = { tenant_id: string; id: string; case_id: string; author_id: string; at: Date; body: string };

export type StoredCase = AmlCase & { assignedTo: string | null; updatedAt: Date };

const date = (v: unknown): Date => (v instanceof Date ? v : new Date(String(v)));

export function deadlineOf(j: Json): SmrDeadline {
  return {
    basis: j.basis as SmrDeadline['basis'],
    suspicionFormedAt: date(j.suspicionFormedAt),
    dueAt: date(j.dueAt),
    lastDay: (j.lastDay as string | null) ?? null,
    skipped: (j.skipped as SmrDeadline['skipped']) ?? [],
    state: j.state as SmrDeadline['state'],
    timeZone: String(j.timeZone),
  };
}

export function caseOf(r: CaseRow): StoredCase {
  const e = r.escalation;
  const rep = r.report;
  const cl = r.closure;
  return {
    id: r.id,
    tenantId: r.tenant_id,
    status: r.status,
    openedAt: date(r.opened_at),
    alertIds: r.alert_ids ?? [],
    severity: r.severity,
    escalation: e
      ? {
          by: String(e.by),
          suspicionFormedAt: date(e.suspicionFormedAt),
          grounds: e.grounds as SuspicionGround[],
          terrorismFinancing: e.terrorismFinancing === true,
          deadline: deadlineOf(e.deadline as Json),
        }
      : null,
    report: rep ? { by: String(rep.by), reportedAt: date(rep.reportedAt), austracReference: String(rep.austracReference) } : null,
    closure: cl ? { by: String(cl.by), at: date(cl.at), reason: String(cl.reason) } : null,
    assignedTo: r.assigned_to,
    updatedAt: date(r.updated_at),
  };
}

/** Stored facts keep bigints as decimal strings (canonical JSON); the SMR draft reads them as they are. */
export function hitOf(a: AlertRow): RuleHit {
  return { rule: a.rule, severity: a.severity, action: a.action, tenantId: a.tenant_id, operationId: a.operation_id, at: date(a.at), summary: a.summary, facts: a.facts } as unknown as RuleHit;
}

const CASE_COLUMNS = `c.tenant_id, c.id, c.status, c.severity, c.opened_at, c.assigned_to, c.escalation, c.report, c.closure, c.updated_at,
  (select coalesce(array_agg(a.id::text order by a.at, a.id), '{}') from %ALERTS% a where a.tenant_id = c.tenant_id and a.case_id = c.id) as alert_ids`;

/** The case columns over a (possibly schema-qualified) case table and its alert table. */
export const caseSelect = (cases: string, alerts: string): string => `select ${CASE_COLUMNS.replace('%ALERTS%', alerts)} from ${cases} c`;

/** The tenant's cases still open (OPEN, INVESTIGATING, ESCALATED), in this tenant transaction. */
export async function openCases(em: EntityManager): Promise<StoredCase[]> {
  const rows = await em.execute<CaseRow[]>(`${caseSelect('aml_case', 'aml_alert')} where c.status in ('OPEN', 'INVESTIGATING', 'ESCALATED') order by c.opened_at`);
  return rows.map(caseOf);
}

export async function caseById(em: EntityManager, id: string): Promise<StoredCase | null> {
  const [row] = await em.execute<CaseRow[]>(`${caseSelect('aml_case', 'aml_alert')} where c.id = ?::uuid`, [id]);
  return row ? caseOf(row) : null;
}

const escalationJson = (c: AmlCase): string | null => (c.escalation ? canonicalJson(c.escalation) : null);

/** Inserts a new case or updates the stored one (status, severity, escalation, report, closure, assignee). */
export async function saveCase(em: EntityManager, c: AmlCase, assignedTo: string | null): Promise<void> {
  await em.execute(
    `insert into aml_case (id, status, severity, opened_at, assigned_to, escalation, report, closure) values (?, ?, ?, ?, ?, ?::jsonb, ?::jsonb, ?::jsonb)
     on conflict (tenant_id, id) do update set status = excluded.status, severity = excluded.severity, assigned_to = excluded.assigned_to,
       escalation = excluded.escalation, report = excluded.report, closure = excluded.closure, updated_at = now()`,
    [c.id, c.status, c.severity, c.openedAt, assignedTo, escalationJson(c), c.report ? canonicalJson(c.report) : null, c.closure ? canonicalJson(c.closure) : null],
  );
}

/** Inserts the alert once per (operation, rule); false when it was already there. */
export async function insertAlert(em: EntityManager, a: Alert): Promise<boolean> {
  const rows = await em.execute<{ id: string }[]>(
    `insert into aml_alert (id, case_id, operation_id, rule, severity, action, at, summary, facts) values (?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb)
     on conflict (tenant_id, operation_id, rule) do nothing returning id`,
    [a.id, a.caseId, a.operationId, a.rule, a.severity, a.action, a.at, a.summary, canonicalJson(a.facts)],
  );
  return rows.length > 0;
}

export async function insertNote(em: EntityManager, n: { id: string; caseId: string; authorId: string; at: Date; body: string }): Promise<void> {
  await em.execute(`insert into aml_case_note (id, case_id, author_id, at, body) values (?, ?, ?, ?, ?)`, [n.id, n.caseId, n.authorId, n.at, n.body]);
}
