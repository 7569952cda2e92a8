import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { TenantTx } from '../../../lib/db/tenant-tx';
import { notFound } from '../../../lib/errors';
import { isUuid } from '../../../lib/db/tenant-context';
import { businessCalendar, deadlineStatus, type AuState, type DeadlineStatus } from './business-days';
import { closeWithoutSuspicion, escalateToSmr, markReported, startInvestigation, type AmlCase } from './cases';
import { caseById, caseOf, caseSelect, hitOf, insertNote, saveCase, type AlertRow, type CaseRow, type NoteRow, type StoredCase } from './cases.store';
import { AmlReason, amlError } from './errors';
import type { Evidence, VerificationStatus } from './kyb';
import { decideKyb } from './kyb.service';
import { loadKyb, type StoredKyb } from './kyb.store';
import { acrossSchemas, type Officer, type OfficerPath } from './officer';
import { buildSmrDraft, smrDraftToCsv, smrDraftToJson, type SmrDraft, type SuspicionGround } from './smr';
import type { OperationKind } from './monitoring';

/**
 * The compliance officer's use cases (#11). Reads go through OfficerPath.read (across tenants);
 * changes run in the case's tenant transaction (plain RLS) once the officer path says which
 * tenant holds the case. Every read and change is audited in the platform chain.
 */

export type ReportingEntity = { name: string; abn: string; austracId: string | null; state: AuState };

export type CaseView = StoredCase & {
  tenantLegalName: string | null;
  alerts: AlertRow[];
  notes: NoteRow[];
  deadlineStatus: DeadlineStatus | null;
};

const badCase = (message: string, field: string): Error => amlError(AmlReason.INVALID_CASE, message, { field });

export class OfficerService {
  constructor(
    readonly path: OfficerPath,
    private readonly reportingEntity: ReportingEntity,
  ) {}

  private async views(o: Officer, where: string, params: unknown[], now: Date): Promise<CaseView[]> {
    return this.path.read(async (em, schemas) => {
      const cases = (await em.execute<CaseRow[]>(acrossSchemas(schemas, (t) => `${caseSelect(t('aml_case'), t('aml_alert'))} ${where}`), schemas.flatMap(() => params))).map(caseOf);
      cases.sort((a, b) => b.openedAt.getTime() - a.openedAt.getTime() || a.id.localeCompare(b.id));
      if (cases.length === 0) return [];
      const ids = cases.map((c) => c.id);
      const inList = ids.map(() => '?::uuid').join(', ');
      const alerts = await em.execute<AlertRow[]>(
        acrossSchemas(schemas, (t) => `select tenant_id, id, case_id, operation_id, rule, severity, action, at, summary, facts from ${t('aml_alert')} where case_id in (${inList})`),
        schemas.flatMap(() => ids),
      );
      const notes = await em.execute<NoteRow[]>(
        acrossSchemas(schemas, (t) => `select tenant_id, id, case_id, author_id, at, body from ${t('aml_case_note')} where case_id in (${inList})`),
        schemas.flatMap(() => ids),
      );
      const names = await em.execute<{ tenant_id: string; legal_name: string }[]>(acrossSchemas(schemas, (t) => `select tenant_id, legal_name from ${t('kyb_entity')}`));
      const byTime = (a: { at: Date }, b: { at: Date }): number => new Date(a.at).getTime() - new Date(b.at).getTime();
      return cases.map((c) => ({
        ...c,
        tenantLegalName: names.find((n) => n.tenant_id === c.tenantId)?.legal_name ?? null,
        alerts: alerts.filter((a) => a.case_id === c.id).sort(byTime),
        notes: notes.filter((n) => n.case_id === c.id).sort(byTime),
        deadlineStatus: c.escalation ? deadlineStatus(c.escalation.deadline, now, { reportedAt: c.report?.reportedAt ?? null }).status : null,
      }));
    }).then(async (views) => {
      await this.path.audit(o, 'aml.officer.read', 'AmlCase', views.length === 1 ? (views[0]?.id ?? 'none') : 'list', { cases: views.map((v) => v.id), tenants: [...new Set(views.map((v) => v.tenantId))] });
      return views;
    });
  }

  listCases(o: Officer, status: string | null, now: Date): Promise<CaseView[]> {
    return status ? this.views(o, 'where c.status = ?', [status], now) : this.views(o, '', [], now);
  }

