import { createHash } from 'node:crypto';
import { Arg, Ctx, Field, ID, InputType, Int, Mutation, ObjectType, Query, Resolver, Root, Subscription, registerEnumType } from 'type-graphql';
import { servedByGateway, type SubgraphContext } from '../../../lib/subgraph';
import { AppError, ErrorCode } from '../../../lib/errors';
import { AudCentsScalar } from '../../../lib/money/scalars';
import { canonicalJson } from '../audit-chain';
import type { ComplianceServices } from '../reports/reports.resolver';
import type { AbrClient } from './abr.client';
import type { Evidence, LegalEntityInput } from './kyb';
import { kybOf, recordLegalEntity } from './kyb.service';
import type { StoredKyb } from './kyb.store';
import type { OperationKind } from './monitoring';
import { loadMonitoringConfig, setMonitoringRule, setMonitoringTimeZone, type EffectiveMonitoringConfig, type MonitoringRuleKey } from './monitoring-config.store';
import type { OfficerPath } from './officer';
import type { CaseView, OfficerService } from './officer.service';
import { fieldsToComplete } from './smr';

/**
 * AML/CTF API (#11). Tenants: `kybStatus`, `recordLegalEntity` (kyb:read / kyb:write through the
 * access gate). The platform's compliance officer (a platform role, OfficerPath): cases across
 * tenants, decisions and the SMR draft; anyone else gets FORBIDDEN and no tenant ever sees an alert.
 */

export type AmlServices = { abr: AbrClient | null; officerPath: OfficerPath; officer: OfficerService };
export type ComplianceAmlServices = ComplianceServices & { aml?: AmlServices };
type Ctx = SubgraphContext<ComplianceAmlServices>;

enum KybStatusGql {
  PENDING = 'PENDING',
  VERIFIED = 'VERIFIED',
  REJECTED = 'REJECTED',
  NEEDS_INFO = 'NEEDS_INFO',
}
registerEnumType(KybStatusGql, { name: 'KybStatus', description: 'Real-exchange trading needs VERIFIED; paper is always open.' });

enum KybEvidenceKindGql {
  ABN_LOOKUP = 'ABN_LOOKUP',
  ASIC_EXTRACT = 'ASIC_EXTRACT',
  TRUST_DEED = 'TRUST_DEED',
  ID_DOCUMENT = 'ID_DOCUMENT',
  ELECTRONIC_VERIFICATION = 'ELECTRONIC_VERIFICATION',
  OTHER = 'OTHER',
}
registerEnumType(KybEvidenceKindGql, { name: 'KybEvidenceKind' });

enum SuspicionGroundGql {
  IDENTITY_NOT_AS_CLAIMED = 'IDENTITY_NOT_AS_CLAIMED',
  TAX_EVASION = 'TAX_EVASION',
  OFFENCE_AGAINST_LAW = 'OFFENCE_AGAINST_LAW',
  PROCEEDS_OF_CRIME = 'PROCEEDS_OF_CRIME',
  MONEY_LAUNDERING = 'MONEY_LAUNDERING',
  TERRORISM_FINANCING = 'TERRORISM_FINANCING',
}
registerEnumType(SuspicionGroundGql, { name: 'SuspicionGround', description: 'The limbs of AML/CTF Act s41(1).' });

enum SmrFormatGql {
  JSON = 'JSON',
  CSV = 'CSV',
}
registerEnumType(SmrFormatGql, { name: 'SmrDraftFormat' });

enum MonitoringRuleGql {
  THRESHOLD = 'THRESHOLD',
  VELOCITY = 'VELOCITY',
  STRUCTURING = 'STRUCTURING',
  SPIKE = 'SPIKE',
  SCREENED_DESTINATION = 'SCREENED_DESTINATION',
  NEW_DESTINATION = 'NEW_DESTINATION',
}
registerEnumType(MonitoringRuleGql, { name: 'MonitoringRule', description: 'The AML transaction monitoring rules (subgraphs/compliance/aml/README.md).' });

enum AmlOperationKindGql {
  REVENUE = 'REVENUE',
  REFUND = 'REFUND',
  PURCHASE = 'PURCHASE',
  SALE = 'SALE',
  WITHDRAWAL = 'WITHDRAWAL',
}
registerEnumType(AmlOperationKindGql, { name: 'AmlOperationKind', description: 'What a monitored operation is.' });

