import type { MikroORM } from '@mikro-orm/postgresql';
import { TenantDirectory, withTenant } from '../lib/db/tenant-context';
import type { JobInfo } from '../lib/queue';
import { appendAuditEvent } from '../subgraphs/compliance/audit.service';

type AuditJob = {
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
    tenantId: str('tenantId'),
    eventType: str('eventType'),
    actorId: typeof d.actorId === 'string' ? d.actorId : null,
    subjectType: str('subjectType'),
    subjectId: str('subjectId'),
    data: data as Record<string, unknown>,
    occurredAt: str('occurredAt'),
  };
}

/** `audit` queue: appends the fact to the tenant's chain, in that tenant's transaction. Idempotent by job id. */
export function auditProcessor(orm: MikroORM, directory: TenantDirectory) {
  return async (job: JobInfo): Promise<void> => {
    const a = parse(job);
    await withTenant(orm, directory, a.tenantId, (em) =>
      appendAuditEvent(em, {
        id: job.id,
        tenantId: a.tenantId,
        eventType: a.eventType,
        actorId: a.actorId,
        subjectType: a.subjectType,
        subjectId: a.subjectId,
        payload: a.data,
        occurredAt: new Date(a.occurredAt),
      }),
    );
  };
}