  async getCase(o: Officer, id: string, now: Date): Promise<CaseView> {
    if (!isUuid(id)) throw notFound('case');
    const [v] = await this.views(o, 'where c.id = ?::uuid', [id], now);
    if (!v) throw notFound('case');
    return v;
  }

  /** Which tenant holds the case (officer path), then fn in that tenant's transaction; audited. */
  private async change(o: Officer, caseId: string, what: string, data: Record<string, unknown>, fn: (c: StoredCase, tx: TenantTx) => Promise<AmlCase>): Promise<CaseView> {
    if (!isUuid(caseId)) throw notFound('case');
    const tenantId = await this.path.read(async (em, schemas) => {
      const rows = await em.execute<{ tenant_id: string }[]>(acrossSchemas(schemas, (t) => `select tenant_id from ${t('aml_case')} where id = ?::uuid`), schemas.map(() => caseId));
      return rows[0]?.tenant_id ?? null;
    });
    if (!tenantId) throw notFound('case');
    const now = await this.path.transactions.run(tenantId, async (tx) => {
      const c = await caseById(tx.em, caseId);
      if (!c) throw notFound('case');
      const next = await fn(c, tx);
      await saveCase(tx.em, next, what === 'assign' ? o.userId : c.assignedTo);
      return tx.now;
    });
    await this.path.audit(o, `aml.case.${what}`, 'AmlCase', caseId, { tenantId, ...data });
    return this.getCase(o, caseId, now);
  }

  assign(o: Officer, caseId: string): Promise<CaseView> {
    return this.change(o, caseId, 'assign', { assignee: o.userId }, (c) => Promise.resolve(c.status === 'OPEN' ? startInvestigation(c) : c));
  }

  note(o: Officer, caseId: string, body: string): Promise<CaseView> {
    const text = body.trim();
    if (text === '' || text.length > 10_000) throw badCase('a note must be 1 to 10000 characters', 'note');
    return this.change(o, caseId, 'note', {}, async (c, tx) => {
      if (c.status === 'REPORTED' || c.status === 'CLOSED_NO_SUSPICION') throw amlError(AmlReason.INVALID_CASE, `a ${c.status} case takes no more notes`, { from: c.status });
      await insertNote(tx.em, { id: randomUUID(), caseId: c.id, authorId: o.userId, at: tx.now, body: text });
      return c;
    });
  }

  escalate(o: Officer, caseId: string, e: { grounds: SuspicionGround[]; terrorismFinancing: boolean; suspicionFormedAt: Date | null }): Promise<CaseView> {
    return this.change(o, caseId, 'escalate', { grounds: e.grounds, terrorismFinancing: e.terrorismFinancing }, (c, tx) => {
      const formed = e.suspicionFormedAt ?? tx.now;
      if (formed.getTime() > tx.now.getTime()) throw badCase('the suspicion cannot be formed in the future', 'suspicionFormedAt');
      return Promise.resolve(
        escalateToSmr(c, { by: o.userId, suspicionFormedAt: formed, grounds: e.grounds, terrorismFinancing: e.terrorismFinancing, calendar: businessCalendar({ state: this.reportingEntity.state }) }),
      );
    });
  }

  close(o: Officer, caseId: string, reason: string): Promise<CaseView> {
    return this.change(o, caseId, 'close', { reason }, (c, tx) => Promise.resolve(closeWithoutSuspicion(c, { by: o.userId, at: tx.now, reason })));
  }

  report(o: Officer, caseId: string, austracReference: string): Promise<CaseView> {
    return this.change(o, caseId, 'report', { austracReference }, (c, tx) => Promise.resolve(markReported(c, { by: o.userId, reportedAt: tx.now, austracReference })));
  }

