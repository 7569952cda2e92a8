import type { TenantTx } from '../../../lib/db/tenant-tx';
import { COMPLIANCE_ALERT_CHANNEL, ComplianceAlertRaisedV1, type ComplianceAlertRaisedEvent } from '../../../lib/events';
import { AML_QUEUE } from '../../../lib/events/aml-facts';
import type { EventBus } from '../../../lib/bus';
import type { Alert } from './cases';
import type { SmrClockAlert } from './smr-clock';

/**
 * The officer's live alert feed (#11, `complianceAlerts`): an alert raised by monitoring or by the
 * SMR clock is written as an `aml` outbox job in the transaction that raised it; the relay enqueues
 * it and the aml processor publishes it on the platform channel. Nothing is lost on a crash (the job
 * exists iff the alert does) and nothing reaches the tenant's own channels (tipping off, s123).
 */

export const AML_ALERT_PUBLISH_JOB = 'aml.alert.publish' as const;

export function alertEventOfHit(a: Alert): ComplianceAlertRaisedEvent {
  return {
    __typename: 'ComplianceAlertRaised',
    version: 1,
    id: a.id,
    tenantId: a.tenantId,
    kind: a.rule,
    severity: a.severity,
    summary: a.summary,
    caseId: a.caseId,
    raisedAt: a.at.toISOString(),
    dueAt: null,
  };
}

export function alertEventOfClock(a: SmrClockAlert, raisedAt: Date): ComplianceAlertRaisedEvent {
  return {
    __typename: 'ComplianceAlertRaised',
    version: 1,
    id: `${a.caseId}:${a.level}`,
    tenantId: a.tenantId,
    kind: a.level === 'OVERDUE' ? 'SMR_OVERDUE' : 'SMR_NEAR_DUE',
    severity: a.level === 'OVERDUE' ? 'CRITICAL' : 'HIGH',
    summary: `suspicious matter report ${a.level === 'OVERDUE' ? 'overdue' : 'due soon'}: due ${a.dueAt.toISOString()}`,
    caseId: a.caseId,
    raisedAt: raisedAt.toISOString(),
    dueAt: a.dueAt.toISOString(),
  };
}

/** In the raising transaction: the event as an outbox job (its id, when a uuid, is the job's). */
export async function queueAlertEvent(tx: Pick<TenantTx, 'outbox'>, event: ComplianceAlertRaisedEvent, id?: string): Promise<void> {
  await tx.outbox({ queue: AML_QUEUE, jobName: AML_ALERT_PUBLISH_JOB, payload: event, ...(id ? { id } : {}) });
}

/** The aml processor's side: validate and publish (a bus failure fails the job, which is retried). */
export async function publishAlertEvent(bus: EventBus, payload: unknown): Promise<ComplianceAlertRaisedEvent> {
  const event = ComplianceAlertRaisedV1.parse(payload);
  await bus.publish(COMPLIANCE_ALERT_CHANNEL, event);
  return event;
}
