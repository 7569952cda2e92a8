import type { MikroORM } from '@mikro-orm/postgresql';
import { markAuditAppended } from '../../../lib/audit';
import { TenantDirectory, withTenant } from '../../../lib/db/tenant-context';
import type { JobInfo } from '../../../lib/queue';
import { appendAuditEvent } from '../audit.service';

type AuditJob = {
  /** The fact's id: its outbox id (the job id, or `eventId` when the sweeper enqueued it again under a fresh job id). */
  eventId: string;
  tenantId: string;
  eventType: string;
  actorId: string | null;
  subjectType: string;
  subjectId: string;
  data: Record<string, unknown>;
  occurredAt: string;
};

function parse(job: JobInfo): AuditJob {
  const d = job.data;
  const str = (k: string): string => {
    const v = d[k];
    if (typeof v !== 'string' || v.length === 0) throw new Error(`audit job ${job.id} lacks ${k}`);
    return v;
  };
  const data = d.data;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new Error(`audit job ${job.id} lacks data`);
  return {
    eventId: typeof d.eventId === 'string' && d.eventId.length > 0 ? d.eventId : job.id,
    tenantId: str('tenantId'),
    eventType: str('eventType'),
    actorId: typeof d.actorId === 'string' ? d.actorId : null,
    subjectType: str('subjectType'),
    subjectId: str('subjectId'),
    data: data as Record<string, unknown>,
    occurredAt: str('occurredAt'),
  };
}

/**
 * `audit` queue: appends the fact to the tenant's chain and marks it no longer pending, in one
 * tenant transaction. Idempotent by event id, so a swept duplicate appends nothing.
 */
export function auditProcessor(orm: MikroORM, directory: TenantDirectory) {
  return async (job: JobInfo): Promise<void> => {
    const a = parse(job);
    await withTenant(orm, directory, a.tenantId, async (em) => {
      await appendAuditEvent(em, {
        id: a.eventId,
        tenantId: a.tenantId,
        eventType: a.eventType,
        actorId: a.actorId,
        subjectType: a.subjectType,
        subjectId: a.subjectId,
        payload: a.data,
        occurredAt: new Date(a.occurredAt),
      });
      await markAuditAppended(em, a.eventId);
    });
  };
}