const RULE_KEYS: Record<MonitoringRuleGql, MonitoringRuleKey> = {
  THRESHOLD: 'threshold',
  VELOCITY: 'velocity',
  STRUCTURING: 'structuring',
  SPIKE: 'spike',
  SCREENED_DESTINATION: 'screenedDestination',
  NEW_DESTINATION: 'newDestination',
};

@InputType('MonitoringRuleInput', { description: 'The settings to change; null or absent keeps the current value. A setting the rule does not have is refused.' })
class MonitoringRuleInputGql {
  @Field(() => Boolean, { nullable: true }) enabled?: boolean | null;
  @Field(() => [AmlOperationKindGql], { nullable: true, description: 'THRESHOLD, VELOCITY, STRUCTURING, SPIKE: the kinds the rule watches (not empty).' }) kinds?: AmlOperationKindGql[] | null;
  @Field(() => AudCentsScalar, { nullable: true, description: 'THRESHOLD: an operation of at least this much alerts.' }) amountAudCents?: bigint | null;
  @Field(() => AudCentsScalar, { nullable: true, description: 'STRUCTURING: the threshold being avoided.' }) thresholdAudCents?: bigint | null;
  @Field(() => AudCentsScalar, { nullable: true, description: 'STRUCTURING: the band below the threshold.' }) marginAudCents?: bigint | null;
  @Field(() => AudCentsScalar, { nullable: true, description: 'SPIKE, NEW_DESTINATION: smaller amounts are ignored.' }) minAmountAudCents?: bigint | null;
  @Field(() => Int, { nullable: true, description: 'VELOCITY, STRUCTURING: operations in the window.' }) count?: number | null;
  @Field(() => Int, { nullable: true, description: 'VELOCITY: the window.' }) windowMinutes?: number | null;
  @Field(() => Int, { nullable: true, description: 'STRUCTURING: the window.' }) windowHours?: number | null;
  @Field(() => Int, { nullable: true, description: 'SPIKE: the baseline, in days.' }) baselineDays?: number | null;
  @Field(() => Int, { nullable: true, description: 'SPIKE: today over the daily baseline, in basis points (50000 = 5×).' }) multipleBps?: number | null;
  @Field(() => Int, { nullable: true, description: 'SPIKE: days of history before it applies.' }) minHistoryDays?: number | null;
}

@ObjectType('MonitoringRuleSettings', { description: 'One rule as it runs: the default, or the operator’s setting over it.' })
class MonitoringRuleSettingsGql {
  @Field(() => MonitoringRuleGql) rule!: MonitoringRuleGql;
  @Field(() => Boolean) enabled!: boolean;
  @Field(() => [AmlOperationKindGql], { nullable: true }) kinds!: AmlOperationKindGql[] | null;
  @Field(() => AudCentsScalar, { nullable: true }) amountAudCents!: bigint | null;
  @Field(() => AudCentsScalar, { nullable: true }) thresholdAudCents!: bigint | null;
  @Field(() => AudCentsScalar, { nullable: true }) marginAudCents!: bigint | null;
  @Field(() => AudCentsScalar, { nullable: true }) minAmountAudCents!: bigint | null;
  @Field(() => Int, { nullable: true }) count!: number | null;
  @Field(() => Int, { nullable: true }) windowMinutes!: number | null;
  @Field(() => Int, { nullable: true }) windowHours!: number | null;
  @Field(() => Int, { nullable: true }) baselineDays!: number | null;
  @Field(() => Int, { nullable: true }) multipleBps!: number | null;
  @Field(() => Int, { nullable: true }) minHistoryDays!: number | null;
  @Field(() => Boolean, { description: 'The operator changed it (false: the default).' }) overridden!: boolean;
  @Field(() => ID, { nullable: true }) updatedBy!: string | null;
  @Field(() => Date, { nullable: true }) updatedAt!: Date | null;
}

@ObjectType('MonitoringConfig', { description: 'The AML monitoring rules every tenant’s operations run through.' })
class MonitoringConfigGql {
  @Field(() => String, { description: 'The days of SPIKE are local days of this IANA zone (default Australia/Sydney).' }) timeZone!: string;
  @Field(() => Boolean, { description: 'The operator set the time zone (false: the default).' }) timeZoneOverridden!: boolean;
  @Field(() => [MonitoringRuleSettingsGql]) rules!: MonitoringRuleSettingsGql[];
}

