import type { EntityManager } from '@mikro-orm/postgresql';
import { addToOutbox } from './outbox';
import type { JobPayload } from './queue';

/** One fact for the tenant's audit chain. `data` must be JSON (bigints as strings). */
export type AuditRecord = {
  eventType: string;
  actorId: string | null;
  subjectType: string;
  subjectId: string;
  data: Record<string, unknown>;
};

/**
 * Records an audit fact in the caller's transaction (via the outbox): it reaches the compliance
 * chain if and only if the change commits. Returns the audit event id.
 */
export async function recordAudit(em: EntityManager, rec: AuditRecord): Promise<string> {
  return addToOutbox(em, {
    queue: 'audit',
    jobName: 'append',
    payload: { ...rec, occurredAt: new Date().toISOString() },
  });
}

/** An audit fact still pending: its event id (the outbox id) and the job payload it was published with. */
export type PendingAuditFact = { id: string; payload: JobPayload };

/**
 * Audit facts of the current tenant published more than `olderThanMs` ago and not in the chain
 * yet: their job may be lost (failed after stalling, Redis emptied, a process died), so the
 * workers' sweeper enqueues them again. Reads the partial index of pending facts only.
 */
export async function pendingAuditFacts(em: EntityManager, olderThanMs: number, limit = 500): Promise<PendingAuditFact[]> {
  return em.execute<PendingAuditFact[]>(
    `select id, payload from outbox where queue = 'audit' and appended_at is null
     and published_at < now() - (? * interval '1 millisecond') order by published_at limit ?`,
    [olderThanMs, limit],
  );
}

/** In the append's own transaction: the fact is in the chain, so it is no longer pending. */
export async function markAuditAppended(em: EntityManager, eventId: string): Promise<void> {
  await em.execute(`update outbox set appended_at = coalesce(appended_at, now()) where id = ? and queue = 'audit'`, [eventId]);
}

/** A pending fact as the appender reads it back from the outbox, in occurrence order. */
export type OutboxAuditFact = { id: string; payload: JobPayload };

/**
 * The current tenant's committed facts not in the chain yet that occurred no later than `eventId`
 * (by the outbox's occurrence sequence), oldest occurrence first, at most `limit`; empty when
 * `eventId` is not a pending fact of this tenant. Rows written before occurrences existed sort first.
 */
export async function pendingAuditFactsUpTo(em: EntityManager, eventId: string, limit = 500): Promise<OutboxAuditFact[]> {
  return em.execute<OutboxAuditFact[]>(
    `select o.id, o.payload from outbox o
       join outbox me on me.id = ? and me.queue = 'audit' and me.tenant_id = o.tenant_id
      where o.queue = 'audit' and o.appended_at is null and me.appended_at is null
        and coalesce(o.occurrence, 0) <= coalesce(me.occurrence, 0)
      order by coalesce(o.occurrence, 0), o.created_at, o.id
      limit ?`,
    [eventId, limit],
  );
}
