import type { MikroORM } from '@mikro-orm/postgresql';
import { markAuditAppended, pendingAuditFactsUpTo } from '../../../lib/audit';
import type { TenantDirectory } from '../../../lib/db/tenant-context';
import { TenantTransactions, type TenantTx } from '../../../lib/db/tenant-tx';
import type { JobInfo, JobPayload } from '../../../lib/queue';
import { appendAuditEvent, lockAuditHead, type AppendInput } from '../audit.service';

/** A fact as recorded by lib/audit.ts recordAudit (the outbox payload, and the job data the relay built from it). */
function factOf(id: string, tenantId: string, d: JobPayload): AppendInput {
  const str = (k: string): string => {
    const v = d[k];
    if (typeof v !== 'string' || v.length === 0) throw new Error(`audit fact ${id} lacks ${k}`);
    return v;
  };
  const data = d.data;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new Error(`audit fact ${id} lacks data`);
  return {
    id,
    tenantId,
    eventType: str('eventType'),
    actorId: typeof d.actorId === 'string' ? d.actorId : null,
    subjectType: str('subjectType'),
    subjectId: str('subjectId'),
    payload: data as Record<string, unknown>,
    occurredAt: new Date(str('occurredAt')),
  };
}

/** Pending facts appended per statement while catching up to the job's own fact. */
const BATCH = 500;

async function appendInOccurrenceOrder(tx: TenantTx, own: AppendInput): Promise<void> {
  // The head lock first: facts read after it cannot be appended by another job meanwhile.
  await lockAuditHead(tx.em, tx.tenantId);
  for (;;) {
    const facts = await pendingAuditFactsUpTo(tx.em, own.id, BATCH);
    for (const f of facts) {
      await appendAuditEvent(tx.em, factOf(f.id, tx.tenantId, f.payload));
      await markAuditAppended(tx.em, f.id);
    }
    if (facts.length === 0 || facts.some((f) => f.id === own.id)) break;
  }
  // Already appended (its fact was caught up by an earlier job), or a fact this schema's outbox does
  // not hold (moved tenant): appendAuditEvent is idempotent by id.
  await appendAuditEvent(tx.em, own);
  await markAuditAppended(tx.em, own.id);
}

/**
 * `audit` queue: appends the fact to the tenant's chain and marks it no longer pending, in one
 * tenant transaction. Jobs run concurrently and in any order, so the chain follows the order facts
 * occurred in (the outbox's occurrence sequence), not the order jobs ran: a job first appends every
 * committed pending fact of its tenant that occurred before its own. Idempotent by event id (the
 * outbox id), so a swept duplicate or an already caught-up fact appends nothing.
 */
export function auditProcessor(orm: MikroORM, directory: TenantDirectory) {
  const transactions = new TenantTransactions(orm, directory);
  return async (job: JobInfo): Promise<void> => {
    const d = job.data;
    const tenantId = d.tenantId;
    if (typeof tenantId !== 'string' || tenantId.length === 0) throw new Error(`audit job ${job.id} lacks tenantId`);
    // The fact's id: its outbox id (the job id, or `eventId` when the sweeper enqueued it again under a fresh job id).
    const eventId = typeof d.eventId === 'string' && d.eventId.length > 0 ? d.eventId : job.id;
    const own = factOf(eventId, tenantId, d);
    await transactions.run(tenantId, (tx) => appendInOccurrenceOrder(tx, own));
  };
}