@InputType('KybPersonInput')
class KybPersonInput {
  @Field(() => String, { nullable: true, description: 'Stable id within the record; derived from the name and date of birth when absent.' }) id?: string | null;
  @Field(() => String) fullName!: string;
  @Field(() => String, { nullable: true, description: 'YYYY-MM-DD.' }) dateOfBirth?: string | null;
  @Field(() => String, { nullable: true }) residentialAddress?: string | null;
  @Field(() => String, { nullable: true, description: 'ISO 3166-1 alpha-2.' }) countryOfResidence?: string | null;
}

@InputType('KybBeneficialOwnerInput')
class KybBeneficialOwnerInput extends KybPersonInput {
  @Field(() => Int, { description: 'Ownership in basis points, 0–10000 (25% = 2500).' }) ownershipBps!: number;
  @Field(() => Boolean, { nullable: true, description: 'Controls the entity otherwise than by owning it.' }) controls?: boolean | null;
}

@InputType('LegalEntityInput')
class LegalEntityInputGql {
  @Field(() => String) abn!: string;
  @Field(() => String, { nullable: true }) acn?: string | null;
  @Field(() => String, { nullable: true, description: 'Taken from the register when ABN Lookup is configured.' }) legalName?: string | null;
  @Field(() => String, { nullable: true, description: 'ABR entity type code (PRV, IND, DTT…); from the register when configured.' }) entityTypeCode?: string | null;
  @Field(() => [KybPersonInput], { nullable: true }) directors?: KybPersonInput[] | null;
  @Field(() => [KybBeneficialOwnerInput], { nullable: true }) beneficialOwners?: KybBeneficialOwnerInput[] | null;
  @Field(() => String, { nullable: true }) countryOfIncorporation?: string | null;
  @Field(() => String, { nullable: true }) industry?: string | null;
}

@InputType('KybEvidenceInput')
class KybEvidenceInput {
  @Field(() => KybEvidenceKindGql) kind!: KybEvidenceKindGql;
  @Field(() => String) reference!: string;
  @Field(() => String, { nullable: true }) note?: string | null;
}

@ObjectType('KybPerson')
class KybPersonGql {
  @Field(() => String) id!: string;
  @Field(() => String) fullName!: string;
  @Field(() => Int, { nullable: true, description: 'Beneficial owners only.' }) ownershipBps!: number | null;
  @Field(() => Boolean, { nullable: true, description: 'Owns 25% or more, or controls.' }) isBeneficialOwner!: boolean | null;
}

@ObjectType('KybDecision')
class KybDecisionGql {
  @Field(() => KybStatusGql, { nullable: true }) from!: KybStatusGql | null;
  @Field(() => KybStatusGql) to!: KybStatusGql;
  @Field(() => Date) at!: Date;
  @Field(() => String, { description: 'TENANT, COMPLIANCE_OFFICER or SYSTEM.' }) decidedByRole!: string;
  @Field(() => String) reason!: string;
  @Field(() => Int) evidence!: number;
}

@ObjectType('KybRecord', { description: 'The tenant’s legal entity as recorded for know-your-business.' })
class KybRecordGql {
  @Field(() => ID) tenantId!: string;
  @Field(() => KybStatusGql) status!: KybStatusGql;
  @Field(() => String) abn!: string;
  @Field(() => String, { nullable: true }) acn!: string | null;
  @Field(() => String) legalName!: string;
  @Field(() => String) entityTypeCode!: string;
  @Field(() => String, { description: 'COMPANY, INDIVIDUAL, TRUST, SMSF or OTHER (feeds the tax profile).' }) entityType!: string;
  @Field(() => String, { description: 'ABN_LOOKUP (from the register) or DECLARED.' }) source!: string;
  @Field(() => [KybPersonGql]) directors!: KybPersonGql[];
  @Field(() => [KybPersonGql]) beneficialOwners!: KybPersonGql[];
  @Field(() => [KybDecisionGql]) history!: KybDecisionGql[];
  @Field(() => Date) updatedAt!: Date;
}