  /** The SMR draft of an escalated case (JSON or CSV); the export itself is audited. */
  async smrDraft(o: Officer, caseId: string, format: 'JSON' | 'CSV', now: Date): Promise<{ draft: SmrDraft; text: string }> {
    if (!isUuid(caseId)) throw notFound('case');
    const draft = await this.path.read(async (em, schemas) => {
      const [row] = await em.execute<CaseRow[]>(acrossSchemas(schemas, (t) => `${caseSelect(t('aml_case'), t('aml_alert'))} where c.id = ?::uuid`), schemas.map(() => caseId));
      if (!row) throw notFound('case');
      const c = caseOf(row);
      if (!c.escalation) throw amlError(AmlReason.INVALID_CASE, 'only an escalated case has an SMR draft: escalate it first', { from: c.status });
      const schema = await schemaOfTenant(em, schemas, c.tenantId);
      const kyb: StoredKyb | null = await loadKyb(em, c.tenantId, schema);
      if (!kyb) throw amlError(AmlReason.INVALID_CASE, 'the tenant has no KYB record to report on');
      const alerts = await em.execute<AlertRow[]>(`select tenant_id, id, case_id, operation_id, rule, severity, action, at, summary, facts from "${schema}".aml_alert where tenant_id = ? and case_id = ?::uuid order by at, id`, [c.tenantId, caseId]);
      const hits = alerts.map(hitOf);
      const opIds = new Set<string>();
      for (const h of hits) {
        opIds.add(h.operationId);
        const ops = (h.facts as { operations?: { id: string }[] }).operations ?? [];
        for (const op of ops) opIds.add(op.id);
      }
      const ids = [...opIds];
      const ops = ids.length
        ? await em.execute<{ id: string; kind: OperationKind; amount_aud_cents: string; at: Date; destination: { address: string } | null }[]>(
            `select id, kind, amount_aud_cents::text, at, destination from "${schema}".aml_operation where tenant_id = ? and id in (${ids.map(() => '?').join(', ')}) order by at, id`,
            [c.tenantId, ...ids],
          )
        : [];
      return buildSmrDraft(
        {
          caseId: c.id,
          reportingEntity: this.reportingEntity,
          customer: { ...kyb.entity, businessNames: kyb.register?.businessNames ?? [], addressState: kyb.register?.addressState ?? null, addressPostcode: kyb.register?.addressPostcode ?? null },
          suspicion: { formedAt: c.escalation.suspicionFormedAt, grounds: c.escalation.grounds, terrorismFinancing: c.escalation.terrorismFinancing },
          deadline: c.escalation.deadline,
          transactions: ops.map((r) => ({ id: r.id, kind: r.kind, at: new Date(r.at), amountAudCents: BigInt(r.amount_aud_cents), destinationAddress: r.destination?.address ?? null })),
          hits,
        },
        now,
      );
    });
    await this.path.audit(o, 'aml.smr.exported', 'AmlCase', caseId, { format, dueAt: draft.dueAt });
    return { draft, text: format === 'CSV' ? smrDraftToCsv(draft) : smrDraftToJson(draft) };
  }

  /** KYB records across tenants (optionally by status), for review. */
  async kybReviews(o: Officer, status: VerificationStatus | null): Promise<StoredKyb[]> {
    const out = await this.path.read(async (em, schemas) => {
      const rows = await em.execute<{ tenant_id: string }[]>(
        acrossSchemas(schemas, (t) => `select tenant_id from ${t('kyb_entity')}${status ? ' where status = ?' : ''}`),
        status ? schemas.map(() => status) : [],
      );
      const all: StoredKyb[] = [];
      for (const r of rows) {
        const schema = await schemaOfTenant(em, schemas, r.tenant_id);
        const k = await loadKyb(em, r.tenant_id, schema);
        if (k) all.push(k);
      }
      return all;
    });
    await this.path.audit(o, 'aml.officer.read', 'KybEntity', 'list', { tenants: out.map((k) => k.tenantId), status });
    return out;
  }

  async decideKyb(o: Officer, tenantId: string, d: { to: VerificationStatus; reason: string; evidence: Evidence[] }): Promise<StoredKyb> {
    if (!isUuid(tenantId)) throw notFound('KYB record');
    const k = await this.path.transactions.run(tenantId, (tx) => decideKyb(tx, o.userId, d));
    if (!k) throw notFound('KYB record');
    await this.path.audit(o, 'kyb.decided', 'KybEntity', tenantId, { to: d.to, evidence: d.evidence.length });
    return k;
  }
}

async function schemaOfTenant(em: EntityManager, schemas: string[], tenantId: string): Promise<string> {
  for (const s of schemas) {
    const rows = await em.execute<{ n: number }[]>(`select 1 as n from "${s}".kyb_entity where tenant_id = ? union all select 1 from "${s}".aml_case where tenant_id = ? limit 1`, [tenantId, tenantId]);
    if (rows.length > 0) return s;
  }
  return 'pool';
}