@ObjectType('KybReview', { description: 'A KYB record with its risk rating, for the compliance officer.' })
class KybReviewGql {
  @Field(() => KybRecordGql) record!: KybRecordGql;
  @Field(() => String) riskRating!: string;
  @Field(() => Int) riskScore!: number;
  @Field(() => [String]) riskReasons!: string[];
}

@ObjectType('ComplianceAlert')
class ComplianceAlertGql {
  @Field(() => ID) id!: string;
  @Field(() => String) rule!: string;
  @Field(() => String) severity!: string;
  @Field(() => String, { description: 'ALERT or HOLD.' }) action!: string;
  @Field(() => String) operationId!: string;
  @Field(() => Date) at!: Date;
  @Field(() => String) summary!: string;
  @Field(() => String, { description: 'The facts that caused it, canonical JSON (amounts in cents as strings).' }) facts!: string;
}

@ObjectType('ComplianceAlertEvent', { description: 'A live alert for the compliance officer: a monitoring hit, or a case’s SMR clock near due or overdue.' })
class ComplianceAlertEventGql {
  @Field(() => ID, { description: 'The alert’s id (for clock alerts "<caseId>:<level>").' }) id!: string;
  @Field(() => ID) tenantId!: string;
  @Field(() => String, { description: 'The rule (THRESHOLD, VELOCITY, STRUCTURING, SPIKE, SCREENED_DESTINATION, NEW_DESTINATION) or SMR_NEAR_DUE / SMR_OVERDUE.' })
  kind!: string;
  @Field(() => String) severity!: string;
  @Field(() => String, { description: 'The facts in one line.' }) summary!: string;
  @Field(() => ID) caseId!: string;
  @Field(() => Date) raisedAt!: Date;
  @Field(() => Date, { nullable: true, description: 'The SMR deadline, for clock alerts.' }) dueAt!: Date | null;
}

@ObjectType('ComplianceCaseNote')
class ComplianceCaseNoteGql {
  @Field(() => ID) id!: string;
  @Field(() => ID) authorId!: string;
  @Field(() => Date) at!: Date;
  @Field(() => String) body!: string;
}

@ObjectType('SmrDeadline', { description: 'When the suspicious matter report is due (AML/CTF Act s41).' })
class SmrDeadlineGql {
  @Field(() => String, { description: 'THREE_BUSINESS_DAYS or TERRORISM_FINANCING_24_HOURS.' }) basis!: string;
  @Field(() => Date) suspicionFormedAt!: Date;
  @Field(() => Date, { description: 'Report before this instant.' }) dueAt!: Date;
  @Field(() => String, { nullable: true, description: 'The last local day to report (3 business days).' }) lastDay!: string | null;
  @Field(() => [String], { description: 'Days not counted, "YYYY-MM-DD reason".' }) skippedDays!: string[];
  @Field(() => String) state!: string;
  @Field(() => String, { description: 'ON_TRACK, NEAR_DUE, OVERDUE, REPORTED or REPORTED_LATE.' }) status!: string;
}

@ObjectType('ComplianceCase')
class ComplianceCaseGql {
  @Field(() => ID) id!: string;
  @Field(() => ID) tenantId!: string;
  @Field(() => String, { nullable: true }) tenantLegalName!: string | null;
  @Field(() => String, { description: 'OPEN, INVESTIGATING, ESCALATED, REPORTED or CLOSED_NO_SUSPICION.' }) status!: string;
  @Field(() => String) severity!: string;
  @Field(() => Date) openedAt!: Date;
  @Field(() => ID, { nullable: true }) assignedTo!: string | null;
  @Field(() => [ComplianceAlertGql]) alerts!: ComplianceAlertGql[];
  @Field(() => [ComplianceCaseNoteGql]) notes!: ComplianceCaseNoteGql[];
  @Field(() => [SuspicionGroundGql], { nullable: true }) grounds!: SuspicionGroundGql[] | null;
  @Field(() => SmrDeadlineGql, { nullable: true, description: 'Set once escalated.' }) smrDeadline!: SmrDeadlineGql | null;
  @Field(() => String, { nullable: true }) closedReason!: string | null;
  @Field(() => String, { nullable: true }) austracReference!: string | null;
}

@ObjectType('SmrDraftExport')
class SmrDraftExportGql {
  @Field(() => ID) caseId!: string;
  @Field(() => SmrFormatGql) format!: SmrFormatGql;
  @Field(() => Date) dueAt!: Date;
  @Field(() => [String], { description: 'Fields only the officer can complete, "section.field".' }) fieldsToComplete!: string[];
  @Field(() => String, { description: 'The draft, laid out like AUSTRAC’s SMR form.' }) content!: string;
}

const personId = (p: KybPersonInput, role: string): string =>
  p.id?.trim() || `${role}-${createHash('sha256').update(`${p.fullName.trim().toLowerCase()}|${p.dateOfBirth ?? ''}`).digest('hex').slice(0, 16)}`;

function entityInput(i: LegalEntityInputGql): LegalEntityInput {
  const person = (p: KybPersonInput, role: string) => ({
    id: personId(p, role),
    fullName: p.fullName,
    dateOfBirth: p.dateOfBirth ?? null,
    residentialAddress: p.residentialAddress ?? null,
    countryOfResidence: p.countryOfResidence ?? null,
  });
  return {
    abn: i.abn,
    acn: i.acn ?? null,
    legalName: i.legalName ?? '',
    entityTypeCode: i.entityTypeCode ?? '',
    directors: (i.directors ?? []).map((d) => person(d, 'director')),
    beneficialOwners: (i.beneficialOwners ?? []).map((o) => ({ ...person(o, 'owner'), ownershipBps: o.ownershipBps, controls: o.controls === true })),
    ...(i.countryOfIncorporation ? { countryOfIncorporation: i.countryOfIncorporation } : {}),
    ...(i.industry ? { industry: i.industry } : {}),
  };
}

function recordGql(k: StoredKyb): KybRecordGql {
  const e = k.entity;
  return {
    tenantId: k.tenantId,
    status: KybStatusGql[k.verification.status],
    abn: e.abn,
    acn: e.acn,
    legalName: e.legalName,
    entityTypeCode: e.entityTypeCode,
    entityType: e.entityType,
    source: e.source,
    directors: e.directors.map((d) => ({ id: d.id, fullName: d.fullName, ownershipBps: null, isBeneficialOwner: null })),
    beneficialOwners: e.beneficialOwners.map((o) => ({ id: o.id, fullName: o.fullName, ownershipBps: o.ownershipBps, isBeneficialOwner: o.isBeneficialOwner })),
    history: k.verification.history.map((h) => ({
      from: h.from ? KybStatusGql[h.from] : null,
      to: KybStatusGql[h.to],
      at: h.at,
      decidedByRole: h.decidedBy.role,
      reason: h.reason,
      evidence: h.evidence.length,
    })),
    updatedAt: k.updatedAt,
  };
}

function caseGql(c: CaseView): ComplianceCaseGql {
  const e = c.escalation;
  return {
    id: c.id,
    tenantId: c.tenantId,
    tenantLegalName: c.tenantLegalName,
    status: c.status,
    severity: c.severity,
    openedAt: c.openedAt,
    assignedTo: c.assignedTo,
    alerts: c.alerts.map((a) => ({ id: a.id, rule: a.rule, severity: a.severity, action: a.action, operationId: a.operation_id, at: new Date(a.at), summary: a.summary, facts: canonicalJson(a.facts) })),
    notes: c.notes.map((n) => ({ id: n.id, authorId: n.author_id, at: new Date(n.at), body: n.body })),
    grounds: e ? e.grounds.map((g) => SuspicionGroundGql[g]) : null,
    smrDeadline: e
      ? {
          basis: e.deadline.basis,
          suspicionFormedAt: e.deadline.suspicionFormedAt,
          dueAt: e.deadline.dueAt,
          lastDay: e.deadline.lastDay,
          skippedDays: e.deadline.skipped.map((s) => `${s.date} ${s.reason}`),
          state: e.deadline.state,
          status: c.deadlineStatus ?? 'ON_TRACK',
        }
      : null,
    closedReason: c.closure?.reason ?? null,
    austracReference: c.report?.austracReference ?? null,
  };
}

function monitoringConfigGql({ config: c, overrides, timeZone }: EffectiveMonitoringConfig): MonitoringConfigGql {
  const none = {
    kinds: null,
    amountAudCents: null,
    thresholdAudCents: null,
    marginAudCents: null,
    minAmountAudCents: null,
    count: null,
    windowMinutes: null,
    windowHours: null,
    baselineDays: null,
    multipleBps: null,
    minHistoryDays: null,
  };
  const kinds = (k: OperationKind[]): AmlOperationKindGql[] => k.map((x) => AmlOperationKindGql[x]);
  const rule = (r: MonitoringRuleGql, fields: Partial<MonitoringRuleSettingsGql> & { enabled: boolean }): MonitoringRuleSettingsGql => {
    const o = overrides.find((x) => x.rule === RULE_KEYS[r]);
    return { ...none, ...fields, rule: r, overridden: o !== undefined, updatedBy: o?.updatedBy ?? null, updatedAt: o?.updatedAt ?? null };
  };
  return {
    timeZone: c.timeZone,
    timeZoneOverridden: timeZone !== null,
    rules: [
      rule(MonitoringRuleGql.THRESHOLD, { ...c.threshold, kinds: kinds(c.threshold.kinds) }),
      rule(MonitoringRuleGql.VELOCITY, { ...c.velocity, kinds: kinds(c.velocity.kinds) }),
      rule(MonitoringRuleGql.STRUCTURING, { ...c.structuring, kinds: kinds(c.structuring.kinds) }),
      rule(MonitoringRuleGql.SPIKE, { ...c.spike, kinds: kinds(c.spike.kinds) }),
      rule(MonitoringRuleGql.SCREENED_DESTINATION, { ...c.screenedDestination }),
      rule(MonitoringRuleGql.NEW_DESTINATION, { ...c.newDestination }),
    ],
  };
}

function aml(ctx: Ctx): AmlServices {
  const s = ctx.services.aml;
  if (!s) throw new AppError(ErrorCode.INTERNAL_SERVER_ERROR, 'AML services are not configured');
  return s;
}

const EVIDENCE_KINDS = new Set<string>(Object.values(KybEvidenceKindGql));

@Resolver()
export class AmlResolver {
  // ---- the tenant's own KYB record

  @Query(() => KybRecordGql, { nullable: true, description: 'The caller’s tenant’s KYB record; null until recorded.' })
  async kybStatus(@Ctx() ctx: Ctx): Promise<KybRecordGql | null> {
    const scope = ctx.gate.require(ctx, 'kyb:read');
    const k = await scope.tx((tx) => kybOf(tx));
    return k ? recordGql(k) : null;
  }

  @Mutation(() => KybRecordGql, {
    description: 'Records the legal entity (ABN checksum, then ABN Lookup), directors and beneficial owners; starts (or restarts) verification. Bad input writes nothing.',
  })
  async recordLegalEntity(@Ctx() ctx: Ctx, @Arg('input', () => LegalEntityInputGql) input: LegalEntityInputGql): Promise<KybRecordGql> {
    const scope = ctx.gate.require(ctx, 'kyb:write');
    const abr = aml(ctx).abr;
    return recordGql(await scope.tx((tx) => recordLegalEntity(tx, scope.userId, entityInput(input), abr)));
  }

  // ---- the platform's compliance officer

  @Query(() => [KybReviewGql], { description: 'Compliance officer: KYB records across tenants, by status.' })
  async kybReviews(@Ctx() ctx: Ctx, @Arg('status', () => KybStatusGql, { nullable: true }) status?: KybStatusGql | null): Promise<KybReviewGql[]> {
    const s = aml(ctx);
    const o = await s.officerPath.require(ctx);
    return (await s.officer.kybReviews(o, status ?? null)).map((k) => ({
      record: recordGql(k),
      riskRating: k.risk.rating,
      riskScore: k.risk.score,
      riskReasons: k.risk.reasons.map((r) => `${r.factor}: ${r.detail}`),
    }));
  }

  @Mutation(() => KybRecordGql, { description: 'Compliance officer: decide a tenant’s verification (VERIFIED and REJECTED need evidence).' })
  async decideKyb(
    @Ctx() ctx: Ctx,
    @Arg('tenantId', () => ID) tenantId: string,
    @Arg('status', () => KybStatusGql) status: KybStatusGql,
    @Arg('reason', () => String) reason: string,
    @Arg('evidence', () => [KybEvidenceInput], { nullable: true }) evidence?: KybEvidenceInput[] | null,
  ): Promise<KybRecordGql> {
    const s = aml(ctx);
    const o = await s.officerPath.require(ctx);
    const ev: Evidence[] = (evidence ?? []).filter((e) => EVIDENCE_KINDS.has(e.kind)).map((e) => ({ kind: e.kind, reference: e.reference, ...(e.note ? { note: e.note } : {}) }));
    return recordGql(await s.officer.decideKyb(o, tenantId, { to: status, reason, evidence: ev }));
  }

  @Query(() => [ComplianceCaseGql], { description: 'Compliance officer: cases across tenants, newest first (every read audited).' })
  async complianceCases(@Ctx() ctx: Ctx, @Arg('status', () => String, { nullable: true }) status?: string | null): Promise<ComplianceCaseGql[]> {
    const s = aml(ctx);
    const o = await s.officerPath.require(ctx);
    return (await s.officer.listCases(o, status ?? null, new Date())).map(caseGql);
  }

  @Query(() => ComplianceCaseGql, { description: 'Compliance officer: one case.' })
  async complianceCase(@Ctx() ctx: Ctx, @Arg('id', () => ID) id: string): Promise<ComplianceCaseGql> {
    const s = aml(ctx);
    const o = await s.officerPath.require(ctx);
    return caseGql(await s.officer.getCase(o, id, new Date()));
  }

  @Mutation(() => ComplianceCaseGql, { description: 'Compliance officer: take the case (OPEN → INVESTIGATING).' })
  async assignCase(@Ctx() ctx: Ctx, @Arg('caseId', () => ID) caseId: string): Promise<ComplianceCaseGql> {
    const s = aml(ctx);
    return caseGql(await s.officer.assign(await s.officerPath.require(ctx), caseId));
  }

  @Mutation(() => ComplianceCaseGql, { description: 'Compliance officer: add a note to the case.' })
  async noteCase(@Ctx() ctx: Ctx, @Arg('caseId', () => ID) caseId: string, @Arg('note', () => String) note: string): Promise<ComplianceCaseGql> {
    const s = aml(ctx);
    return caseGql(await s.officer.note(await s.officerPath.require(ctx), caseId, note));
  }

  @Mutation(() => ComplianceCaseGql, { description: 'Compliance officer: the suspicion is formed; starts the SMR clock (3 business days, 24 hours for terrorism financing).' })
  async escalateCase(
    @Ctx() ctx: Ctx,
    @Arg('caseId', () => ID) caseId: string,
    @Arg('grounds', () => [SuspicionGroundGql]) grounds: SuspicionGroundGql[],
    @Arg('terrorismFinancing', () => Boolean, { nullable: true }) terrorismFinancing?: boolean | null,
    @Arg('suspicionFormedAt', () => Date, { nullable: true }) suspicionFormedAt?: Date | null,
  ): Promise<ComplianceCaseGql> {
    const s = aml(ctx);
    const o = await s.officerPath.require(ctx);
    return caseGql(await s.officer.escalate(o, caseId, { grounds: grounds, terrorismFinancing: terrorismFinancing === true, suspicionFormedAt: suspicionFormedAt ?? null }));
  }

  @Mutation(() => ComplianceCaseGql, { description: 'Compliance officer: close a case that was not escalated, with the reason.' })
  async closeCase(@Ctx() ctx: Ctx, @Arg('caseId', () => ID) caseId: string, @Arg('reason', () => String) reason: string): Promise<ComplianceCaseGql> {
    const s = aml(ctx);
    return caseGql(await s.officer.close(await s.officerPath.require(ctx), caseId, reason));
  }

  @Mutation(() => ComplianceCaseGql, { description: 'Compliance officer: the SMR was lodged in AUSTRAC Online; records its receipt reference.' })
  async reportCase(@Ctx() ctx: Ctx, @Arg('caseId', () => ID) caseId: string, @Arg('austracReference', () => String) austracReference: string): Promise<ComplianceCaseGql> {
    const s = aml(ctx);
    return caseGql(await s.officer.report(await s.officerPath.require(ctx), caseId, austracReference));
  }

  @Query(() => MonitoringConfigGql, { description: 'Compliance officer: the monitoring rules as they run (defaults and the operator’s settings; the read is audited).' })
  async monitoringConfig(@Ctx() ctx: Ctx): Promise<MonitoringConfigGql> {
    const s = aml(ctx);
    const o = await s.officerPath.require(ctx);
    const effective = await s.officerPath.transactions.run(o.tenantId, async (tx) => {
      const c = await loadMonitoringConfig(tx.em);
      await tx.audit({ eventType: 'aml.officer.read', actorId: o.userId, subjectType: 'AmlMonitoringConfig', subjectId: 'monitoring', data: { overridden: c.overrides.map((x) => x.rule) } });
      return c;
    });
    return monitoringConfigGql(effective);
  }

  @Mutation(() => MonitoringConfigGql, {
    description: 'Compliance officer: change one monitoring rule (audited). Negative amounts, empty windows or kind lists and settings the rule lacks are refused (INVALID_MONITORING_CONFIG) and change nothing.',
  })
  async setMonitoringRule(
    @Ctx() ctx: Ctx,
    @Arg('rule', () => MonitoringRuleGql) rule: MonitoringRuleGql,
    @Arg('settings', () => MonitoringRuleInputGql) settings: MonitoringRuleInputGql,
  ): Promise<MonitoringConfigGql> {
    const s = aml(ctx);
    const o = await s.officerPath.require(ctx);
    const { kinds, ...rest } = settings;
    const patch = { ...rest, kinds: kinds ? kinds.map((k) => k as OperationKind) : null };
    return monitoringConfigGql(await setMonitoringRule(s.officerPath.transactions, o, RULE_KEYS[rule], patch));
  }

  @Mutation(() => MonitoringConfigGql, {
    description: 'Compliance officer: the IANA time zone whose local days the monitoring counts (SPIKE), e.g. Australia/Perth (audited). An unknown zone is refused (INVALID_MONITORING_CONFIG) and changes nothing.',
  })
  async setMonitoringTimeZone(@Ctx() ctx: Ctx, @Arg('timeZone', () => String) timeZone: string): Promise<MonitoringConfigGql> {
    const s = aml(ctx);
    const o = await s.officerPath.require(ctx);
    return monitoringConfigGql(await setMonitoringTimeZone(s.officerPath.transactions, o, timeZone));
  }

  @Subscription(() => ComplianceAlertEventGql, {
    name: 'complianceAlerts',
    description: 'Compliance officer: alerts of every tenant as they are raised (monitoring hits, SMR clocks near due or overdue). Refused to tenant users and API keys.',
    subscribe: servedByGateway,
  })
  complianceAlerts(@Root() event: ComplianceAlertEventGql): ComplianceAlertEventGql {
    return event;
  }

  @Mutation(() => Boolean, {
    description: 'Compliance officer: the gateway asks this when the officer subscribes to complianceAlerts; the start is recorded in the platform’s audit chain. FORBIDDEN for anyone else.',
  })
  async startComplianceAlertFeed(@Ctx() ctx: Ctx): Promise<boolean> {
    const s = aml(ctx);
    const o = await s.officerPath.require(ctx);
    await s.officerPath.audit(o, 'aml.officer.subscribe', 'ComplianceAlertFeed', 'complianceAlerts', {});
    return true;
  }

  @Query(() => Boolean, {
    description: 'Compliance officer: true while the caller holds the platform role (the gateway asks it again for open complianceAlerts feeds). FORBIDDEN for anyone else.',
  })
  async complianceOfficerActive(@Ctx() ctx: Ctx): Promise<boolean> {
    await aml(ctx).officerPath.require(ctx);
    return true;
  }

  @Query(() => SmrDraftExportGql, { description: 'Compliance officer: the SMR draft of an escalated case, as JSON or CSV (the export is audited).' })
  async smrDraft(@Ctx() ctx: Ctx, @Arg('caseId', () => ID) caseId: string, @Arg('format', () => SmrFormatGql, { nullable: true }) format?: SmrFormatGql | null): Promise<SmrDraftExportGql> {
    const s = aml(ctx);
    const o = await s.officerPath.require(ctx);
    const f = format ?? SmrFormatGql.JSON;
    const { draft, text } = await s.officer.smrDraft(o, caseId, f, new Date());
    return { caseId: draft.caseId, format: f, dueAt: new Date(draft.dueAt), fieldsToComplete: fieldsToComplete(draft), content: text };
  }
}
